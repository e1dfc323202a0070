// SPDX-License-Identifier: MIT
// The CUDA side of an Lfm2Model: its weights uploaded through the backend library, sequences
// whose conv state and KV cache live on the device, and batched forward passes. Plain C++ over
// the C interface of lfm_cuda.h (the backend is opened at run time by cuda_loader).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../core/status.h"
#include "../models/lfm2.h"
#include "cuda_loader.h"

namespace lfm::cuda {

// A sequence's device buffers (freed with it).
class CudaSeq {
 public:
  CudaSeq(const BackendApi* api, lfm_cuda_seq* s) : api_(api), s_(s) {}
  ~CudaSeq() { api_->seq_free(s_); }
  CudaSeq(const CudaSeq&) = delete;
  CudaSeq& operator=(const CudaSeq&) = delete;
  lfm_cuda_seq* handle() const { return s_; }
  uint64_t bytes() const { return api_->seq_bytes(s_); }
  Status reset();
  // The state to / from host memory in the exported layout (lfm2.h): the conv rows of every conv
  // layer, and K then V rows [0, n_tokens) of every attention layer; a null pointer skips its part.
  Status read_state(int64_t n_tokens, float* conv, float* kv) const;
  Status write_state(int64_t n_tokens, const float* conv, const float* kv);

 private:
  const BackendApi* api_;
  lfm_cuda_seq* s_;
};

// One segment of a pass: `n_tok` tokens appended to `seq` at position `pos0`.
struct CudaSegment {
  CudaSeq* seq;
  int64_t pos0;
  const int32_t* tokens;
  int64_t n_tok;
};

class CudaModel {
 public:
  // Uploads the weights to device 0. kDeviceUnavailable without a backend; kOutOfMemory when the
  // model does not fit; kUnsupportedType for a weight type the backend lacks. `on_upload`
  // (optional) is called on this thread with (bytes uploaded, total) after each layer.
  using UploadProgress = std::function<void(uint64_t done, uint64_t total)>;
  static Status create(const Lfm2Config& cfg, const Lfm2Weights& w, int64_t max_batch_tokens,
                       const UploadProgress& on_upload, std::unique_ptr<CudaModel>* out);
  ~CudaModel();
  CudaModel(const CudaModel&) = delete;
  CudaModel& operator=(const CudaModel&) = delete;

  Status create_seq(int64_t n_ctx, std::unique_ptr<CudaSeq>* out);
  // One pass over the segments (sum of n_tok <= max_batch_tokens); logits of the batch rows
  // `out_rows` into out[i * V]. The caller validated tokens and contexts.
  Status forward(const CudaSegment* segs, int n_segs, const int32_t* out_rows, int n_out, float* out);
  // As forward, sampling on the device instead: tokens_out[i] drawn from row out_rows[i] with
  // samplers[i]; only the token ids come back (batched generation without moving logits).
  Status forward_sample(const CudaSegment* segs, int n_segs, const int32_t* out_rows, int n_out,
                        const lfm_cuda_sampler* samplers, int32_t* tokens_out);
  uint64_t device_bytes() const { return api_->model_bytes(m_); }
  int64_t max_batch_tokens() const { return max_batch_tokens_; }
  const std::string& device_name() const { return device_name_; }

 private:
  CudaModel() = default;
  Status run(const CudaSegment* segs, int n_segs, const int32_t* out_rows, int n_out, float* logits,
             const lfm_cuda_sampler* samplers, int32_t* tokens_out);
  const BackendApi* api_ = nullptr;
  lfm_cuda_model* m_ = nullptr;
  int64_t max_batch_tokens_ = 0;
  std::string device_name_;
  // Reused per pass.
  std::vector<lfm_cuda_seq*> seqs_;
  std::vector<int64_t> pos0_;
  std::vector<int32_t> n_tok_, tokens_;
};

}  // namespace lfm::cuda
