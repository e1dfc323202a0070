// SPDX-License-Identifier: MIT
// NativeModel / NativeSequence: type conversion and scheduling only; the core does the work.

#include "model_wrap.h"

#include <cstring>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "addon.h"
#include "convert.h"
#include "promise_worker.h"

namespace lfm::napi {

namespace {

const char* layer_kind_name(LayerKind k) { return k == LayerKind::kConv ? "conv" : "attention"; }

// Converts one metadata value; arrays longer than `max_array` become {type, length}.
Napi::Value metadata_value(Napi::Env env, const GgufValue& v, size_t max_array) {
  switch (v.type) {
    case GgufType::kString: return Napi::String::New(env, v.s);
    case GgufType::kBool: return Napi::Boolean::New(env, v.i != 0);
    case GgufType::kF32:
    case GgufType::kF64: return Napi::Number::New(env, v.f);
    case GgufType::kU64: return Napi::Number::New(env, static_cast<double>(v.u));
    case GgufType::kArray: {
      if (v.n_elems > max_array) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("type", std::string("array<") + gguf_type_name(v.elem_type) + ">");
        o.Set("length", Napi::Number::New(env, static_cast<double>(v.n_elems)));
        return o;
      }
      Napi::Array a = Napi::Array::New(env);
      uint32_t i = 0;
      for (int64_t x : v.ints) a.Set(i++, Napi::Number::New(env, static_cast<double>(x)));
      for (double x : v.floats) a.Set(i++, Napi::Number::New(env, x));
      for (const std::string& s : v.strings) a.Set(i++, Napi::String::New(env, s));
      return a;
    }
    default: return Napi::Number::New(env, static_cast<double>(v.i));
  }
}

}  // namespace

// --- loading

class LoadWorker : public PromiseWorker {
 public:
  // `on_progress`: a JavaScript function called with the fraction read (it must not throw),
  // or undefined.
  LoadWorker(Napi::Env env, std::string path, Lfm2LoadOptions opts, const Napi::FunctionReference& ctor,
             Napi::Value on_progress)
      : PromiseWorker(env, "lfm2:load", "load"), path_(std::move(path)), opts_(std::move(opts)), ctor_(ctor) {
    if (!on_progress.IsFunction()) return;
    progress_ = Napi::ThreadSafeFunction::New(env, on_progress.As<Napi::Function>(), "lfm2:loadProgress", 0, 1);
    // An unbounded queue: the core sends at most one call per percent (Lfm2LoadOptions::progress),
    // so the loading threads never wait and the event loop gets at most ~100 calls per load.
    opts_.progress = [this](double fraction) {
      double* f = new double(fraction);
      const napi_status st = progress_.NonBlockingCall(f, [](Napi::Env env, Napi::Function fn, double* f) {
        const double v = *f;
        delete f;
        if (env != nullptr && fn != nullptr) fn.Call({Napi::Number::New(env, v)});
      });
      if (st != napi_ok) delete f;  // not queued (the environment is closing)
    };
  }

 private:
  void Release() override {
    if (progress_) progress_.Release();
  }

  Status Run() override {
    std::unique_ptr<Lfm2Model> m;
    LFM_RETURN_IF_ERROR(Lfm2Model::load(path_, opts_, &m));
    model_ = std::shared_ptr<Lfm2Model>(std::move(m));
    return Status::ok();
  }

  Napi::Value Result(Napi::Env env) override {
    return ctor_.New({Napi::External<std::shared_ptr<Lfm2Model>>::New(env, &model_)});
  }

  std::string path_;
  Lfm2LoadOptions opts_;
  const Napi::FunctionReference& ctor_;
  std::shared_ptr<Lfm2Model> model_;
  Napi::ThreadSafeFunction progress_;
};

Napi::Value load_model(const Napi::CallbackInfo& info, const Napi::FunctionReference& model_ctor, cpu::Isa isa) {
  Napi::Env env = info.Env();
  LFM_NAPI_THROW_IF(info.Length() < 2 || !info[0].IsString() || !info[1].IsObject(), env,
                    "loadModel(path, options) expects a string and an object");
  Lfm2LoadOptions opts;
  opts.isa = isa;
  const Napi::Object o = info[1].As<Napi::Object>();
  opts.n_threads = static_cast<int>(get_int(o, "threads", 0));
  opts.use_mmap = o.Has("useMmap") && o.Get("useMmap").ToBoolean().Value();
  const std::string device = o.Has("device") && o.Get("device").IsString()
                                 ? o.Get("device").As<Napi::String>().Utf8Value() : "auto";
  opts.device = device == "cpu" ? Lfm2LoadOptions::Device::kCpu
                : device == "cuda" ? Lfm2LoadOptions::Device::kCuda : Lfm2LoadOptions::Device::kAuto;
  const std::string act = o.Has("activations") && o.Get("activations").IsString()
                              ? o.Get("activations").As<Napi::String>().Utf8Value() : "q16";
  opts.activations = act == "f32" ? Lfm2LoadOptions::Activations::kF32
                     : act == "q8" ? Lfm2LoadOptions::Activations::kQ8 : Lfm2LoadOptions::Activations::kQ16;
  const Napi::Value on_progress = o.Has("onProgress") ? o.Get("onProgress") : env.Undefined();
  return (new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), opts, model_ctor, on_progress))->Start();
}

// --- NativeModel

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod("info", &ModelWrap::Info), InstanceMethod("vocab", &ModelWrap::Vocab),
                      InstanceMethod("metadata", &ModelWrap::Metadata),
                      InstanceMethod("tensors", &ModelWrap::Tensors),
                      InstanceMethod("createSequence", &ModelWrap::CreateSequence),
                      InstanceMethod("evaluateBatch", &ModelWrap::EvaluateBatch),
                      InstanceMethod("dispose", &ModelWrap::Dispose),
                      InstanceAccessor("disposed", &ModelWrap::Disposed, nullptr)});
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    code_error(info.Env(), StatusCode::kInvalidArg, "NativeModel cannot be constructed directly; use loadModel()")
        .ThrowAsJavaScriptException();
    return;
  }
  model_ = *info[0].As<Napi::External<std::shared_ptr<Lfm2Model>>>().Data();
}

bool ModelWrap::check_alive(Napi::Env env, const char* op) {
  if (model_) return true;
  code_error(env, StatusCode::kDisposed, std::string("[") + op + "] the model has been disposed").ThrowAsJavaScriptException();
  return false;
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check_alive(env, "info")) return env.Undefined();
  const Lfm2Config& c = model_->config();
  const GgufFile& f = model_->gguf();
  Napi::Object o = Napi::Object::New(env);
  o.Set("architecture", c.arch);
  o.Set("name", c.name);
  o.Set("vocabSize", Napi::Number::New(env, static_cast<double>(c.n_vocab)));
  o.Set("contextLength", Napi::Number::New(env, static_cast<double>(c.context_length)));
  o.Set("embeddingLength", Napi::Number::New(env, static_cast<double>(c.n_embd)));
  o.Set("layerCount", Napi::Number::New(env, static_cast<double>(c.n_layers)));
  Napi::Array kinds = Napi::Array::New(env, c.n_layers);
  Napi::Array kv = Napi::Array::New(env, c.n_layers);
  Napi::Array ffn = Napi::Array::New(env, c.n_layers);
  for (int64_t il = 0; il < c.n_layers; il++) {
    kinds.Set(static_cast<uint32_t>(il), layer_kind_name(c.layer_kinds[il]));
    kv.Set(static_cast<uint32_t>(il), Napi::Number::New(env, static_cast<double>(c.n_kv_heads[il])));
    ffn.Set(static_cast<uint32_t>(il), Napi::Number::New(env, static_cast<double>(c.is_moe_layer(il) ? 0 : c.ffn_dim[il])));
  }
  o.Set("layerKinds", kinds);
  o.Set("headCount", Napi::Number::New(env, static_cast<double>(c.n_heads)));
  o.Set("headCountKv", kv);
  o.Set("headDim", Napi::Number::New(env, static_cast<double>(c.head_dim)));
  o.Set("convLCache", Napi::Number::New(env, static_cast<double>(c.conv_l)));
  o.Set("feedForwardLength", ffn);
  o.Set("expertCount", Napi::Number::New(env, static_cast<double>(c.n_experts)));
  o.Set("expertUsedCount", Napi::Number::New(env, static_cast<double>(c.n_experts_used)));
  o.Set("expertFeedForwardLength", Napi::Number::New(env, static_cast<double>(c.expert_ffn_dim)));
  o.Set("leadingDenseBlockCount", Napi::Number::New(env, static_cast<double>(c.n_experts > 0 ? c.n_dense_lead : 0)));
  o.Set("normEps", Napi::Number::New(env, c.norm_eps));
  o.Set("ropeFreqBase", Napi::Number::New(env, c.rope_theta));
  std::map<std::string, double> types;
  double n_params = 0;
  for (const GgufTensor& t : f.tensors()) {
    const TypeTraits& tr = type_traits(t.type_id);
    types[tr.name ? tr.name : "unknown"] += 1;
    n_params += static_cast<double>(t.n_elements);
  }
  Napi::Object tt = Napi::Object::New(env);
  for (auto& [name, count] : types) tt.Set(name, Napi::Number::New(env, count));
  o.Set("tensorTypes", tt);
  o.Set("parameterCount", Napi::Number::New(env, n_params));
  o.Set("fileSize", Napi::Number::New(env, static_cast<double>(f.file_size())));
  o.Set("ggufVersion", Napi::Number::New(env, f.version()));
  o.Set("threads", Napi::Number::New(env, model_->n_threads()));
  o.Set("isa", model_->isa_name());
  o.Set("activations", model_->activations());
  o.Set("useMmap", Napi::Boolean::New(env, !f.in_memory()));
  o.Set("device", model_->device());
  if (model_->gpu()) o.Set("deviceName", model_->device_name());
  if (!model_->device_fallback().empty()) o.Set("deviceFallback", model_->device_fallback());
  return o;
}

Napi::Value ModelWrap::Vocab(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check_alive(env, "vocab")) return env.Undefined();
  const GgufFile& f = model_->gguf();
  Napi::Object o = Napi::Object::New(env);
  auto strings = [&](const char* key) {
    Napi::Array a = Napi::Array::New(env);
    if (const GgufValue* v = f.find(key)) {
      for (size_t i = 0; i < v->strings.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::String::New(env, v->strings[i]));
    }
    return a;
  };
  o.Set("tokens", strings("tokenizer.ggml.tokens"));
  o.Set("merges", strings("tokenizer.ggml.merges"));
  Napi::Int32Array types = Napi::Int32Array::New(env, 0);
  if (const GgufValue* v = f.find("tokenizer.ggml.token_type")) {
    types = Napi::Int32Array::New(env, v->ints.size());
    for (size_t i = 0; i < v->ints.size(); i++) types[i] = static_cast<int32_t>(v->ints[i]);
  }
  o.Set("tokenTypes", types);
  for (const auto& [key, name] : std::vector<std::pair<const char*, const char*>>{
           {"tokenizer.ggml.model", "model"}, {"tokenizer.ggml.pre", "pre"}, {"tokenizer.chat_template", "chatTemplate"}}) {
    if (const GgufValue* v = f.find(key); v && v->type == GgufType::kString) o.Set(name, v->s);
  }
  for (const auto& [key, name] : std::vector<std::pair<const char*, const char*>>{
           {"tokenizer.ggml.bos_token_id", "bosId"}, {"tokenizer.ggml.eos_token_id", "eosId"},
           {"tokenizer.ggml.eot_token_id", "eotId"}, {"tokenizer.ggml.padding_token_id", "padId"}}) {
    if (const GgufValue* v = f.find(key); v && v->is_integer()) o.Set(name, Napi::Number::New(env, static_cast<double>(v->i)));
  }
  for (const auto& [key, name] : std::vector<std::pair<const char*, const char*>>{
           {"tokenizer.ggml.add_bos_token", "addBos"}, {"tokenizer.ggml.add_eos_token", "addEos"}}) {
    if (const GgufValue* v = f.find(key); v && v->type == GgufType::kBool) o.Set(name, Napi::Boolean::New(env, v->i != 0));
  }
  return o;
}

Napi::Value ModelWrap::Metadata(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check_alive(env, "metadata")) return env.Undefined();
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [key, v] : model_->gguf().metadata()) o.Set(key, metadata_value(env, v, 256));
  return o;
}

Napi::Value ModelWrap::Tensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check_alive(env, "tensors")) return env.Undefined();
  const auto& ts = model_->gguf().tensors();
  Napi::Array out = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) {
    const GgufTensor& t = ts[i];
    const TypeTraits& tr = type_traits(t.type_id);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", t.name);
    o.Set("type", tr.name ? tr.name : "unknown");
    Napi::Array shape = Napi::Array::New(env, t.ne.size());
    for (size_t d = 0; d < t.ne.size(); d++) shape.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(t.ne[d])));
    o.Set("shape", shape);
    o.Set("bytes", Napi::Number::New(env, static_cast<double>(t.n_bytes)));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Value ModelWrap::CreateSequence(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check_alive(env, "createSequence")) return env.Undefined();
  LFM_NAPI_THROW_IF(info.Length() < 1 || !info[0].IsNumber(), env, "createSequence(contextSize) expects a number");
  SequenceWrap::Init init;
  init.model = model_;
  init.model_disposed = disposed_;
  std::unique_ptr<Lfm2State> st;
  Status s = model_->create_state(info[0].As<Napi::Number>().Int64Value(), &st);
  if (!s.is_ok()) {
    status_error(env, s).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  init.state = std::shared_ptr<Lfm2State>(std::move(st));
  auto ext = Napi::External<SequenceWrap::Init>::New(env, &init);
  return addon_data(env)->sequence_ctor.New({ext});
}

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  // In-flight workers keep their own reference; the mapping goes when the last one finishes.
  disposed_->store(true);
  model_.reset();
  return info.Env().Undefined();
}

Napi::Value ModelWrap::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !model_); }

// --- NativeSequence

// Evaluations of one or several sequences of one model, in one forward_batch (every evaluation
// goes through here: lib/sequence.ts batches them). The worker holds the model and every state
// (shared_ptr) and a reference to every sequence object, so that disposing a sequence or the
// model while the batch runs frees nothing under it.
class EvaluateBatchWorker : public PromiseWorker {
 public:
  struct Item {
    SequenceWrap* seq;
    std::shared_ptr<Lfm2State> state;
    std::vector<int32_t> tokens;
    bool all_logits;
    std::vector<float> logits;
  };

  EvaluateBatchWorker(Napi::Env env, std::shared_ptr<Lfm2Model> model, std::vector<Item> items)
      : PromiseWorker(env, "lfm2:evaluateBatch", "evaluate"), model_(std::move(model)), items_(std::move(items)) {
    for (Item& it : items_) {
      it.seq->busy_ = true;
      it.seq->Ref();  // keep the JS object alive until the promise settles
    }
  }

 private:
  Status Run() override {
    const int64_t V = model_->config().n_vocab;
    std::vector<Lfm2Model::BatchItem> batch(items_.size());
    for (size_t i = 0; i < items_.size(); i++) {
      Item& it = items_[i];
      const int64_t n = static_cast<int64_t>(it.tokens.size());
      it.logits.resize(static_cast<size_t>((it.all_logits ? n : 1) * V));
      batch[i].st = it.state.get();
      batch[i].tokens = it.tokens.data();
      batch[i].n_tok = n;
      batch[i].all_logits = it.all_logits;
      batch[i].out = it.logits.data();
    }
    return model_->forward_batch(batch.data(), static_cast<int>(batch.size()));
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, items_.size());
    for (size_t i = 0; i < items_.size(); i++) {
      const std::vector<float>& l = items_[i].logits;
      Napi::Float32Array a = Napi::Float32Array::New(env, l.size());
      std::memcpy(a.Data(), l.data(), l.size() * sizeof(float));
      out.Set(static_cast<uint32_t>(i), a);
    }
    return out;
  }

  void Release() override {
    for (Item& it : items_) {
      it.seq->busy_ = false;
      it.seq->length_ = it.state->n_past;
      it.seq->Unref();
    }
  }

  std::shared_ptr<Lfm2Model> model_;
  std::vector<Item> items_;
};

Napi::Value ModelWrap::EvaluateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  static const char* kUsage = "evaluateBatch(items: {seq: NativeSequence, tokens: Int32Array, allLogits: boolean}[])";
  LFM_NAPI_THROW_IF(info.Length() < 1 || !info[0].IsArray(), env, kUsage);
  if (!check_alive(env, "evaluate")) return env.Undefined();
  const Napi::Array arr = info[0].As<Napi::Array>();
  const uint32_t n = arr.Length();
  LFM_NAPI_THROW_IF(n == 0, env, "[evaluate] evaluateBatch needs at least one item");
  LFM_NAPI_THROW_IF(n > 65536, env, "[evaluate] evaluateBatch takes at most 65536 items");
  const Napi::Function seq_ctor = addon_data(env)->sequence_ctor.Value();
  std::vector<EvaluateBatchWorker::Item> items;
  items.reserve(n);
  std::unordered_set<const SequenceWrap*> seen;
  // Check everything before marking any sequence busy: a throw leaves no sequence changed.
  for (uint32_t i = 0; i < n; i++) {
    const std::string at = "[evaluate] item " + std::to_string(i) + ": ";
    const Napi::Value v = arr.Get(i);
    LFM_NAPI_THROW_IF(!v.IsObject(), env, at + kUsage);
    const Napi::Object o = v.As<Napi::Object>();
    const Napi::Value sv = o.Get("seq"), tv = o.Get("tokens"), lv = o.Get("allLogits");
    LFM_NAPI_THROW_IF(!sv.IsObject() || !sv.As<Napi::Object>().InstanceOf(seq_ctor), env, at + "seq must be a NativeSequence");
    LFM_NAPI_THROW_IF(!tv.IsTypedArray() || tv.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array, env,
                      at + "tokens must be an Int32Array");
    LFM_NAPI_THROW_IF(!lv.IsBoolean(), env, at + "allLogits must be a boolean");
    SequenceWrap* seq = SequenceWrap::Unwrap(sv.As<Napi::Object>());
    if (!seq->check_usable(env, "evaluate")) return env.Undefined();
    LFM_NAPI_THROW_IF(seq->model_.get() != model_.get(), env, at + "the sequence belongs to another model");
    LFM_NAPI_THROW_IF(!seen.insert(seq).second, env, at + "the sequence appears twice in the batch");
    const Napi::Int32Array t = tv.As<Napi::Int32Array>();
    items.push_back({seq, seq->state_, std::vector<int32_t>(t.Data(), t.Data() + t.ElementLength()),
                     lv.As<Napi::Boolean>().Value(), {}});
  }
  return (new EvaluateBatchWorker(env, model_, std::move(items)))->Start();
}

Napi::Function SequenceWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeSequence",
                     {InstanceMethod("reset", &SequenceWrap::Reset),
                      InstanceMethod("dispose", &SequenceWrap::Dispose),
                      InstanceMethod("convState", &SequenceWrap::ConvState),
                      InstanceMethod("rewind", &SequenceWrap::Rewind),
                      InstanceMethod("exportState", &SequenceWrap::ExportState),
                      InstanceMethod("importState", &SequenceWrap::ImportState),
                      InstanceAccessor("length", &SequenceWrap::Length, nullptr),
                      InstanceAccessor("contextSize", &SequenceWrap::ContextSize, nullptr),
                      InstanceAccessor("stateBytes", &SequenceWrap::StateBytes, nullptr)});
}

SequenceWrap::SequenceWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SequenceWrap>(info) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    code_error(info.Env(), StatusCode::kInvalidArg, "NativeSequence cannot be constructed directly; use createSequence()")
        .ThrowAsJavaScriptException();
    return;
  }
  Init* init = info[0].As<Napi::External<Init>>().Data();
  model_ = init->model;
  model_disposed_ = init->model_disposed;
  state_ = init->state;
  n_ctx_ = state_->n_ctx;
}

bool SequenceWrap::check_usable(Napi::Env env, const char* op) {
  if (disposed_) {
    code_error(env, StatusCode::kDisposed, std::string("[") + op + "] the sequence has been disposed").ThrowAsJavaScriptException();
    return false;
  }
  if (model_disposed_->load()) {
    code_error(env, StatusCode::kDisposed, std::string("[") + op + "] the model has been disposed").ThrowAsJavaScriptException();
    return false;
  }
  if (busy_) {
    code_error(env, StatusCode::kInvalidArg, std::string("[") + op + "] the sequence is busy: an evaluation or a state operation of it is running")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

Napi::Value SequenceWrap::Reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!check_usable(env, "reset")) return env.Undefined();
  const Status st = state_->reset();
  length_ = 0;
  if (!st.is_ok()) status_error(env, st).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value SequenceWrap::Dispose(const Napi::CallbackInfo& info) {
  // An in-flight worker holds its own references to the state and the model.
  disposed_ = true;
  state_.reset();
  model_.reset();
  return info.Env().Undefined();
}

Napi::Value SequenceWrap::Length(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(length_)); }
Napi::Value SequenceWrap::ContextSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(n_ctx_)); }
Napi::Value SequenceWrap::StateBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), state_ ? static_cast<double>(state_->bytes()) : 0.0);
}

}  // namespace lfm::napi
