// SPDX-License-Identifier: MIT
// LFM2 / LFM2-MoE forward pass over GGUF weights (spec: shared lfm2-spec.md sections 1-3, 7).
// Reads top to bottom like llama2.c's forward(); all arithmetic lives in the kernel table.

#include "lfm2.h"

#include "../cuda/cuda_model.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <new>
#include <unordered_map>

namespace lfm {

// --- scratch buffers (one set per model; forward passes are serialised)

struct Lfm2Model::Scratch {
  int64_t cap = 0;                 // tokens the buffers hold
  std::vector<float> x;            // [T, D]  residual stream
  std::vector<float> u;            // [T, D]  normed input of a block
  std::vector<float> mix;          // [T, D]  block output
  std::vector<float> bcx;          // [T, 3D] conv in_proj output
  std::vector<float> y;            // [T, D]  conv output before out_proj / attention heads
  std::vector<float> q;            // [T, Hq*Dh]
  std::vector<float> k, v;         // [T, Hkv*Dh]
  std::vector<float> gate, up;     // [T, max(F, Fe)]
  std::vector<float> router;       // [T, E]
  std::vector<int32_t> sel;        // [T, K] selected experts
  std::vector<float> sel_w;        // [T, K] their combination weights
  std::vector<int32_t> rows;       // [T*K]  token of each routed row, grouped by expert
  std::vector<float> rows_w;       // [T*K]  weight of each routed row
  std::vector<float> xe, ye;       // [T*K, D] gathered expert inputs / outputs
  std::vector<double> inv_freq;    // [Dh/2] RoPE frequencies theta^(-2i/Dh)
  std::vector<MatmulJob> jobs;     // expert products of one MoE pass
  // Q16 activations (dispatch.h) of the inputs of one matmuls() pass, row blocks per input.
  std::vector<int8_t> q_hi, q_lo;
  std::vector<float> q_d, q_sum16;
  std::vector<cpu::QuantActs> q_acts;  // per job (inputs shared by several jobs are rounded once)
  std::vector<int64_t> q_first, q_offset;  // per job: the job whose input it shares, its buffer offset
  std::vector<int64_t> chunk_bounds;       // matmuls(): row chunks of one pass
  // Batched passes (forward_batch): the tokens of the pass's rows, the segment of each row.
  std::vector<int32_t> tok;        // [T]
  std::vector<int32_t> row_seg;    // [T]
  std::vector<float> logits;       // [rows, V] logits gathered from several items (grown on demand)
};

// --- helpers

namespace {

// (done, total) reports of a load phase, possibly from several threads at once, turned into
// `sink` calls at whole-percent steps below 100 (at most 100 calls; reads finish out of order,
// so only a step above the largest one sent goes out). The caller reports 1 once loaded.
class PercentSteps {
 public:
  explicit PercentSteps(const std::function<void(double)>& sink) : sink_(sink) {}
  void operator()(uint64_t done, uint64_t total) {
    const int pct = static_cast<int>(done * 100 / std::max<uint64_t>(total, 1));
    int seen = sent_.load();
    while (pct > seen && pct < 100) {
      if (sent_.compare_exchange_weak(seen, pct)) {
        sink_(static_cast<double>(pct) / 100.0);
        return;
      }
    }
  }

 private:
  const std::function<void(double)>& sink_;
  std::atomic<int> sent_{-1};
};

Status shape_error(const GgufTensor& t, const std::string& expected) {
  return Status(StatusCode::kShapeMismatch, "[load] tensor " + t.name + " has shape " +
                                                t.shape_string() + ", expected " + expected);
}

std::string shape_str(std::initializer_list<int64_t> ne) {
  std::string s = "{";
  bool first = true;
  for (int64_t n : ne) {
    if (!first) s += ", ";
    s += std::to_string(n);
    first = false;
  }
  return s + "}";
}

// A type is supported when the kernels implement it (the scalar table is complete by design).
bool type_supported(uint32_t type_id) {
  const cpu::CpuKernels& k = cpu::cpu_kernels(cpu::Isa::kScalar);
  return type_id < static_cast<uint32_t>(kGgmlTypeCount) && k.matmul[type_id] && k.dequant_row[type_id];
}

std::string supported_type_list() {
  std::string s;
  for (uint32_t id = 0; id < static_cast<uint32_t>(kGgmlTypeCount); id++) {
    if (!type_supported(id)) continue;
    if (!s.empty()) s += ", ";
    s += type_traits(id).name;
  }
  return s;
}

Status check_type(const GgufTensor& t) {
  if (!type_supported(t.type_id)) {
    const TypeTraits& tr = type_traits(t.type_id);
    return Status(StatusCode::kUnsupportedType,
                  "[load] tensor " + t.name + " has type " +
                      (tr.name ? std::string(tr.name) : "unknown(" + std::to_string(t.type_id) + ")") +
                      ", which is not supported (supported: " + supported_type_list() + ")");
  }
  return Status::ok();
}

}  // namespace

Lfm2State::Lfm2State() = default;
Lfm2State::~Lfm2State() = default;

Status Lfm2State::reset() {
  n_past = 0;
  for (auto& c : conv) std::fill(c.begin(), c.end(), 0.0f);
  // K/V rows beyond n_past are never read, so the caches need no clearing.
  return gpu ? gpu->reset() : Status::ok();
}

size_t Lfm2State::bytes() const {
  size_t n = 0;
  for (auto& c : conv) n += c.size() * sizeof(float);
  for (auto& c : k) n += c.size() * sizeof(float);
  for (auto& c : v) n += c.size() * sizeof(float);
  if (gpu) n += gpu->bytes();
  return n;
}

Lfm2Model::~Lfm2Model() = default;

// --- loading

Status Lfm2Model::load(const std::string& path, const Lfm2LoadOptions& opts,
                       std::unique_ptr<Lfm2Model>* out) {
  using Device = Lfm2LoadOptions::Device;
  bool want_gpu = false;
  if (opts.device != Device::kCpu) {
    const cuda::CudaProbe& probe = cuda::probe();
    if (opts.device == Device::kCuda && !probe.available) {
      return Status(StatusCode::kDeviceUnavailable, "[load] device \"cuda\" asked for, but " + probe.reason);
    }
    want_gpu = probe.available;
  }
  try {
    std::unique_ptr<Lfm2Model> m(new Lfm2Model());
    GgufOpenOptions open_opts;
    // A GPU model reads the weights once, for the upload: no copy into process memory.
    open_opts.read_into_memory = !opts.use_mmap && !want_gpu;
    // Progress: the read into memory (CPU), or the upload (GPU: nothing is read before it).
    PercentSteps steps(opts.progress);
    if (opts.progress) open_opts.on_read = [&steps](uint64_t done, uint64_t total) { steps(done, total); };
    LFM_RETURN_IF_ERROR(GgufFile::open(path, &m->file_, open_opts));
    LFM_RETURN_IF_ERROR(m->load_config());
    LFM_RETURN_IF_ERROR(m->load_weights());
    m->kernels_ = &cpu::cpu_kernels(opts.isa);
    m->activations_ = opts.activations;
    const int n_threads = opts.n_threads > 0 ? opts.n_threads : physical_core_count();
    m->pool_ = std::make_unique<ThreadPool>(n_threads);
    m->scratch_ = std::make_unique<Scratch>();
    const Lfm2Config& c = m->cfg_;
    m->scratch_->inv_freq.resize(static_cast<size_t>(c.head_dim / 2));
    for (int64_t i = 0; i < c.head_dim / 2; i++) {
      m->scratch_->inv_freq[i] = std::pow(static_cast<double>(c.rope_theta),
                                          -2.0 * static_cast<double>(i) / static_cast<double>(c.head_dim));
    }
    if (want_gpu) {
      cuda::CudaModel::UploadProgress on_upload;
      if (opts.progress) on_upload = [&steps](uint64_t done, uint64_t total) { steps(done, total); };
      const Status s = cuda::CudaModel::create(m->cfg_, m->w_, kGpuMaxBatchTokens, on_upload, &m->gpu_);
      if (!s.is_ok()) {
        if (opts.device == Device::kCuda) return s;
        // auto: the CPU instead, loaded as if asked for (weights in memory unless useMmap); its
        // read reports from 0 again (lib/model.ts passes on only rising fractions).
        Lfm2LoadOptions cpu_opts = opts;
        cpu_opts.device = Device::kCpu;
        m.reset();
        LFM_RETURN_IF_ERROR(load(path, cpu_opts, out));
        (*out)->device_fallback_ = s.message();
        return Status::ok();
      }
    }
    *out = std::move(m);
    return Status::ok();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "[load] out of memory while loading " + path);
  }
}

Status Lfm2Model::load_config() {
  const GgufFile& f = *file_;
  Lfm2Config& c = cfg_;
  LFM_RETURN_IF_ERROR(f.get_string("general.architecture", &c.arch, true));
  if (c.arch != "lfm2" && c.arch != "lfm2moe") {
    return Status(StatusCode::kUnsupportedArch, "[load] architecture '" + c.arch +
                                                    "' is not supported (expected lfm2 or lfm2moe)");
  }
  const std::string a = c.arch + ".";
  f.get_string("general.name", &c.name, false);
  uint64_t u = 0;
  LFM_RETURN_IF_ERROR(f.get_uint(a + "embedding_length", &u, true));
  c.n_embd = static_cast<int64_t>(u);
  LFM_RETURN_IF_ERROR(f.get_uint(a + "block_count", &u, true));
  c.n_layers = static_cast<int64_t>(u);
  LFM_RETURN_IF_ERROR(f.get_uint(a + "attention.head_count", &u, true));
  c.n_heads = static_cast<int64_t>(u);
  u = 128000;
  LFM_RETURN_IF_ERROR(f.get_uint(a + "context_length", &u, false));
  c.context_length = static_cast<int64_t>(u);
  u = 3;
  LFM_RETURN_IF_ERROR(f.get_uint(a + "shortconv.l_cache", &u, true));
  c.conv_l = static_cast<int64_t>(u);
  double d = 1e-5;
  LFM_RETURN_IF_ERROR(f.get_float(a + "attention.layer_norm_rms_epsilon", &d, true));
  c.norm_eps = static_cast<float>(d);
  d = 1e6;
  LFM_RETURN_IF_ERROR(f.get_float(a + "rope.freq_base", &d, false));
  c.rope_theta = static_cast<float>(d);

  auto bad = [](const std::string& m) { return Status(StatusCode::kFormat, "[load] " + m); };
  if (c.n_embd <= 0 || c.n_embd > (1 << 20)) return bad("embedding_length " + std::to_string(c.n_embd) + " is out of range");
  if (c.n_layers <= 0 || c.n_layers > 4096) return bad("block_count " + std::to_string(c.n_layers) + " is out of range");
  if (c.n_heads <= 0 || c.n_embd % c.n_heads != 0) {
    return bad("attention.head_count " + std::to_string(c.n_heads) + " does not divide embedding_length " + std::to_string(c.n_embd));
  }
  c.head_dim = c.n_embd / c.n_heads;
  if (c.head_dim % 2 != 0) return bad("head dimension " + std::to_string(c.head_dim) + " is odd (RoPE needs pairs)");
  if (c.conv_l < 2 || c.conv_l > 8) return bad("shortconv.l_cache " + std::to_string(c.conv_l) + " is out of range [2, 8]");
  if (c.context_length <= 0) return bad("context_length must be positive");
  if (!(c.norm_eps > 0) || !std::isfinite(c.norm_eps)) return bad("layer_norm_rms_epsilon must be positive");
  if (!(c.rope_theta > 0) || !std::isfinite(c.rope_theta)) return bad("rope.freq_base must be positive");

  LFM_RETURN_IF_ERROR(f.get_int_array(a + "attention.head_count_kv", static_cast<size_t>(c.n_layers), &c.n_kv_heads, true));
  if (static_cast<int64_t>(c.n_kv_heads.size()) != c.n_layers) {
    return bad("attention.head_count_kv has " + std::to_string(c.n_kv_heads.size()) + " entries, expected " + std::to_string(c.n_layers));
  }
  c.layer_kinds.resize(c.n_layers);
  for (int64_t il = 0; il < c.n_layers; il++) {
    const int64_t kv = c.n_kv_heads[il];
    if (kv < 0 || (kv > 0 && c.n_heads % kv != 0)) {
      return bad("attention.head_count_kv[" + std::to_string(il) + "] = " + std::to_string(kv) +
                 " does not divide head_count " + std::to_string(c.n_heads));
    }
    c.layer_kinds[il] = kv == 0 ? LayerKind::kConv : LayerKind::kAttention;
  }

  if (c.arch == "lfm2moe") {
    LFM_RETURN_IF_ERROR(f.get_uint(a + "expert_count", &u, true));
    c.n_experts = static_cast<int64_t>(u);
    LFM_RETURN_IF_ERROR(f.get_uint(a + "expert_used_count", &u, true));
    c.n_experts_used = static_cast<int64_t>(u);
    LFM_RETURN_IF_ERROR(f.get_uint(a + "expert_feed_forward_length", &u, true));
    c.expert_ffn_dim = static_cast<int64_t>(u);
    u = 0;
    LFM_RETURN_IF_ERROR(f.get_uint(a + "leading_dense_block_count", &u, false));
    c.n_dense_lead = static_cast<int64_t>(u);
    u = 2;
    LFM_RETURN_IF_ERROR(f.get_uint(a + "expert_gating_func", &u, false));
    if (u != 2) {
      return Status(StatusCode::kUnsupportedArch, "[load] expert_gating_func " + std::to_string(u) +
                                                      " is not supported (LFM2-MoE routes with sigmoid = 2)");
    }
    d = 0;
    LFM_RETURN_IF_ERROR(f.get_float(a + "expert_weights_scale", &d, false));
    c.expert_scale = (d == 0.0) ? 1.0f : static_cast<float>(d);
    if (c.n_experts <= 0 || c.n_experts > 4096) return bad("expert_count " + std::to_string(c.n_experts) + " is out of range");
    if (c.n_experts_used <= 0 || c.n_experts_used > c.n_experts) {
      return bad("expert_used_count " + std::to_string(c.n_experts_used) + " must be in [1, expert_count]");
    }
    if (c.n_dense_lead > c.n_layers) return bad("leading_dense_block_count exceeds block_count");
  } else {
    c.n_dense_lead = c.n_layers;
  }

  u = 1;
  LFM_RETURN_IF_ERROR(f.get_uint("tokenizer.ggml.bos_token_id", &u, false));
  c.bos_id = static_cast<int32_t>(u);
  u = 7;
  LFM_RETURN_IF_ERROR(f.get_uint("tokenizer.ggml.eos_token_id", &u, false));
  c.eos_id = static_cast<int32_t>(u);
  return Status::ok();
}

Status Lfm2Model::load_weights() {
  const GgufFile& f = *file_;
  Lfm2Config& c = cfg_;
  const int64_t D = c.n_embd;

  auto find = [&](const std::string& name, const GgufTensor** t) -> Status {
    *t = f.tensor(name);
    if (!*t) return Status(StatusCode::kFormat, "[load] missing tensor " + name);
    return Status::ok();
  };
  // A weight matrix [rows, cols] (ggml {cols, rows}), or a stack {cols, rows, n_mats}.
  // rows < 0: any row count (read from the file).
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols, int64_t n_mats, MatrixRef* m) -> Status {
    const GgufTensor* t = nullptr;
    LFM_RETURN_IF_ERROR(find(name, &t));
    LFM_RETURN_IF_ERROR(check_type(*t));
    const int64_t r = rows < 0 ? (t->ne.size() > 1 ? t->ne[1] : -1) : rows;
    const bool ok = n_mats > 1 ? (t->ne.size() == 3 && t->ne[0] == cols && t->ne[1] == r && t->ne[2] == n_mats)
                               : (t->ne.size() == 2 && t->ne[0] == cols && t->ne[1] == r && r > 0);
    if (!ok) {
      return n_mats > 1 ? shape_error(*t, shape_str({cols, r, n_mats}))
                        : shape_error(*t, rows < 0 ? "{" + std::to_string(cols) + ", rows}" : shape_str({cols, r}));
    }
    const TypeTraits& tr = type_traits(t->type_id);
    if (cols % tr.block_size != 0) {
      return Status(StatusCode::kShapeMismatch, "[load] tensor " + name + " has rows of " + std::to_string(cols) +
                                                    " elements, not a multiple of the " + tr.name + " block size " +
                                                    std::to_string(tr.block_size));
    }
    m->data = t->data;
    m->type = t->type;
    m->n_rows = r;
    m->n_cols = cols;
    m->row_bytes = row_bytes(t->type, cols);
    m->n_mats = n_mats;
    m->mat_bytes = m->row_bytes * r;
    return Status::ok();
  };
  // A small tensor dequantized into an owned f32 buffer (norms, conv kernel, router, bias).
  auto vec = [&](const std::string& name, std::initializer_list<int64_t> ne, std::vector<float>* out) -> Status {
    const GgufTensor* t = nullptr;
    LFM_RETURN_IF_ERROR(find(name, &t));
    LFM_RETURN_IF_ERROR(check_type(*t));
    if (t->ne.size() != ne.size() || !std::equal(ne.begin(), ne.end(), t->ne.begin())) {
      return shape_error(*t, shape_str(ne));
    }
    const TypeTraits& tr = type_traits(t->type_id);
    if (t->ne[0] % tr.block_size != 0) return shape_error(*t, "rows that are whole " + std::string(tr.name) + " blocks");
    out->resize(static_cast<size_t>(t->n_elements));
    const int64_t n0 = t->ne[0];
    const int64_t rb = row_bytes(t->type, n0);
    const cpu::CpuKernels& k = cpu::cpu_kernels(cpu::Isa::kScalar);
    for (int64_t r = 0; r < t->n_elements / n0; r++) {
      k.dequant_row[t->type_id](out->data() + r * n0, t->data + r * rb, n0);
    }
    return Status::ok();
  };

  // Token embedding fixes the vocabulary size.
  LFM_RETURN_IF_ERROR(matrix("token_embd.weight", -1, D, 1, &w_.token_embd));
  c.n_vocab = w_.token_embd.n_rows;
  if (const GgufValue* toks = f.find("tokenizer.ggml.tokens")) {
    if (toks->type == GgufType::kArray && static_cast<int64_t>(toks->n_elems) != c.n_vocab) {
      return Status(StatusCode::kShapeMismatch, "[load] token_embd.weight has " + std::to_string(c.n_vocab) +
                                                    " rows but the vocabulary has " + std::to_string(toks->n_elems) + " tokens");
    }
  }
  if (f.tensor("output.weight")) {
    LFM_RETURN_IF_ERROR(matrix("output.weight", c.n_vocab, D, 1, &w_.output));
  } else {
    w_.output = w_.token_embd;  // tied LM head
  }
  // Final norm: token_embd_norm (llama.cpp name); some converters call it output_norm.
  const char* final_norm = f.tensor("token_embd_norm.weight") ? "token_embd_norm.weight" : "output_norm.weight";
  LFM_RETURN_IF_ERROR(vec(final_norm, {D}, &w_.output_norm));

  w_.layers.resize(c.n_layers);
  c.ffn_dim.assign(c.n_layers, 0);
  for (int64_t il = 0; il < c.n_layers; il++) {
    Lfm2LayerWeights& lw = w_.layers[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    lw.kind = c.layer_kinds[il];
    LFM_RETURN_IF_ERROR(vec(p + "attn_norm.weight", {D}, &lw.attn_norm));
    LFM_RETURN_IF_ERROR(vec(p + "ffn_norm.weight", {D}, &lw.ffn_norm));
    if (lw.kind == LayerKind::kConv) {
      LFM_RETURN_IF_ERROR(matrix(p + "shortconv.in_proj.weight", 3 * D, D, 1, &lw.conv_in));
      LFM_RETURN_IF_ERROR(vec(p + "shortconv.conv.weight", {c.conv_l, D}, &lw.conv_w));
      LFM_RETURN_IF_ERROR(matrix(p + "shortconv.out_proj.weight", D, D, 1, &lw.conv_out));
    } else {
      const int64_t nq = c.n_heads * c.head_dim;
      const int64_t nkv = c.n_kv_heads[il] * c.head_dim;
      if (f.tensor(p + "attn_qkv.weight")) {
        // Fused projection: rows are q, then k, then v.
        MatrixRef qkv;
        LFM_RETURN_IF_ERROR(matrix(p + "attn_qkv.weight", nq + 2 * nkv, D, 1, &qkv));
        lw.wq = lw.wk = lw.wv = qkv;
        lw.wq.n_rows = nq;
        lw.wk.n_rows = lw.wv.n_rows = nkv;
        lw.wk.data = qkv.data + nq * qkv.row_bytes;
        lw.wv.data = qkv.data + (nq + nkv) * qkv.row_bytes;
        lw.wq.mat_bytes = nq * qkv.row_bytes;
        lw.wk.mat_bytes = lw.wv.mat_bytes = nkv * qkv.row_bytes;
      } else {
        LFM_RETURN_IF_ERROR(matrix(p + "attn_q.weight", nq, D, 1, &lw.wq));
        LFM_RETURN_IF_ERROR(matrix(p + "attn_k.weight", nkv, D, 1, &lw.wk));
        LFM_RETURN_IF_ERROR(matrix(p + "attn_v.weight", nkv, D, 1, &lw.wv));
      }
      LFM_RETURN_IF_ERROR(matrix(p + "attn_output.weight", D, nq, 1, &lw.wo));
      LFM_RETURN_IF_ERROR(vec(p + "attn_q_norm.weight", {c.head_dim}, &lw.q_norm));
      LFM_RETURN_IF_ERROR(vec(p + "attn_k_norm.weight", {c.head_dim}, &lw.k_norm));
    }
    if (!c.is_moe_layer(il)) {
      // Dense width from the tensor (never from metadata: mis-converted files exist).
      LFM_RETURN_IF_ERROR(matrix(p + "ffn_gate.weight", -1, D, 1, &lw.ffn_gate));
      const int64_t F = lw.ffn_gate.n_rows;
      c.ffn_dim[il] = F;
      LFM_RETURN_IF_ERROR(matrix(p + "ffn_up.weight", F, D, 1, &lw.ffn_up));
      LFM_RETURN_IF_ERROR(matrix(p + "ffn_down.weight", D, F, 1, &lw.ffn_down));
    } else {
      const int64_t E = c.n_experts, Fe = c.expert_ffn_dim;
      LFM_RETURN_IF_ERROR(vec(p + "ffn_gate_inp.weight", {D, E}, &lw.router));
      if (f.tensor(p + "exp_probs_b.bias")) {
        LFM_RETURN_IF_ERROR(vec(p + "exp_probs_b.bias", {E}, &lw.expert_bias));
      } else {
        lw.expert_bias.assign(static_cast<size_t>(E), 0.0f);
      }
      LFM_RETURN_IF_ERROR(matrix(p + "ffn_gate_exps.weight", Fe, D, E, &lw.exp_gate));
      LFM_RETURN_IF_ERROR(matrix(p + "ffn_up_exps.weight", Fe, D, E, &lw.exp_up));
      LFM_RETURN_IF_ERROR(matrix(p + "ffn_down_exps.weight", D, Fe, E, &lw.exp_down));
    }
  }
  return Status::ok();
}

Status Lfm2Model::create_state(int64_t n_ctx, std::unique_ptr<Lfm2State>* out) const {
  if (n_ctx < 1 || n_ctx > cfg_.context_length) {
    return Status(StatusCode::kInvalidArg, "[sequence] contextSize " + std::to_string(n_ctx) +
                                               " is out of range [1, " + std::to_string(cfg_.context_length) + "]");
  }
  try {
    auto st = std::make_unique<Lfm2State>();
    st->n_ctx = n_ctx;
    if (gpu_) {  // the state lives on the device
      LFM_RETURN_IF_ERROR(gpu_->create_seq(n_ctx, &st->gpu));
      *out = std::move(st);
      return Status::ok();
    }
    st->conv.resize(cfg_.n_layers);
    st->k.resize(cfg_.n_layers);
    st->v.resize(cfg_.n_layers);
    for (int64_t il = 0; il < cfg_.n_layers; il++) {
      if (cfg_.layer_kinds[il] == LayerKind::kConv) {
        st->conv[il].assign(static_cast<size_t>((cfg_.conv_l - 1) * cfg_.n_embd), 0.0f);
      } else {
        const size_t n = static_cast<size_t>(n_ctx * cfg_.n_kv_heads[il] * cfg_.head_dim);
        st->k[il].resize(n);
        st->v[il].resize(n);
      }
    }
    *out = std::move(st);
    return Status::ok();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "[sequence] out of memory allocating a context of " + std::to_string(n_ctx) + " tokens");
  }
}

std::string Lfm2Model::device_name() const { return gpu_ ? gpu_->device_name() : std::string("cpu"); }

const char* Lfm2Model::activations() const {
  if (gpu_) return "f32";  // the GPU kernels take f32 activations
  if (activations_ == Lfm2LoadOptions::Activations::kF32 || !kernels_->quantize_acts) return "f32";
  for (const GgufTensor& t : file_->tensors()) {
    if (t.ne.size() >= 2 && t.type_id < static_cast<uint32_t>(kGgmlTypeCount) && kernels_->matmul_q16[t.type_id]) {
      return activations_ == Lfm2LoadOptions::Activations::kQ8 ? "q8" : "q16";
    }
  }
  return "f32";
}

// --- ops

// Rounds the inputs of the jobs that take the integer path to Q16, each distinct input once;
// s.q_acts[j].hi is null for a job on the f32 path.
void Lfm2Model::quantize_inputs(const MatmulJob* jobs, int n_jobs) {
  Scratch& s = *scratch_;
  const cpu::CpuKernels& k = *kernels_;
  s.q_acts.assign(static_cast<size_t>(n_jobs), cpu::QuantActs{nullptr, nullptr, nullptr, nullptr, 0});
  if (activations_ == Lfm2LoadOptions::Activations::kF32 || !k.quantize_acts) return;
  const bool one_term = activations_ == Lfm2LoadOptions::Activations::kQ8;
  // First pass: sizes. Element offsets into the buffers, per job (reused for repeated inputs).
  std::vector<int64_t>& first = s.q_first;
  std::vector<int64_t>& offset = s.q_offset;
  first.assign(static_cast<size_t>(n_jobs), -1);
  offset.assign(static_cast<size_t>(n_jobs), 0);
  int64_t total = 0;
  for (int j = 0; j < n_jobs; j++) {
    const MatmulJob& jb = jobs[j];
    if (!k.matmul_q16[static_cast<uint32_t>(jb.w->type)]) continue;
    for (int i = 0; i < j; i++) {
      if (first[i] == i && jobs[i].x == jb.x && jobs[i].ldx == jb.ldx && jobs[i].n_tok == jb.n_tok &&
          jobs[i].w->n_cols == jb.w->n_cols) {
        first[j] = i;
        break;
      }
    }
    if (first[j] >= 0) continue;
    first[j] = j;
    offset[j] = total;
    total += cpu::quant_acts_ld(jb.w->n_cols) * jb.n_tok;
  }
  if (total == 0) return;
  if (static_cast<int64_t>(s.q_hi.size()) < total) {
    s.q_hi.resize(total);
    s.q_lo.resize(total);
    s.q_d.resize(total / 32);
    s.q_sum16.resize(total / 16);
  }
  int64_t rows = 0;
  for (int j = 0; j < n_jobs; j++) {
    if (first[j] < 0) continue;
    const MatmulJob& src = jobs[first[j]];
    const int64_t off = offset[first[j]];
    s.q_acts[j] = cpu::QuantActs{s.q_hi.data() + off, one_term ? nullptr : s.q_lo.data() + off, s.q_d.data() + off / 32,
                                 s.q_sum16.data() + off / 16, cpu::quant_acts_ld(src.w->n_cols)};
    if (first[j] == j) rows += src.n_tok;
  }
  auto run = [&](int64_t r0, int64_t r1) {
    int64_t base = 0;  // first global row of job j's input
    for (int j = 0; j < n_jobs && base < r1; j++) {
      if (first[j] != j) continue;
      const MatmulJob& jb = jobs[j];
      const int64_t a = std::max(r0, base) - base, b = std::min(r1, base + jb.n_tok) - base;
      if (a < b) k.quantize_acts(s.q_acts[j], jb.x, jb.ldx, jb.w->n_cols, a, b);
      base += jb.n_tok;
    }
  };
  if (rows < 8) {
    run(0, rows);
  } else {
    pool_->parallel_for(rows, 4, run);
  }
}

void Lfm2Model::matmuls(const MatmulJob* jobs, int n_jobs) {
  int64_t total = 0;
  for (int j = 0; j < n_jobs; j++) total += jobs[j].w->n_rows;
  if (total == 0) return;
  quantize_inputs(jobs, n_jobs);
  const std::vector<cpu::QuantActs>& qa = scratch_->q_acts;
  // Chunks of rows: a few per thread for load balance. Decode: multiples of 16 rows (the
  // kernels' row tiles) across the jobs' concatenated rows. Prefill: multiples of 48 rows (the
  // panel GEMM's 3 x 16-row tiles) within each job, so that only a job's last chunk has a
  // partial tile; chunks straddling two jobs, or of 16-row multiples, left narrow tiles in
  // every chunk (a 256-row chunk ran 8% slower than a 240-row one).
  const int64_t nt = pool_->size();
  int64_t max_tok = 0;
  for (int j = 0; j < n_jobs; j++) max_tok = std::max(max_tok, jobs[j].n_tok);
  // Few rows of a batched pass (decode steps of several sequences, the experts' rows of them):
  // the single-row (decode) kernels once per row, over blocks of weight rows small enough to
  // stay in L2 between the rows, so that the weights stream from memory once and every row gets
  // exactly what it gets alone. Chunks as for decode.
  const bool row_by_row = batched_pass_ && max_tok >= 2 && max_tok <= kRowByRowMaxRows;
  if (row_by_row) max_tok = 1;
  const int64_t align = max_tok >= 2 ? 48 : 16;
  const int64_t per = (total + nt * 4 - 1) / (nt * 4);
  const int64_t grain = std::max<int64_t>(align, (per + align - 1) / align * align);
  std::vector<int64_t>& bounds = scratch_->chunk_bounds;  // chunk c: global rows [bounds[c], bounds[c + 1])
  bounds.assign(1, 0);
  if (max_tok >= 2) {
    int64_t base = 0;
    for (int j = 0; j < n_jobs; j++) {
      const int64_t n = jobs[j].w->n_rows;
      for (int64_t r = grain; r < n; r += grain) bounds.push_back(base + r);
      base += n;
      if (bounds.back() < base) bounds.push_back(base);
    }
  } else {
    for (int64_t r = grain; r < total; r += grain) bounds.push_back(r);
    bounds.push_back(total);
  }
  const cpu::CpuKernels& k = *kernels_;
  pool_->parallel_for(static_cast<int64_t>(bounds.size()) - 1, 1, [&](int64_t c0, int64_t c1) {
    const int64_t r0 = bounds[c0], r1 = bounds[c1];
    int64_t base = 0;  // first global row of job j
    for (int j = 0; j < n_jobs && base < r1; j++) {
      const MatmulJob& jb = jobs[j];
      const int64_t n = jb.w->n_rows;
      const int64_t a = std::max(r0, base) - base, b = std::min(r1, base + n) - base;
      const uint32_t type = static_cast<uint32_t>(jb.w->type);
      if (a < b && row_by_row) {
        const int64_t rb = jb.w->row_bytes;
        const int64_t sub = std::max<int64_t>(16, kRowByRowBlockBytes / std::max<int64_t>(rb, 1) / 16 * 16);
        const cpu::QuantActs& q = qa[j];
        for (int64_t s0 = a; s0 < b; s0 += sub) {
          const int64_t s1 = std::min(b, s0 + sub);
          for (int64_t t = 0; t < jb.n_tok; t++) {
            if (q.hi) {
              k.matmul_q16[type](jb.y + t * jb.ldy, jb.ldy, jb.w->mat(jb.mat), rb, q.from_row(t), jb.w->n_cols, 1, s0, s1);
            } else {
              k.matmul[type](jb.y + t * jb.ldy, jb.ldy, jb.w->mat(jb.mat), rb, jb.x + t * jb.ldx, jb.ldx, jb.w->n_cols, 1, s0, s1);
            }
          }
        }
      } else if (a < b && qa[j].hi) {
        k.matmul_q16[type](jb.y, jb.ldy, jb.w->mat(jb.mat), jb.w->row_bytes, qa[j], jb.w->n_cols, jb.n_tok, a, b);
      } else if (a < b) {
        k.matmul[type](jb.y, jb.ldy, jb.w->mat(jb.mat), jb.w->row_bytes, jb.x, jb.ldx, jb.w->n_cols, jb.n_tok, a, b);
      }
      base += n;
    }
  });
}

void Lfm2Model::matmul(const MatrixRef& w, int64_t mat, const float* x, int64_t ldx, int64_t n_tok,
                       float* y, int64_t ldy) {
  const MatmulJob job{&w, mat, x, ldx, n_tok, y, ldy};
  matmuls(&job, 1);
}

void Lfm2Model::ensure_scratch(int64_t n_tok) {
  Scratch& s = *scratch_;
  if (s.cap >= n_tok) return;
  const Lfm2Config& c = cfg_;
  const int64_t T = n_tok, D = c.n_embd;
  int64_t nkv_max = 0, f_max = c.expert_ffn_dim;
  for (int64_t il = 0; il < c.n_layers; il++) {
    nkv_max = std::max(nkv_max, c.n_kv_heads[il] * c.head_dim);
    f_max = std::max(f_max, c.ffn_dim[il]);
  }
  s.tok.resize(T);
  s.row_seg.resize(T);
  s.x.resize(T * D);
  s.u.resize(T * D);
  s.mix.resize(T * D);
  s.bcx.resize(T * 3 * D);
  s.y.resize(T * D);
  s.q.resize(T * c.n_heads * c.head_dim);
  s.k.resize(T * nkv_max);
  s.v.resize(T * nkv_max);
  // Dense: [T, F]; MoE: the routed rows of all experts [T*K, Fe].
  s.gate.resize(std::max<int64_t>(T * std::max<int64_t>(f_max, 1), T * c.n_experts_used * c.expert_ffn_dim));
  s.up.resize(s.gate.size());
  if (c.n_experts > 0) {
    const int64_t K = c.n_experts_used;
    s.router.resize(T * c.n_experts);
    s.sel.resize(T * K);
    s.sel_w.resize(T * K);
    s.rows.resize(T * K);
    s.rows_w.resize(T * K);
    s.xe.resize(T * K * D);
    s.ye.resize(T * K * D);
  }
  s.cap = n_tok;
}

// --- blocks

// Gated short convolution (HF Lfm2ShortConv): BCx = in_proj(u); B, C, x = chunks;
// y = C * causal_conv(B * x); out = out_proj(y). The products run over all rows of the pass;
// the convolution runs per segment on its own state, work items = channel blocks x segments.
void Lfm2Model::short_conv_block(const Lfm2LayerWeights& lw, const Segment* segs, int n_segs, int64_t il,
                                 int64_t n_tok) {
  Scratch& s = *scratch_;
  const int64_t D = cfg_.n_embd;
  matmul(lw.conv_in, 0, s.u.data(), D, n_tok, s.bcx.data(), 3 * D);  // [T, D] -> [T, 3D]
  const int64_t L = cfg_.conv_l;
  constexpr int64_t kChannels = 256;  // channels per work item (a multiple of every ISA's lanes)
  const int64_t n_blocks = (D + kChannels - 1) / kChannels;
  pool_->parallel_for(n_blocks * n_segs, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const Segment& sg = segs[i / n_blocks];
      const int64_t c0 = (i % n_blocks) * kChannels, c1 = std::min(D, c0 + kChannels);
      kernels_->short_conv_f32(s.y.data() + sg.row0 * D, D, sg.st->conv[il].data(), s.bcx.data() + sg.row0 * 3 * D,
                               3 * D, lw.conv_w.data(), D, L, sg.n_rows, c0, c1);
    }
  });                                                                  // [T, 3D] -> [T, D]
  matmul(lw.conv_out, 0, s.y.data(), D, n_tok, s.mix.data(), D);       // [T, D] -> [T, D]
}

// NEOX RoPE (rotate_half): pairs (j, j + Dh/2) rotate by pos * theta^(-2j/Dh). cs_sn holds
// cos and sin of those angles (rope_angles), computed once per position for all heads.
static void rope_angles(float* cs_sn, int64_t head_dim, int64_t pos, const double* inv_freq) {
  const int64_t half = head_dim / 2;
  for (int64_t j = 0; j < half; j++) {
    const double a = static_cast<double>(pos) * inv_freq[j];
    cs_sn[j] = static_cast<float>(std::cos(a));
    cs_sn[half + j] = static_cast<float>(std::sin(a));
  }
}

static void rope_neox(float* v, int64_t head_dim, const float* cs_sn) {
  const int64_t half = head_dim / 2;
  for (int64_t j = 0; j < half; j++) {
    const float cs = cs_sn[j], sn = cs_sn[half + j];
    const float x0 = v[j], x1 = v[j + half];
    v[j] = x0 * cs - x1 * sn;
    v[j + half] = x1 * cs + x0 * sn;
  }
}

// GQA attention (HF Lfm2Attention): per-head RMSNorm on q and k, NEOX RoPE, causal softmax,
// query head h reads kv head h / (Hq / Hkv). Each row is at its own segment's position and
// attends over its own segment's cache.
void Lfm2Model::attention_block(const Lfm2LayerWeights& lw, const Segment* segs, int n_segs, int64_t il,
                                int64_t n_tok) {
  Scratch& s = *scratch_;
  const Lfm2Config& c = cfg_;
  const int64_t D = c.n_embd, Dh = c.head_dim, Hq = c.n_heads, Hkv = c.n_kv_heads[il];
  const int64_t nq = Hq * Dh, nkv = Hkv * Dh;
  const MatmulJob qkv[3] = {
      {&lw.wq, 0, s.u.data(), D, n_tok, s.q.data(), nq},   // [T, D] -> [T, Hq*Dh]
      {&lw.wk, 0, s.u.data(), D, n_tok, s.k.data(), nkv},  // [T, D] -> [T, Hkv*Dh]
      {&lw.wv, 0, s.u.data(), D, n_tok, s.v.data(), nkv},  // [T, D] -> [T, Hkv*Dh]
  };
  matmuls(qkv, 3);

  // QK norm and RoPE at each row's position, then append K and V to its segment's cache.
  const double* inv_freq = s.inv_freq.data();
  const int32_t* row_seg = s.row_seg.data();
  pool_->parallel_for(n_tok, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> cs_sn;
    cs_sn.resize(static_cast<size_t>(Dh));
    for (int64_t t = t0; t < t1; t++) {
      const Segment& sg = segs[row_seg[t]];
      const int64_t pos = sg.pos0 + (t - sg.row0);
      rope_angles(cs_sn.data(), Dh, pos, inv_freq);
      for (int64_t h = 0; h < Hq; h++) {
        float* qh = s.q.data() + t * nq + h * Dh;
        kernels_->rmsnorm_f32(qh, qh, lw.q_norm.data(), Dh, c.norm_eps);
        rope_neox(qh, Dh, cs_sn.data());
      }
      for (int64_t g = 0; g < Hkv; g++) {
        float* kh = s.k.data() + t * nkv + g * Dh;
        kernels_->rmsnorm_f32(kh, kh, lw.k_norm.data(), Dh, c.norm_eps);
        rope_neox(kh, Dh, cs_sn.data());
      }
      std::memcpy(sg.st->k[il].data() + pos * nkv, s.k.data() + t * nkv, nkv * sizeof(float));
      std::memcpy(sg.st->v[il].data() + pos * nkv, s.v.data() + t * nkv, nkv * sizeof(float));
    }
  });

  // Each (row, head) attends over positions [0, pos] of its sequence. Work items go KV head by
  // KV head (each item: one row, the query heads sharing that KV head), rows in pass order, so
  // that while a thread works through a KV head of a sequence its keys and values (one column
  // slice of that cache) stay in its L2 cache instead of the whole cache streaming through for
  // every row. One item per (row, KV head) also spreads a pass of many 1-row segments.
  const int64_t group = Hq / Hkv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  pool_->parallel_for(n_tok * Hkv, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const int64_t g = i / n_tok, t = i % n_tok;
      const Segment& sg = segs[row_seg[t]];
      const int64_t pos = sg.pos0 + (t - sg.row0);
      const float* kc = sg.st->k[il].data();
      const float* vc = sg.st->v[il].data();
      for (int64_t h = g * group; h < (g + 1) * group; h++) {
        kernels_->attention_f32(s.y.data() + t * nq + h * Dh, s.q.data() + t * nq + h * Dh, kc + g * Dh,
                                vc + g * Dh, nkv, pos + 1, Dh, scale);
      }
    }
  });
  matmul(lw.wo, 0, s.y.data(), nq, n_tok, s.mix.data(), D);  // [T, Hq*Dh] -> [T, D]
}

// Dense SwiGLU (HF Lfm2MLP): w2(silu(w1 f) * w3 f).
void Lfm2Model::dense_ffn(const Lfm2LayerWeights& lw, int64_t n_tok) {
  Scratch& s = *scratch_;
  const int64_t D = cfg_.n_embd, F = lw.ffn_gate.n_rows;
  const MatmulJob gate_up[2] = {
      {&lw.ffn_gate, 0, s.u.data(), D, n_tok, s.gate.data(), F},  // [T, D] -> [T, F]
      {&lw.ffn_up, 0, s.u.data(), D, n_tok, s.up.data(), F},      // [T, D] -> [T, F]
  };
  matmuls(gate_up, 2);
  pool_->parallel_for(n_tok, 1, [&](int64_t t0, int64_t t1) {
    kernels_->swiglu_f32(s.gate.data() + t0 * F, s.gate.data() + t0 * F, s.up.data() + t0 * F, (t1 - t0) * F);
  });
  matmul(lw.ffn_down, 0, s.gate.data(), F, n_tok, s.mix.data(), D);  // [T, F] -> [T, D]
}

// Sparse MoE (HF Lfm2MoeSparseMoeBlock): s = sigmoid(router f); top-K of s + bias (bias for
// selection only); weights = s[sel] / (sum + 1e-6) * scale; out = sum_k w_k * expert_k(f).
// Tokens are grouped by expert so each selected expert's weights stream once per batch.
void Lfm2Model::moe_ffn(const Lfm2LayerWeights& lw, int64_t n_tok) {
  Scratch& s = *scratch_;
  const Lfm2Config& c = cfg_;
  const int64_t D = c.n_embd, E = c.n_experts, K = c.n_experts_used, Fe = c.expert_ffn_dim;
  MatrixRef router;
  router.data = reinterpret_cast<const uint8_t*>(lw.router.data());
  router.type = GgmlType::kF32;
  router.n_rows = E;
  router.n_cols = D;
  router.row_bytes = D * static_cast<int64_t>(sizeof(float));
  router.mat_bytes = router.row_bytes * E;
  matmul(router, 0, s.u.data(), D, n_tok, s.router.data(), E);  // [T, D] -> [T, E]

  // Routing, in float64 for the sums (E is small).
  std::vector<int64_t> count(static_cast<size_t>(E), 0);
  std::vector<double> prob(static_cast<size_t>(E));
  std::vector<char> taken(static_cast<size_t>(E));
  for (int64_t t = 0; t < n_tok; t++) {
    const float* logit = s.router.data() + t * E;
    for (int64_t e = 0; e < E; e++) prob[e] = 1.0 / (1.0 + std::exp(-static_cast<double>(logit[e])));
    std::fill(taken.begin(), taken.end(), 0);
    double sum = 0;
    for (int64_t k = 0; k < K; k++) {
      int64_t best = -1;
      double best_score = 0;
      for (int64_t e = 0; e < E; e++) {
        const double score = prob[e] + static_cast<double>(lw.expert_bias[e]);
        if (!taken[e] && (best < 0 || score > best_score)) { best = e; best_score = score; }
      }
      taken[best] = 1;
      s.sel[t * K + k] = static_cast<int32_t>(best);
      sum += prob[best];
      count[best]++;
    }
    for (int64_t k = 0; k < K; k++) {
      s.sel_w[t * K + k] = static_cast<float>(prob[s.sel[t * K + k]] / (sum + 1e-6) * c.expert_scale);
    }
  }

  // Group the routed rows by expert: rows [offset[e], offset[e] + count[e]) belong to expert e.
  std::vector<int64_t> offset(static_cast<size_t>(E) + 1, 0);
  for (int64_t e = 0; e < E; e++) offset[e + 1] = offset[e] + count[e];
  std::vector<int64_t> fill(offset.begin(), offset.end() - 1);
  for (int64_t t = 0; t < n_tok; t++) {
    for (int64_t k = 0; k < K; k++) {
      const int64_t e = s.sel[t * K + k];
      const int64_t r = fill[e]++;
      s.rows[r] = static_cast<int32_t>(t);
      s.rows_w[r] = s.sel_w[t * K + k];
      std::memcpy(s.xe.data() + r * D, s.u.data() + t * D, D * sizeof(float));  // gather [R, D]
    }
  }

  // All selected experts in two passes: gate and up projections, then down projections.
  // Row block of expert e in the routed-row buffers: [offset[e], offset[e] + count[e]).
  std::vector<MatmulJob>& jobs = s.jobs;
  jobs.clear();
  for (int64_t e = 0; e < E; e++) {
    if (count[e] == 0) continue;
    const float* xe = s.xe.data() + offset[e] * D;
    jobs.push_back({&lw.exp_gate, e, xe, D, count[e], s.gate.data() + offset[e] * Fe, Fe});  // [n, D] -> [n, Fe]
    jobs.push_back({&lw.exp_up, e, xe, D, count[e], s.up.data() + offset[e] * Fe, Fe});      // [n, D] -> [n, Fe]
  }
  matmuls(jobs.data(), static_cast<int>(jobs.size()));
  const int64_t R = n_tok * K;
  pool_->parallel_for(R, 4, [&](int64_t r0, int64_t r1) {
    kernels_->swiglu_f32(s.gate.data() + r0 * Fe, s.gate.data() + r0 * Fe, s.up.data() + r0 * Fe, (r1 - r0) * Fe);
  });
  jobs.clear();
  for (int64_t e = 0; e < E; e++) {
    if (count[e] == 0) continue;
    jobs.push_back({&lw.exp_down, e, s.gate.data() + offset[e] * Fe, Fe, count[e], s.ye.data() + offset[e] * D, D});  // [n, Fe] -> [n, D]
  }
  matmuls(jobs.data(), static_cast<int>(jobs.size()));

  // Combine: each token sums its K expert outputs (in expert order, the grouping's order).
  std::fill(s.mix.begin(), s.mix.begin() + n_tok * D, 0.0f);
  for (int64_t r = 0; r < R; r++) {
    kernels_->axpy_f32(s.mix.data() + s.rows[r] * D, s.rows_w[r], s.ye.data() + r * D, D);
  }
}

// --- forward

void Lfm2Model::forward_pass(const Segment* segs, int n_segs, int64_t n_tok, const LogitsRow* want, int64_t n_want) {
  Scratch& s = *scratch_;
  const Lfm2Config& c = cfg_;
  const int64_t D = c.n_embd, V = c.n_vocab;
  const float eps = c.norm_eps;
  const cpu::CpuKernels& k = *kernels_;
  auto norm_rows = [&](const std::vector<float>& w, int64_t t0, int64_t t1) {
    pool_->parallel_for(t1 - t0, 4, [&](int64_t a, int64_t b) {
      for (int64_t t = t0 + a; t < t0 + b; t++) k.rmsnorm_f32(s.u.data() + t * D, s.x.data() + t * D, w.data(), D, eps);
    });
  };
  auto add_residual = [&]() {
    pool_->parallel_for(n_tok, 4, [&](int64_t a, int64_t b) {
      k.axpy_f32(s.x.data() + a * D, 1.0f, s.mix.data() + a * D, (b - a) * D);
    });
  };

  // Token embeddings (no norm here).
  for (int64_t t = 0; t < n_tok; t++) {
    k.dequant_row[static_cast<uint32_t>(w_.token_embd.type)](
        s.x.data() + t * D, w_.token_embd.data + s.tok[t] * w_.token_embd.row_bytes, D);  // [T, D]
  }

  batched_pass_ = n_segs > 1;  // every product of this pass, the LM head included (matmuls())
  for (int64_t il = 0; il < c.n_layers; il++) {
    const Lfm2LayerWeights& lw = w_.layers[il];
    // 1. operator norm
    norm_rows(lw.attn_norm, 0, n_tok);
    // 2. token mixer (per segment where it reads or writes a sequence's state)
    if (lw.kind == LayerKind::kConv) {
      short_conv_block(lw, segs, n_segs, il, n_tok);
    } else {
      attention_block(lw, segs, n_segs, il, n_tok);
    }
    // 3. residual
    add_residual();
    // 4. FFN norm
    norm_rows(lw.ffn_norm, 0, n_tok);
    // 5. dense SwiGLU or MoE (tokens of every segment grouped by expert together)
    if (c.is_moe_layer(il)) {
      moe_ffn(lw, n_tok);
    } else {
      dense_ffn(lw, n_tok);
    }
    // 6. residual
    add_residual();
  }
  for (int i = 0; i < n_segs; i++) segs[i].st->n_past += segs[i].n_rows;

  if (n_want == 0) return;
  // Final norm (token_embd_norm) of the wanted rows, gathered into rows [0, n_want) of u, and
  // the LM head over them in one product. Rows that are consecutive in one destination block
  // (one item's rows) write there directly; otherwise through s.logits, then scattered.
  pool_->parallel_for(n_want, 4, [&](int64_t a, int64_t b) {
    for (int64_t j = a; j < b; j++) k.rmsnorm_f32(s.u.data() + j * D, s.x.data() + want[j].row * D, w_.output_norm.data(), D, eps);
  });
  bool direct = true;
  for (int64_t j = 1; j < n_want && direct; j++) direct = want[j].dst == want[0].dst + j * V;
  if (direct) {
    matmul(w_.output, 0, s.u.data(), D, n_want, want[0].dst, V);  // [T', D] -> [T', V]
    return;
  }
  if (static_cast<int64_t>(s.logits.size()) < n_want * V) s.logits.resize(static_cast<size_t>(n_want * V));
  matmul(w_.output, 0, s.u.data(), D, n_want, s.logits.data(), V);  // [T', D] -> [T', V]
  for (int64_t j = 0; j < n_want; j++) std::memcpy(want[j].dst, s.logits.data() + j * V, V * sizeof(float));
}

Status Lfm2Model::forward(Lfm2State* st, const int32_t* tokens, int64_t n_tok, bool all_logits, float* out) {
  BatchItem item;
  item.st = st;
  item.tokens = tokens;
  item.n_tok = n_tok;
  item.all_logits = all_logits;
  item.out = out;
  return forward_batch(&item, 1);
}

Status Lfm2Model::forward_batch(const BatchItem* items, int n_items) {
  if (n_items <= 0 || !items) return Status(StatusCode::kInvalidArg, "[evaluate] no sequences to evaluate");
  // Validation of every item before any state changes. With one item the messages are
  // forward()'s; with several they name the item.
  auto where = [&](int i) { return n_items == 1 ? std::string() : "item " + std::to_string(i) + ": "; };
  int64_t total = 0;
  std::unordered_map<const Lfm2State*, int> seen;  // state -> first item
  for (int i = 0; i < n_items; i++) {
    const BatchItem& it = items[i];
    if (!it.st) return Status(StatusCode::kInvalidArg, "[evaluate] " + where(i) + "no sequence state");
    if (it.n_tok <= 0) return Status(StatusCode::kInvalidArg, "[evaluate] " + where(i) + "no tokens to evaluate");
    for (int64_t t = 0; t < it.n_tok; t++) {
      if (it.tokens[t] < 0 || it.tokens[t] >= cfg_.n_vocab) {
        return Status(StatusCode::kTokenRange, "[evaluate] " + where(i) + "token id " + std::to_string(it.tokens[t]) +
                                                   " at index " + std::to_string(t) + " is out of range (vocabulary has " +
                                                   std::to_string(cfg_.n_vocab) + " tokens)");
      }
    }
    if (it.st->n_past + it.n_tok > it.st->n_ctx) {
      return Status(StatusCode::kContextOverflow, "[evaluate] " + where(i) + "context overflow: " +
                                                      std::to_string(it.st->n_past) + " tokens in the sequence + " +
                                                      std::to_string(it.n_tok) + " new exceed the context size " +
                                                      std::to_string(it.st->n_ctx));
    }
    if (n_items > 1) {
      const auto [at, fresh] = seen.emplace(it.st, i);
      if (!fresh) {
        return Status(StatusCode::kInvalidArg, "[evaluate] items " + std::to_string(at->second) + " and " +
                                                   std::to_string(i) + " are the same sequence");
      }
    }
    if (!it.out) return Status(StatusCode::kInvalidArg, "[evaluate] " + where(i) + "no output buffer");
    total += it.n_tok;
  }

  std::lock_guard<std::mutex> lock(forward_mu_);
  try {
    const int64_t cap = gpu_ ? kGpuMaxBatchTokens : kMaxBatchTokens;
    if (!gpu_) ensure_scratch(std::min(total, cap));
    Scratch& s = *scratch_;
    const int64_t V = cfg_.n_vocab;
    std::vector<Segment> segs;
    std::vector<const int32_t*> seg_tokens;  // GPU passes: each segment's tokens
    std::vector<LogitsRow> want;
    int item = 0;
    int64_t done = 0;  // tokens of `item` already evaluated
    while (item < n_items) {
      // Fill one pass with contiguous pieces of the items, in order.
      segs.clear();
      seg_tokens.clear();
      want.clear();
      int64_t rows = 0;
      while (item < n_items && rows < cap) {
        const BatchItem& it = items[item];
        const int64_t n = std::min(it.n_tok - done, cap - rows);
        const int32_t seg = static_cast<int32_t>(segs.size());
        segs.push_back({it.st, rows, n, it.st->n_past});
        seg_tokens.push_back(it.tokens + done);
        if (!gpu_) {
          for (int64_t t = 0; t < n; t++) {
            s.tok[rows + t] = it.tokens[done + t];
            s.row_seg[rows + t] = seg;
          }
        }
        if (it.all_logits) {
          for (int64_t t = 0; t < n; t++) want.push_back({rows + t, it.out + (done + t) * V});
        } else if (done + n == it.n_tok) {
          want.push_back({rows + n - 1, it.out});
        }
        rows += n;
        done += n;
        if (done == it.n_tok) {
          item++;
          done = 0;
        }
      }
      if (gpu_) {
        LFM_RETURN_IF_ERROR(gpu_pass(segs.data(), seg_tokens.data(), static_cast<int>(segs.size()), want.data(),
                                     static_cast<int64_t>(want.size())));
      } else {
        forward_pass(segs.data(), static_cast<int>(segs.size()), rows, want.data(), static_cast<int64_t>(want.size()));
      }
    }
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "[evaluate] out of memory");
  }
  return Status::ok();
}

// The GPU runs the whole pass; logits come back for the wanted rows, straight into the caller's
// buffer when there is one row, else through one host block. A device error leaves the pass's
// sequences in an unknown state (their n_past is not advanced).
Status Lfm2Model::gpu_pass(const Segment* segs, const int32_t* const* seg_tokens, int n_segs, const LogitsRow* want,
                           int64_t n_want) {
  std::vector<cuda::CudaSegment> cs(static_cast<size_t>(n_segs));
  for (int i = 0; i < n_segs; i++) cs[i] = {segs[i].st->gpu.get(), segs[i].pos0, seg_tokens[i], segs[i].n_rows};
  std::vector<int32_t> rows(static_cast<size_t>(n_want));
  for (int64_t i = 0; i < n_want; i++) rows[i] = static_cast<int32_t>(want[i].row);
  const int64_t V = cfg_.n_vocab;
  if (n_want == 1) {
    LFM_RETURN_IF_ERROR(gpu_->forward(cs.data(), n_segs, rows.data(), 1, want[0].dst));
  } else {
    std::vector<float> block(static_cast<size_t>(n_want * V));
    LFM_RETURN_IF_ERROR(gpu_->forward(cs.data(), n_segs, rows.data(), static_cast<int>(n_want), block.data()));
    for (int64_t i = 0; i < n_want; i++) std::memcpy(want[i].dst, block.data() + i * V, static_cast<size_t>(V) * sizeof(float));
  }
  for (int i = 0; i < n_segs; i++) segs[i].st->n_past += segs[i].n_rows;
  return Status::ok();
}

}  // namespace lfm
