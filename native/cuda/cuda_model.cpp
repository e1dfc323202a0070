// SPDX-License-Identifier: MIT
#include "cuda_model.h"

namespace lfm::cuda {

namespace {

lfm_cuda_matrix to_c(const MatrixRef& m) {
  lfm_cuda_matrix c{};
  c.data = m.data;
  c.type = static_cast<uint32_t>(m.type);
  c.n_rows = m.data ? m.n_rows : 0;
  c.n_cols = m.data ? m.n_cols : 0;
  c.row_bytes = m.row_bytes;
  c.n_mats = m.n_mats;
  return c;
}

const float* ptr(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

}  // namespace

Status CudaSeq::reset() {
  char err[512] = {0};
  return backend_status(api_->seq_reset(s_, err, sizeof err), "cuda:reset", err);
}

Status CudaSeq::read_state(int64_t n_tokens, float* conv, float* kv) const {
  char err[512] = {0};
  return backend_status(api_->seq_read_state(s_, n_tokens, conv, kv, err, sizeof err), "cuda:state", err);
}

Status CudaSeq::write_state(int64_t n_tokens, const float* conv, const float* kv) {
  char err[512] = {0};
  return backend_status(api_->seq_write_state(s_, n_tokens, conv, kv, err, sizeof err), "cuda:state", err);
}

Status CudaModel::create(const Lfm2Config& cfg, const Lfm2Weights& w, int64_t max_batch_tokens,
                         const UploadProgress& on_upload, std::unique_ptr<CudaModel>* out) {
  const BackendApi* api = backend();
  if (!api) return Status(StatusCode::kDeviceUnavailable, "[load] no usable CUDA device: " + probe().reason);
  std::vector<lfm_cuda_layer> layers(static_cast<size_t>(cfg.n_layers));
  for (int64_t il = 0; il < cfg.n_layers; il++) {
    const Lfm2LayerWeights& s = w.layers[il];
    lfm_cuda_layer& l = layers[il];
    l.is_attention = s.kind == LayerKind::kAttention ? 1 : 0;
    l.is_moe = cfg.is_moe_layer(il) ? 1 : 0;
    l.n_kv_heads = cfg.n_kv_heads[il];
    l.attn_norm = ptr(s.attn_norm);
    l.ffn_norm = ptr(s.ffn_norm);
    l.conv_in = to_c(s.conv_in);
    l.conv_w = ptr(s.conv_w);
    l.conv_out = to_c(s.conv_out);
    l.wq = to_c(s.wq);
    l.wk = to_c(s.wk);
    l.wv = to_c(s.wv);
    l.wo = to_c(s.wo);
    l.q_norm = ptr(s.q_norm);
    l.k_norm = ptr(s.k_norm);
    l.ffn_gate = to_c(s.ffn_gate);
    l.ffn_up = to_c(s.ffn_up);
    l.ffn_down = to_c(s.ffn_down);
    l.router = ptr(s.router);
    l.expert_bias = ptr(s.expert_bias);
    l.exp_gate = to_c(s.exp_gate);
    l.exp_up = to_c(s.exp_up);
    l.exp_down = to_c(s.exp_down);
  }
  lfm_cuda_model_desc d{};
  d.n_vocab = cfg.n_vocab;
  d.n_embd = cfg.n_embd;
  d.n_layers = cfg.n_layers;
  d.n_heads = cfg.n_heads;
  d.head_dim = cfg.head_dim;
  d.conv_l = cfg.conv_l;
  d.n_experts = cfg.n_experts;
  d.n_experts_used = cfg.n_experts_used;
  d.expert_ffn_dim = cfg.expert_ffn_dim;
  d.norm_eps = cfg.norm_eps;
  d.rope_theta = cfg.rope_theta;
  d.expert_scale = cfg.expert_scale;
  d.layers = layers.data();
  d.token_embd = to_c(w.token_embd);
  d.output = to_c(w.output);
  d.output_norm = ptr(w.output_norm);
  d.max_batch_tokens = max_batch_tokens;
  if (on_upload) {
    d.on_upload = [](void* user, uint64_t done, uint64_t total) { (*static_cast<const UploadProgress*>(user))(done, total); };
    d.on_upload_user = const_cast<UploadProgress*>(&on_upload);
  }
  std::unique_ptr<CudaModel> m(new CudaModel());
  m->api_ = api;
  m->max_batch_tokens_ = max_batch_tokens;
  m->device_name_ = probe().device.name;
  char err[512] = {0};
  LFM_RETURN_IF_ERROR(backend_status(api->model_create(0, &d, &m->m_, err, sizeof err), "load", err));
  *out = std::move(m);
  return Status::ok();
}

CudaModel::~CudaModel() {
  if (m_) api_->model_free(m_);
}

Status CudaModel::create_seq(int64_t n_ctx, std::unique_ptr<CudaSeq>* out) {
  lfm_cuda_seq* s = nullptr;
  char err[512] = {0};
  LFM_RETURN_IF_ERROR(backend_status(api_->seq_create(m_, n_ctx, &s, err, sizeof err), "sequence", err));
  *out = std::make_unique<CudaSeq>(api_, s);
  return Status::ok();
}

Status CudaModel::forward(const CudaSegment* segs, int n_segs, const int32_t* out_rows, int n_out, float* out) {
  return run(segs, n_segs, out_rows, n_out, out, nullptr, nullptr);
}

Status CudaModel::forward_sample(const CudaSegment* segs, int n_segs, const int32_t* out_rows, int n_out,
                                 const lfm_cuda_sampler* samplers, int32_t* tokens_out) {
  return run(segs, n_segs, out_rows, n_out, nullptr, samplers, tokens_out);
}

Status CudaModel::run(const CudaSegment* segs, int n_segs, const int32_t* out_rows, int n_out, float* logits,
                      const lfm_cuda_sampler* samplers, int32_t* tokens_out) {
  seqs_.clear();
  pos0_.clear();
  n_tok_.clear();
  tokens_.clear();
  for (int i = 0; i < n_segs; i++) {
    seqs_.push_back(segs[i].seq->handle());
    pos0_.push_back(segs[i].pos0);
    n_tok_.push_back(static_cast<int32_t>(segs[i].n_tok));
    tokens_.insert(tokens_.end(), segs[i].tokens, segs[i].tokens + segs[i].n_tok);
  }
  char err[512] = {0};
  return backend_status(api_->forward(m_, n_segs, seqs_.data(), pos0_.data(), n_tok_.data(), tokens_.data(), n_out,
                                      out_rows, logits, samplers, tokens_out, err, sizeof err),
                        "evaluate", err);
}

}  // namespace lfm::cuda
