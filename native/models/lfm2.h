// SPDX-License-Identifier: MIT
// The LFM2 family (dense `lfm2` and sparse `lfm2moe`): config, weight views, per-sequence state
// and the forward pass. One file pair for the whole family; MoE is a config flag.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/gguf.h"
#include "../core/status.h"
#include "../core/thread_pool.h"
#include "../cpu/dispatch.h"

namespace lfm {

namespace cuda {
class CudaModel;
class CudaSeq;
}  // namespace cuda

// Shape letters used in comments here and in lfm2.cpp:
//   T tokens in a batch, P past tokens, C context size, D hidden (n_embd), V vocabulary,
//   Hq / Hkv query / key-value heads, Dh head dim, F dense FFN width, Fe expert FFN width,
//   E experts, K experts per token, L conv width (conv_L_cache).
//
// Glossary: field -> HF config.json key -> GGUF key ({arch} = lfm2 | lfm2moe)
//   n_vocab        vocab_size               {arch}.vocab_size / tokenizer.ggml.tokens length
//   n_embd         hidden_size              {arch}.embedding_length
//   n_layers       num_hidden_layers        {arch}.block_count
//   n_heads        num_attention_heads      {arch}.attention.head_count
//   n_kv_heads[l]  num_key_value_heads      {arch}.attention.head_count_kv (array; 0 = conv layer)
//   head_dim       hidden_size / heads      (derived)
//   conv_l         conv_L_cache             {arch}.shortconv.l_cache
//   norm_eps       norm_eps                 {arch}.attention.layer_norm_rms_epsilon
//   rope_theta     rope_theta               {arch}.rope.freq_base
//   n_experts      num_experts              lfm2moe.expert_count
//   n_experts_used num_experts_per_tok      lfm2moe.expert_used_count
//   expert_ffn_dim moe_intermediate_size    lfm2moe.expert_feed_forward_length
//   n_dense_lead   num_dense_layers         lfm2moe.leading_dense_block_count
//   expert_scale   routed_scaling_factor    lfm2moe.expert_weights_scale (optional)
//   ffn widths are taken from tensor shapes, never from a formula.

enum class LayerKind { kConv, kAttention };

struct Lfm2Config {
  std::string arch;          // "lfm2" | "lfm2moe"
  std::string name;          // general.name (may be empty)
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t head_dim = 0;
  int64_t context_length = 0;
  int64_t conv_l = 3;
  float norm_eps = 1e-5f;
  float rope_theta = 1e6f;
  int64_t n_experts = 0;       // 0 for dense models
  int64_t n_experts_used = 0;
  int64_t expert_ffn_dim = 0;
  int64_t n_dense_lead = 0;    // layers < n_dense_lead use the dense FFN (all layers for lfm2)
  float expert_scale = 1.0f;
  std::vector<LayerKind> layer_kinds;  // [n_layers]
  std::vector<int64_t> n_kv_heads;     // [n_layers], 0 for conv layers
  std::vector<int64_t> ffn_dim;        // [n_layers], dense width (0 for MoE layers)
  int32_t bos_id = 1, eos_id = 7;

  bool is_moe_layer(int64_t il) const { return n_experts > 0 && il >= n_dense_lead; }
};

// A view of one weight matrix (or a stack of E matrices) inside the mapped file.
// Rows are the output dimension: W [n_rows, n_cols] = ggml {n_cols, n_rows}.
struct MatrixRef {
  const uint8_t* data = nullptr;
  GgmlType type = GgmlType::kF32;
  int64_t n_rows = 0, n_cols = 0;
  int64_t row_bytes = 0;       // bytes per row
  int64_t n_mats = 1;          // experts stacked along ggml ne[2]
  int64_t mat_bytes = 0;       // bytes per matrix = n_rows * row_bytes
  const uint8_t* mat(int64_t e) const { return data + e * mat_bytes; }
};

struct Lfm2LayerWeights {
  LayerKind kind = LayerKind::kConv;
  std::vector<float> attn_norm;   // [D]   operator_norm
  std::vector<float> ffn_norm;    // [D]
  // conv layer
  MatrixRef conv_in;              // [3D, D] rows B, C, x (in_proj)
  std::vector<float> conv_w;      // [D, L] depthwise kernel, tap L-1 = current token
  MatrixRef conv_out;             // [D, D]
  // attention layer
  MatrixRef wq;                   // [Hq*Dh, D]
  MatrixRef wk, wv;               // [Hkv*Dh, D]
  MatrixRef wo;                   // [D, Hq*Dh]   (HF out_proj)
  std::vector<float> q_norm;      // [Dh]
  std::vector<float> k_norm;      // [Dh]
  // dense FFN (w1 = gate, w3 = up, w2 = down)
  MatrixRef ffn_gate, ffn_up;     // [F, D]
  MatrixRef ffn_down;             // [D, F]
  // MoE FFN
  std::vector<float> router;      // [E, D]  ffn_gate_inp, f32
  std::vector<float> expert_bias; // [E]     exp_probs_b, selection only
  MatrixRef exp_gate, exp_up;     // E x [Fe, D]
  MatrixRef exp_down;             // E x [D, Fe]
};

struct Lfm2Weights {
  MatrixRef token_embd;           // [V, D]
  MatrixRef output;               // [V, D] (= token_embd when tied)
  std::vector<float> output_norm; // [D]  token_embd_norm (final norm)
  std::vector<Lfm2LayerWeights> layers;
};

// Per-sequence state: everything that makes one token stream independent of another.
// Conv-state convention: for each conv layer, conv[l] holds the last L-1 = 2 values of
// Bx = B * x (after the B gate, before the convolution and the C gate), as rows [L-1][D] with
// row 0 the OLDEST; the current token is NOT included (it joins the window when evaluated).
// Zero at sequence start. This is llama.cpp's convention (its {d_conv, D} state), transposed
// so that channels are contiguous.
// KV cache: for each attention layer, k[l] and v[l] are [C][Hkv*Dh] f32 rows by position
// (K after QK-norm and RoPE). f32 keeps the cache exact (llama.cpp defaults to f16).
// On a model running on the GPU, conv / k / v stay empty and `gpu` holds the device buffers.
//
// Exported state (Lfm2Model::export_state; the same bytes on the CPU and the GPU), host byte
// order (little-endian on every supported platform):
//   offset  0  char[8]  "LFM2STAT"
//           8  u32      format version (1)
//          12  u32      header bytes (64)
//          16  u64      shape fingerprint: FNV-1a 64 over the int64s n_layers, n_embd, conv_l,
//                       head_dim, then n_kv_heads[l] of every layer (0 for conv layers)
//          24  i64      n_layers
//          32  i64      n_embd
//          40  i64      conv_l
//          48  i64      length (tokens, P)
//          56  u64      payload bytes
//          64  f32      conv state: every conv layer in layer order, [L-1, D] (row 0 the oldest)
//              f32      then every attention layer in layer order: K rows [P, Hkv*Dh], then V rows
// The conv part alone is what conv_state() copies. Sizes scale with P, not with the context.
struct Lfm2State {
  Lfm2State();
  ~Lfm2State();
  int64_t n_ctx = 0;
  int64_t n_past = 0;                     // tokens evaluated so far = next position
  std::vector<std::vector<float>> conv;   // [n_layers] -> [(L-1) * D] (empty for attention layers)
  std::vector<std::vector<float>> k, v;   // [n_layers] -> [C * Hkv*Dh] (empty for conv layers)
  std::unique_ptr<cuda::CudaSeq> gpu;     // the device state (GPU models only)
  Status reset();                         // fails only on a device error
  size_t bytes() const;                   // host and device bytes
};

struct Lfm2LoadOptions {
  int n_threads = 0;                 // 0 = physical cores
  cpu::Isa isa = cpu::Isa::kScalar;  // kernel table to use (validated by the caller)
  // Activations entering the products of quantized weights (dispatch.h, QuantActs): kQ16 rounds
  // them to 16 bits per 128-column group for the integer kernels, kQ8 to 8 bits per 32 (llama.cpp's
  // precision, half the integer work), kF32 keeps them exact (f32 kernels). Where the ISA has
  // no integer kernel for a type, that type's products use f32 whatever the mode.
  enum class Activations { kQ16, kQ8, kF32 };
  Activations activations = Activations::kQ16;
  // Serve the weights from the file mapping (page cache) instead of reading them into memory
  // on 2 MiB pages (GgufOpenOptions::read_into_memory).
  bool use_mmap = false;
  // kCpu: the CPU kernels. kCuda: the GPU through the CUDA backend, or kDeviceUnavailable /
  // the backend's error. kAuto: the GPU when cuda::probe() finds one and the model fits, else
  // the CPU (device_fallback() says why, when a GPU was there). GPU models read the weights
  // from the file mapping for the upload only.
  enum class Device { kAuto, kCpu, kCuda };
  Device device = Device::kCpu;
  // Called from loading threads (possibly several at once) with the fraction done, in [0, 1),
  // at most once per percent: of the file read into memory (CPU), or of the weights uploaded
  // (GPU, per layer); never called when nothing is copied (useMmap on the CPU). A GPU load
  // that falls back to the CPU (kAuto) reports its read from 0 again.
  std::function<void(double)> progress;
};

class Lfm2Model {
 public:
  static Status load(const std::string& path, const Lfm2LoadOptions& opts,
                     std::unique_ptr<Lfm2Model>* out);
  ~Lfm2Model();

  const Lfm2Config& config() const { return cfg_; }
  const GgufFile& gguf() const { return *file_; }
  int n_threads() const { return pool_->size(); }
  const char* isa_name() const { return kernels_->isa; }
  // "cuda" when the forward pass runs on the GPU, else "cpu".
  const char* device() const { return gpu_ ? "cuda" : "cpu"; }
  // The GPU's name, or "cpu".
  std::string device_name() const;
  // With Device::kAuto: why a GPU that exists was not used ("" otherwise).
  const std::string& device_fallback() const { return device_fallback_; }
  cuda::CudaModel* gpu() const { return gpu_.get(); }
  // "q16" or "q8" when the integer path is on for at least one weight type of this model, else "f32".
  const char* activations() const;

  // n_ctx in [1, context_length]; kInvalidArg otherwise. kOutOfMemory if allocation fails.
  Status create_state(int64_t n_ctx, std::unique_ptr<Lfm2State>* out) const;

  // Appends tokens[0..n_tok) to the sequence and computes logits. `all_logits`: logits for every
  // token into out[n_tok][V]; otherwise only for the last token into out[V].
  // Validates every token id (kTokenRange) and the context (kContextOverflow) before touching
  // the state. Thread-safe: forward passes of one model run one at a time.
  Status forward(Lfm2State* st, const int32_t* tokens, int64_t n_tok, bool all_logits, float* out);

  // One evaluation of a batch: tokens[0..n_tok) appended to the sequence of `st`, logits into
  // `out` (out[n_tok][V] with all_logits, else out[V] for the last token).
  struct BatchItem {
    Lfm2State* st = nullptr;
    const int32_t* tokens = nullptr;
    int64_t n_tok = 0;
    bool all_logits = false;
    float* out = nullptr;
  };
  // Evaluates several sequences together: passes of at most kMaxBatchTokens rows, each made of
  // contiguous pieces of the items' tokens in item order (an item longer than the budget is split
  // across passes), so that every weight matrix is read once per pass for all of its rows.
  // Validates every item before touching any state: n_tok <= 0 or the same state twice
  // (kInvalidArg), token ids (kTokenRange), context (kContextOverflow); with several items the
  // message names the item index. Each row gets the kernels and summation order it gets when its
  // sequence is evaluated alone, except where the row count of a product picks another kernel
  // variant: products of 2..kRowByRowMaxRows rows of a multi-sequence pass run row by row on
  // the single-row kernels (so 2-4 decode steps together are bit-identical to each alone),
  // larger ones on the multi-row (GEMM) kernels, which may differ from the single-row ones in
  // the last bits (measured and tested in test/model/batch.test.ts).
  // Thread-safe like forward() (forward() is a one-item forward_batch).
  Status forward_batch(const BatchItem* items, int n_items);

  // --- sequence state (lfm2_state.cpp): the caller keeps evaluations of `st` out meanwhile.
  // A conv-state copy: every conv layer's [L-1, D] rows, in layer order.
  int64_t conv_state_floats() const;
  Status conv_state(const Lfm2State& st, float* out) const;  // out[conv_state_floats()]
  // Cuts st back to `length` tokens (0 <= length <= n_past) and sets its conv state to
  // conv[n_conv] (a conv_state() copy taken at that length); K/V rows past `length` are left
  // for later evaluations to overwrite. kInvalidArg, and nothing changed, for a length or a conv
  // size out of place.
  Status rewind(Lfm2State* st, int64_t length, const float* conv, int64_t n_conv) const;
  // The exported state (layout above Lfm2State) of `length` tokens: its size, and the export of
  // st (n_past tokens) into out[n] (n = state_export_bytes(st.n_past)).
  size_t state_export_bytes(int64_t length) const;
  Status export_state(const Lfm2State& st, uint8_t* out, size_t n) const;
  // Replaces st with an exported state of a model of the same shape, checked before anything
  // changes: kInvalidArg (not a state, another format version, truncated or inconsistent),
  // kShapeMismatch (another model shape), kContextOverflow (longer than st's context).
  Status import_state(Lfm2State* st, const uint8_t* data, size_t n) const;

 private:
  Lfm2Model() = default;
  struct Scratch;
  Status load_config();
  Status load_weights();
  void ensure_scratch(int64_t n_tok);

  // ops (threaded over rows through the pool; kernels from the table)
  struct MatmulJob {
    const MatrixRef* w;
    int64_t mat;         // expert index (0 for plain matrices)
    const float* x;      // [n_tok, ldx]
    int64_t ldx, n_tok;
    float* y;            // [n_tok, ldy]
    int64_t ldy;
  };
  // Several independent products in one parallel pass over their concatenated rows: one
  // synchronisation instead of one per matrix (q/k/v, gate/up, the experts of a batch).
  void matmuls(const MatmulJob* jobs, int n_jobs);
  void quantize_inputs(const MatmulJob* jobs, int n_jobs);
  void matmul(const MatrixRef& w, int64_t mat, const float* x, int64_t ldx, int64_t n_tok,
              float* y, int64_t ldy);
  // A pass is made of segments: rows [row0, row0 + n_rows) of the pass's buffers belong to the
  // sequence of `st`, at positions pos0.. (st->n_past when the pass starts).
  struct Segment {
    Lfm2State* st;
    int64_t row0, n_rows, pos0;
  };
  // A row whose logits are wanted, and where they go (V floats).
  struct LogitsRow {
    int64_t row;
    float* dst;
  };
  void short_conv_block(const Lfm2LayerWeights& lw, const Segment* segs, int n_segs, int64_t il, int64_t n_tok);
  void attention_block(const Lfm2LayerWeights& lw, const Segment* segs, int n_segs, int64_t il, int64_t n_tok);
  void dense_ffn(const Lfm2LayerWeights& lw, int64_t n_tok);
  void moe_ffn(const Lfm2LayerWeights& lw, int64_t n_tok);
  // One pass over n_tok rows (tokens in s.tok): every layer, then the logits of `want` rows.
  void forward_pass(const Segment* segs, int n_segs, int64_t n_tok, const LogitsRow* want, int64_t n_want);

  Lfm2Config cfg_;
  Lfm2Weights w_;
  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<ThreadPool> pool_;
  const cpu::CpuKernels* kernels_ = nullptr;
  Lfm2LoadOptions::Activations activations_ = Lfm2LoadOptions::Activations::kQ16;
  std::unique_ptr<Scratch> scratch_;
  std::mutex forward_mu_;
  std::unique_ptr<cuda::CudaModel> gpu_;  // set when the forward pass runs on the GPU
  std::string device_fallback_;
  // One pass of the GPU path (gpu_ set): segments with their tokens, logits of `want` rows.
  Status gpu_pass(const Segment* segs, const int32_t* const* seg_tokens, int n_segs, const LogitsRow* want,
                  int64_t n_want);
  // Set during a pass of several segments: its products of 2..kRowByRowMaxRows rows take the
  // single-row (decode) kernels row by row over blocks of kRowByRowBlockBytes of weights
  // (matmuls()). Measured (LFM2-1.2B Q4_0, 2 threads, Zen 5), ms per pass of N decode rows,
  // panel GEMM vs row by row: N=2 59 vs 36, 3: 67 vs 51, 4: 71 vs 66, 6: 76 vs 85, 8: 92 vs 120
  // (one row alone: 25). A lone sequence's passes are unchanged.
  bool batched_pass_ = false;
  static constexpr int64_t kRowByRowMaxRows = 4;
  static constexpr int64_t kRowByRowBlockBytes = 64 * 1024;
};

// Largest number of tokens evaluated in one pass; longer inputs are split (prefill chunks).
constexpr int64_t kMaxBatchTokens = 512;
// The same on the GPU, where one pass can hold a decode step of many sequences.
constexpr int64_t kGpuMaxBatchTokens = 2048;

}  // namespace lfm
