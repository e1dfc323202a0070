// SPDX-License-Identifier: MIT
// NativeSequence's state operations: convState / rewind (synchronous: a few rows), exportState /
// importState (a worker thread: the whole KV cache). Type conversion and scheduling only; the
// core (native/models/lfm2_state.cpp) checks and copies.

#include <cmath>
#include <string>

#include "model_wrap.h"
#include "promise_worker.h"

namespace lfm::napi {

// exportState / importState on a worker thread. Like an evaluation, the worker holds the model,
// the state and the buffer, and keeps the sequence busy (no evaluation or other state operation
// of it meanwhile) and referenced until it completes. The export buffer is V8's, allocated here
// and filled by the worker before JavaScript can see it; the import buffer is read in place, as
// Node's own fs.write reads its buffer (the caller must not change it before the promise settles).
class StateWorker : public PromiseWorker {
 public:
  enum class Op { kExport, kImport };

  StateWorker(Napi::Env env, SequenceWrap* seq, Op op, Napi::ArrayBuffer buffer)
      : PromiseWorker(env, op == Op::kExport ? "lfm2:exportState" : "lfm2:importState",
                      op == Op::kExport ? "exportState" : "importState"),
        seq_(seq), op_(op), model_(seq->model_), state_(seq->state_), buffer_(Napi::Persistent(buffer)),
        data_(static_cast<uint8_t*>(buffer.Data())), size_(buffer.ByteLength()) {
    seq_->busy_ = true;
    seq_->Ref();
  }

 private:
  Status Run() override {
    return op_ == Op::kExport ? model_->export_state(*state_, data_, size_) : model_->import_state(state_.get(), data_, size_);
  }

  Napi::Value Result(Napi::Env env) override { return op_ == Op::kExport ? buffer_.Value() : env.Undefined(); }

  void Release() override {
    seq_->busy_ = false;
    seq_->length_ = state_->n_past;
    seq_->Unref();
  }

  SequenceWrap* seq_;
  Op op_;
  std::shared_ptr<Lfm2Model> model_;
  std::shared_ptr<Lfm2State> state_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  uint8_t* data_;
  size_t size_;
};

Napi::Value SequenceWrap::ConvState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check_usable(env, "convState")) return env.Undefined();
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(model_->conv_state_floats()));
  const Status s = model_->conv_state(*state_, out.Data());
  if (!s.is_ok()) {
    status_error(env, s).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return out;
}

Napi::Value SequenceWrap::Rewind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LFM_NAPI_THROW_IF(info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray() ||
                        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array,
                    env, "[rewind] rewind(length: number, conv: Float32Array)");
  const double length = info[0].As<Napi::Number>().DoubleValue();
  LFM_NAPI_THROW_IF(std::floor(length) != length, env, "[rewind] length must be an integer");
  if (!check_usable(env, "rewind")) return env.Undefined();
  const Napi::Float32Array conv = info[1].As<Napi::Float32Array>();
  // A length beyond int64 is out of range for the core's check either way.
  const int64_t n = std::fabs(length) < 9.0e18 ? static_cast<int64_t>(length) : -1;
  const Status s = model_->rewind(state_.get(), n, conv.Data(), static_cast<int64_t>(conv.ElementLength()));
  length_ = state_->n_past;
  if (!s.is_ok()) status_error(env, s).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value SequenceWrap::ExportState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check_usable(env, "exportState")) return env.Undefined();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, model_->state_export_bytes(state_->n_past));
  return (new StateWorker(env, this, StateWorker::Op::kExport, buffer))->Start();
}

Napi::Value SequenceWrap::ImportState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LFM_NAPI_THROW_IF(info.Length() < 1 || !info[0].IsArrayBuffer(), env, "[importState] importState(state: ArrayBuffer)");
  if (!check_usable(env, "importState")) return env.Undefined();
  return (new StateWorker(env, this, StateWorker::Op::kImport, info[0].As<Napi::ArrayBuffer>()))->Start();
}

}  // namespace lfm::napi
