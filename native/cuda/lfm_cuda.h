/* SPDX-License-Identifier: MIT
 * The C interface of the CUDA backend library (liblfm2_cuda.so / lfm2_cuda.dll).
 *
 * The addon never links this library: it finds a CUDA device through the driver (cuda_loader.cpp),
 * then opens the library with dlopen / LoadLibrary and resolves these symbols. Plain C types only,
 * so the two sides may be built by different compilers. Every function returns 0 on success or a
 * status code of native/core/status.h (StatusCode), with a message written into err[err_len];
 * none aborts, none throws.
 *
 * Model: the caller describes the weights as host pointers (the mapped GGUF file) and the backend
 * uploads them once. Sequences: device buffers for the conv state and the KV cache; the caller
 * keeps each sequence's length. A forward pass evaluates segments of several sequences at once.
 */
#ifndef LFM_CUDA_H_
#define LFM_CUDA_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define LFM_CUDA_API __declspec(dllexport)
#else
#define LFM_CUDA_API __attribute__((visibility("default")))
#endif

/* Bumped whenever a struct or a signature below changes; the loader refuses a mismatch. */
#define LFM_CUDA_ABI_VERSION 3

typedef struct lfm_cuda_model lfm_cuda_model;
typedef struct lfm_cuda_seq lfm_cuda_seq;

typedef struct {
  char name[256];
  int cc_major, cc_minor;       /* compute capability */
  uint64_t total_memory;        /* bytes */
  uint64_t free_memory;         /* bytes, at the time of the call */
  int multiprocessors;
  int runtime_version;          /* CUDA runtime the library was built with (e.g. 13000) */
  int driver_version;           /* what the driver supports */
} lfm_cuda_device_info;

/* One weight matrix or a stack of n_mats (experts), row-major by output row, ggml storage type. */
typedef struct {
  const void* data;             /* host; NULL when absent */
  uint32_t type;                /* GgmlType id */
  int64_t n_rows, n_cols;
  int64_t row_bytes;
  int64_t n_mats;               /* 1, or the expert count */
} lfm_cuda_matrix;

typedef struct {
  int is_attention;             /* 0: gated short convolution, 1: GQA attention */
  int is_moe;                   /* FFN: 0 dense SwiGLU, 1 mixture of experts */
  int64_t n_kv_heads;           /* attention layers */
  const float* attn_norm;       /* [D] */
  const float* ffn_norm;        /* [D] */
  lfm_cuda_matrix conv_in;      /* [3D, D] rows B, C, x */
  const float* conv_w;          /* [D, L] tap L-1 = current token */
  lfm_cuda_matrix conv_out;     /* [D, D] */
  lfm_cuda_matrix wq, wk, wv;   /* [Hq*Dh, D], [Hkv*Dh, D] x 2 */
  lfm_cuda_matrix wo;           /* [D, Hq*Dh] */
  const float* q_norm;          /* [Dh] */
  const float* k_norm;          /* [Dh] */
  lfm_cuda_matrix ffn_gate, ffn_up, ffn_down;  /* dense: [F, D], [F, D], [D, F] */
  const float* router;          /* MoE: [E, D] */
  const float* expert_bias;     /* MoE: [E], selection only */
  lfm_cuda_matrix exp_gate, exp_up, exp_down;  /* MoE: E x [Fe, D], E x [Fe, D], E x [D, Fe] */
} lfm_cuda_layer;

typedef struct {
  int64_t n_vocab, n_embd, n_layers, n_heads, head_dim, conv_l;
  int64_t n_experts, n_experts_used, expert_ffn_dim;
  float norm_eps, rope_theta, expert_scale;
  const lfm_cuda_layer* layers; /* [n_layers] */
  lfm_cuda_matrix token_embd;   /* [V, D] */
  lfm_cuda_matrix output;       /* [V, D] (the embedding when tied) */
  const float* output_norm;     /* [D] */
  int64_t max_batch_tokens;     /* most tokens one forward pass takes (scratch sizing) */
  /* Optional (NULL: none): called on the creating thread as the upload advances, after each layer
   * and after the embedding and output matrices, with the weight-matrix bytes uploaded so far and
   * their total (the small f32 vectors are not counted); the last call has done == total. */
  void (*on_upload)(void* user, uint64_t done, uint64_t total);
  void* on_upload_user;
} lfm_cuda_model_desc;

/* Sampling on the device, per output row (temperature <= 0: greedy argmax, ties to the lowest id).
 * Otherwise as lib/sampling.ts: top-k (0 = all) -> softmax at the temperature -> top-p -> min-p
 * -> draw with u, a uniform number in [0, 1) chosen by the caller. */
typedef struct {
  float temperature;
  int32_t top_k;
  float top_p;
  float min_p;
  float u;
} lfm_cuda_sampler;

LFM_CUDA_API int lfm_cuda_abi_version(void);

/* Number of devices the runtime sees (0 when none); never fails. */
LFM_CUDA_API int lfm_cuda_device_count(void);
LFM_CUDA_API int lfm_cuda_get_device_info(int device, lfm_cuda_device_info* out, char* err, size_t err_len);

/* Uploads the weights. Types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K. */
LFM_CUDA_API int lfm_cuda_model_create(int device, const lfm_cuda_model_desc* desc, lfm_cuda_model** out,
                                       char* err, size_t err_len);
LFM_CUDA_API void lfm_cuda_model_free(lfm_cuda_model* model);
/* Device memory the weights take, bytes. */
LFM_CUDA_API uint64_t lfm_cuda_model_bytes(const lfm_cuda_model* model);

/* A sequence of up to n_ctx tokens: zeroed conv state and an empty KV cache (f32). */
LFM_CUDA_API int lfm_cuda_seq_create(lfm_cuda_model* model, int64_t n_ctx, lfm_cuda_seq** out, char* err,
                                     size_t err_len);
LFM_CUDA_API void lfm_cuda_seq_free(lfm_cuda_seq* seq);
/* Zeroes the conv state (the KV cache needs nothing: positions restart at 0). */
LFM_CUDA_API int lfm_cuda_seq_reset(lfm_cuda_seq* seq, char* err, size_t err_len);
LFM_CUDA_API uint64_t lfm_cuda_seq_bytes(const lfm_cuda_seq* seq);

/* A sequence's state to / from host memory, in the addon's exported layout (native/models/lfm2.h,
 * above Lfm2State), so the same bytes serve the CPU and the GPU:
 *   conv: every conv layer in layer order, [(conv_l - 1), n_embd] f32 each (row 0 the oldest);
 *   kv:   every attention layer in layer order, K rows [0, n_tokens) then V rows [0, n_tokens),
 *         [n_tokens, n_kv_heads * head_dim] f32 each.
 * A NULL pointer skips its part. 0 <= n_tokens <= the sequence's n_ctx; the caller keeps
 * forward passes of this sequence out meanwhile (passes of other sequences may run). */
LFM_CUDA_API int lfm_cuda_seq_read_state(lfm_cuda_seq* seq, int64_t n_tokens, float* conv_out, float* kv_out,
                                         char* err, size_t err_len);
LFM_CUDA_API int lfm_cuda_seq_write_state(lfm_cuda_seq* seq, int64_t n_tokens, const float* conv, const float* kv,
                                          char* err, size_t err_len);

/* One forward pass over n_seq segments. Segment s appends n_tok[s] tokens (tokens concatenated
 * in segment order) to seqs[s] at positions pos0[s], pos0[s] + 1, ...; a sequence appears at most
 * once. The caller has checked the ids and the context sizes. Sum of n_tok <= max_batch_tokens.
 * Outputs for the batch rows out_rows[0..n_out) (indices into the concatenated tokens):
 *   logits != NULL: logits[i * n_vocab ...] for row out_rows[i];
 *   samplers != NULL: tokens_out[i] sampled from that row with samplers[i] (logits may be NULL).
 * Runs synchronously on the calling thread; one pass per model at a time. */
LFM_CUDA_API int lfm_cuda_forward(lfm_cuda_model* model, int n_seq, lfm_cuda_seq* const* seqs, const int64_t* pos0,
                                  const int32_t* n_tok, const int32_t* tokens, int n_out, const int32_t* out_rows,
                                  float* logits, const lfm_cuda_sampler* samplers, int32_t* tokens_out, char* err,
                                  size_t err_len);

/* Test hook: runs one kernel on host buffers (uploads, runs, downloads). `op` names the kernel;
 * ints / floats / inputs are op-specific (native/cuda/backend/test_ops_*.cu document them). */
typedef struct {
  const char* op;
  const int64_t* ints;
  int n_ints;
  const double* floats;
  int n_floats;
  const void* const* inputs;
  const size_t* input_bytes;
  int n_inputs;
  void* output;
  size_t output_bytes;
  void* output2;                /* second result (an updated state), or NULL */
  size_t output2_bytes;
} lfm_cuda_kernel_call;

LFM_CUDA_API int lfm_cuda_run_kernel(const lfm_cuda_kernel_call* call, char* err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* LFM_CUDA_H_ */
