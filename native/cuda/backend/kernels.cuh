// SPDX-License-Identifier: MIT
// Launchers of the CUDA kernels, one .cu file per family. Each launcher checks its arguments,
// enqueues its kernels on `stream` and returns cudaSuccess or the error (launch failure, bad
// argument as cudaErrorInvalidValue); none synchronises, allocates or aborts, so a forward pass
// can be captured into a CUDA graph. All pointers are device pointers unless named *_host.
//
// Shape letters as in native/models/lfm2.h: T rows of the batch (tokens of all segments), D
// hidden, V vocabulary, Hq / Hkv heads, Dh head dim, E experts, K experts per token, L conv width.
//
// A batch is a list of segments (one per sequence): segment s owns rows
// [seq_row0[s], seq_row0[s + 1]) of every activation matrix; row t is at position row_pos[t] of
// sequence row_seq[t]. Per-sequence buffers of one layer come as device arrays of pointers
// indexed by segment.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace lfm::cuda {

// A weight matrix, or a stack of n_mats (experts), uploaded as stored in the GGUF file.
// type is the GgmlType id (native/core/ggml_types.h); rows are output rows.
struct DevMatrix {
  const uint8_t* data = nullptr;
  uint32_t type = 0;
  int64_t n_rows = 0, n_cols = 0;
  int64_t row_bytes = 0;
  int64_t n_mats = 1;
  int64_t mat_bytes = 0;  // n_rows * row_bytes
};

// Scratch a launcher may use (bytes from *_workspace_bytes); owned by the caller.
struct Workspace {
  void* ptr = nullptr;
  size_t bytes = 0;
};

// --- matmul.cu: products with weights of every supported type
// (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K).

bool matmul_supports(uint32_t type);

// y[t * ldy + r] = sum_c W[mat][r, c] * x[t * ldx + c] for all rows r and t < n_tok.
// Small n_tok (decode) reads each weight once with on-the-fly dequantisation; larger n_tok
// uses a tiled product. Accumulation is f32 at least; results match the CPU scalar kernels to
// f32 rounding (no rounding of the activations to 16 or 8 bits).
cudaError_t matmul(const DevMatrix& w, int64_t mat, const float* x, int64_t ldx, int64_t n_tok, float* y,
                   int64_t ldy, const Workspace& ws, cudaStream_t stream);
size_t matmul_workspace_bytes(const DevMatrix& w, int64_t n_tok);

// Grouped expert products: rows of x are grouped by expert, rows [offsets[e], offsets[e + 1])
// (offsets: device int32 [n_mats + 1], offsets[0] = 0) use matrix e:
//   y[r * ldy + o] = sum_c W[e][o, c] * x[r * ldx + c].
// max_rows is a host-side upper bound of offsets[n_mats] (grid sizing); the true counts are
// read on the device, so no host synchronisation is needed.
cudaError_t matmul_grouped(const DevMatrix& w, const int32_t* offsets, const float* x, int64_t ldx,
                           int64_t max_rows, float* y, int64_t ldy, const Workspace& ws, cudaStream_t stream);
size_t matmul_grouped_workspace_bytes(const DevMatrix& w, int64_t max_rows);

// --- embed.cu

// x[t * D + i] = dequant(emb row tokens[t])[i], D = emb.n_cols.
cudaError_t embed(float* x, const DevMatrix& emb, const int32_t* tokens, int64_t n_tok, cudaStream_t stream);

// --- norm.cu: RMSNorm and elementwise ops

// y[t * ldy + i] = w[i] * x[t * ldx + i] / sqrt(mean_i(x_t^2) + eps), i < n, t < rows. y may be x.
cudaError_t rmsnorm(float* y, int64_t ldy, const float* x, int64_t ldx, const float* w, int64_t n, int64_t rows,
                    float eps, cudaStream_t stream);
// x[i] += y[i], i < n
cudaError_t add_inplace(float* x, const float* y, int64_t n, cudaStream_t stream);
// y[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)); y may alias gate or up.
cudaError_t swiglu(float* y, const float* gate, const float* up, int64_t n, cudaStream_t stream);

// --- conv.cu: gated short convolution over a batch of segments

// bcx [T, ld_bcx]: B at column c, C at D + c, x at 2D + c. For each segment s and channel c,
// over its rows in order: bx = B * x; conv = sum_{k<L} w[c * L + k] * win[k] with win = the
// L - 1 state rows (oldest first) then bx; y[t * ldy + c] = C * conv. states[s] -> [(L-1)][D]
// (row 0 oldest) is updated to the last L - 1 bx values (older rows kept when the segment is
// shorter than L - 1). 2 <= L <= 8. As the CPU kernel short_conv_f32 (cpu/dispatch.h).
cudaError_t short_conv(float* y, int64_t ldy, float* const* states, const float* bcx, int64_t ld_bcx,
                       const float* w, int64_t D, int64_t L, const int32_t* seq_row0, int32_t n_seq,
                       int64_t T, cudaStream_t stream);

// --- attention.cu: GQA with per-head QK RMSNorm, NEOX RoPE and an f32 KV cache

// In place on q [T, Hq*Dh] and k [T, Hkv*Dh]: RMSNorm of every head (weights q_norm / k_norm
// [Dh], eps), then NEOX RoPE at position row_pos[t]: pairs (j, j + Dh/2) rotate by angle
// pos * theta^(-2j/Dh), computed in double and rounded to float as the CPU does. Then k and v
// rows are stored into the caches of their sequence: k_cache[row_seq[t]] + row_pos[t] * Hkv*Dh.
cudaError_t qk_norm_rope_store(float* q, float* k, const float* v, const float* q_norm, const float* k_norm,
                               int64_t T, int64_t Hq, int64_t Hkv, int64_t Dh, float eps, float theta,
                               const int32_t* row_seq, const int32_t* row_pos, float* const* k_cache,
                               float* const* v_cache, cudaStream_t stream);

// out [T, Hq*Dh]: query head h of row t attends over positions [0, row_pos[t]] of its
// sequence's cache (causal), kv head h / (Hq / Hkv); softmax(scale * q.k) weights of v.
// max_keys: host upper bound of row_pos[t] + 1 (sizes the split over the keys for long
// contexts); ws from attention_workspace_bytes. Decode rows (one per sequence) and prefill
// segments (flash-style tiles) both go through here.
cudaError_t attention(float* out, const float* q, int64_t T, int64_t Hq, int64_t Hkv, int64_t Dh, float scale,
                      const int32_t* row_seq, const int32_t* row_pos, const float* const* k_cache,
                      const float* const* v_cache, int64_t max_keys, const Workspace& ws, cudaStream_t stream);
size_t attention_workspace_bytes(int64_t T, int64_t Hq, int64_t Dh, int64_t max_keys);

// --- moe.cu: routing and expert dispatch

// Device buffers of one routing (sizes for T tokens).
struct MoeRouting {
  int32_t* sel;       // [T * K] selected experts of token t, in selection order
  float* sel_w;       // [T * K] their weights
  int32_t* offsets;   // [E + 1] grouped rows of expert e: [offsets[e], offsets[e + 1])
  int32_t* rows;      // [T * K] token of each grouped row
  int32_t* slot;      // [T * K] grouped row of token t's k-th expert, k in ascending expert order
  float* slot_w;      // [T * K] weight of that grouped row
};
// Bytes of the workspace moe_route needs for T tokens (its own scratch; the MoeRouting arrays
// above are allocated by the caller, sized as commented).
size_t moe_routing_workspace_bytes(int64_t T, int64_t E, int64_t K);

// logits [T, E] (router product, f32). As the CPU (lfm2.cpp moe_ffn): p = sigmoid(logit)
// (in double); pick K experts by the largest p + bias[e] (ties: lowest e); weights p / (sum of
// the K p + 1e-6) * scale; then group: count per expert, offsets (prefix sum), rows in token
// order within each expert, slot / slot_w for the combine.
cudaError_t moe_route(const MoeRouting& r, const float* logits, const float* bias, int64_t T, int64_t E,
                      int64_t K, float scale, const Workspace& ws, cudaStream_t stream);
// xe[r * D + i] = u[rows[r] * D + i], r < T * K
cudaError_t moe_gather(float* xe, const float* u, int64_t D, const int32_t* rows, int64_t R, cudaStream_t stream);
// out[t * D + i] = sum over k (ascending expert order) of slot_w[t*K+k] * ye[slot[t*K+k] * D + i]
cudaError_t moe_combine(float* out, const float* ye, int64_t D, const int32_t* slot, const float* slot_w,
                        int64_t T, int64_t K, cudaStream_t stream);

// --- sampling.cu

// Per-row sampler parameters (lfm_cuda_sampler of lfm_cuda.h, the same layout).
struct Sampler {
  float temperature;
  int32_t top_k;
  float top_p;
  float min_p;
  float u;
};
// tokens[i] = a token drawn from logits row i (rows [n_rows, V]) with params[i] (device array),
// as lib/sampling.ts sampleToken does with rng() = u: temperature <= 0 is argmax (lowest index on
// ties); else top-k (0 = all; candidates ordered by logit descending, ties lower index first),
// probabilities exp((l - max) / temperature) summed in double, top-p prefix, min-p floor relative
// to the best candidate, then the draw r = u * total walks the candidates in order.
cudaError_t sample(int32_t* tokens, const float* logits, int64_t V, int64_t n_rows, const Sampler* params,
                   const Workspace& ws, cudaStream_t stream);
size_t sample_workspace_bytes(int64_t V, int64_t n_rows);

}  // namespace lfm::cuda
