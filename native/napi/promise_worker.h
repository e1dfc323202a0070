// SPDX-License-Identifier: MIT
// PromiseWorker: the AsyncWorker of every slow NativeModel / NativeSequence operation (load,
// evaluate, export and import of a state): the core's Status on a worker thread, then a promise.
#pragma once

#include <napi.h>

#include <new>
#include <string>
#include <utility>

#include "convert.h"

namespace lfm::napi {

// Run() computes on a worker thread and returns the core's Status (an exception thrown there
// becomes kOutOfMemory / kInternal naming the operation: nothing crosses the thread). Back on
// the main thread Release() runs first, then the promise rejects with the Status as an error
// with .code, or resolves to Result().
class PromiseWorker : public Napi::AsyncWorker {
 public:
  // Queues the worker (which deletes itself once settled); returns its promise.
  Napi::Promise Start() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  // `op` names the operation in messages: "[op] ...".
  PromiseWorker(Napi::Env env, const char* resource, std::string op)
      : Napi::AsyncWorker(env, resource), deferred_(Napi::Promise::Deferred::New(env)), op_(std::move(op)) {}

  virtual Status Run() = 0;                       // worker thread; no N-API
  virtual Napi::Value Result(Napi::Env env) = 0;  // main thread, after a successful Run()
  virtual void Release() {}                       // main thread, before the promise settles

 private:
  void Execute() override {
    try {
      status_ = Run();
    } catch (const std::bad_alloc&) {
      status_ = Status(StatusCode::kOutOfMemory, "[" + op_ + "] out of memory");
    } catch (const std::exception& e) {
      status_ = Status(StatusCode::kInternal, "[" + op_ + "] " + e.what());
    } catch (...) {
      status_ = Status(StatusCode::kInternal, "[" + op_ + "] unknown failure");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Release();
    if (!status_.is_ok()) {
      deferred_.Reject(status_error(env, status_).Value());
      return;
    }
    deferred_.Resolve(Result(env));
  }

  void OnError(const Napi::Error& e) override {
    Release();
    deferred_.Reject(e.Value());
  }

  Napi::Promise::Deferred deferred_;
  std::string op_;
  Status status_;
};

}  // namespace lfm::napi
