// SPDX-License-Identifier: MIT
// JavaScript classes over the core: NativeModel (a loaded GGUF) and NativeSequence (one token
// stream with its own KV cache and conv state). Slow work runs in AsyncWorkers.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "../models/lfm2.h"

namespace lfm::napi {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);  // info[0]: External<std::shared_ptr<Lfm2Model>>

  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Vocab(const Napi::CallbackInfo& info);
  Napi::Value Metadata(const Napi::CallbackInfo& info);
  Napi::Value Tensors(const Napi::CallbackInfo& info);
  Napi::Value CreateSequence(const Napi::CallbackInfo& info);
  // evaluateBatch(items: {seq, tokens: Int32Array, allLogits: boolean}[]) -> Promise<Float32Array[]>:
  // one Lfm2Model::forward_batch on a worker thread for sequences of this model.
  Napi::Value EvaluateBatch(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);

 private:
  bool check_alive(Napi::Env env, const char* op);
  std::shared_ptr<Lfm2Model> model_;
  std::shared_ptr<std::atomic<bool>> disposed_ = std::make_shared<std::atomic<bool>>(false);
};

class SequenceWrap : public Napi::ObjectWrap<SequenceWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit SequenceWrap(const Napi::CallbackInfo& info);  // info[0]: External<SequenceInit>

  Napi::Value Reset(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Length(const Napi::CallbackInfo& info);
  Napi::Value ContextSize(const Napi::CallbackInfo& info);
  Napi::Value StateBytes(const Napi::CallbackInfo& info);
  // convState(): Float32Array; rewind(length, conv: Float32Array): void (synchronous, small).
  Napi::Value ConvState(const Napi::CallbackInfo& info);
  Napi::Value Rewind(const Napi::CallbackInfo& info);
  // exportState(): Promise<ArrayBuffer>; importState(state: ArrayBuffer): Promise<void> (worker thread).
  Napi::Value ExportState(const Napi::CallbackInfo& info);
  Napi::Value ImportState(const Napi::CallbackInfo& info);

  struct Init {
    std::shared_ptr<Lfm2Model> model;
    std::shared_ptr<std::atomic<bool>> model_disposed;
    std::shared_ptr<Lfm2State> state;
  };

 private:
  friend class EvaluateBatchWorker;
  friend class StateWorker;
  friend class ModelWrap;
  bool check_usable(Napi::Env env, const char* op);
  std::shared_ptr<Lfm2Model> model_;
  std::shared_ptr<std::atomic<bool>> model_disposed_;
  std::shared_ptr<Lfm2State> state_;  // shared with an in-flight worker
  int64_t length_ = 0;
  int64_t n_ctx_ = 0;
  bool busy_ = false;
  bool disposed_ = false;
};

// Starts loading on a worker thread; resolves to a NativeModel object.
Napi::Value load_model(const Napi::CallbackInfo& info, const Napi::FunctionReference& model_ctor, cpu::Isa isa);

}  // namespace lfm::napi
