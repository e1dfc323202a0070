// SPDX-License-Identifier: MIT
// _runKernel(isa, op, args): runs one CPU kernel from the table of `isa` and returns its output
// as a Float32Array. Test-only: it checks every size against the buffers (a wrong test must
// throw, never corrupt memory), then copies inputs it must not modify. Ops (args; defaults):
//   matmul         {type, w: Uint8Array, nRows, nCols, x, nTok, ldx=nCols, ldy=nRows,
//                   r0=0, r1=nRows, y?: initial output, wOffset=0}  -> y [nTok*ldy]
//   dequant_row    {type, w: Uint8Array, n, wOffset=0}               -> [n]
//   quantize_acts  {x, nCols, nTok, ldx=nCols, bits=16}  -> [hi | lo (nTok*ld each; lo zero for
//                   bits 8) | d (nTok*ld/32) | sum16 (nTok*ld/16)], ld = nCols rounded up to 128
//                   (QuantActs, dispatch.h: bits 16 = two int8 terms, 8 = one)
//   matmul_q16     matmul's args and bits=16; x is rounded by this ISA's quantize_acts, then the
//                  integer kernel runs                               -> y [nTok*ldy]
//   rmsnorm_f32    {x, w, eps, inPlace=false}                        -> y [n]
//   swiglu_f32     {gate, up, inPlace?: "gate" | "up"}               -> y [n]
//   short_conv_f32 {bcx, state, w, nChannels, L, nTok, ldBcx=3H, ldY=H, c0=0, c1=H, y?}
//                                                   -> [y (nTok*ldY) | state ((L-1)*H)]
//   attention_f32  {q, k, v, nKeys, headDim, ldKv=headDim, scale}    -> out [headDim]
//   axpy_f32       {y, a, x}                                         -> y [n]
//   parse_isa      {name, ceiling?: isa name}  -> [level] (0 scalar, 1 avx2, 2 avx512)
//   default_isa    {}                          -> [level] from LFM2_CPU_ISA
// Floats are Float32Array. Errors: TypeError / RangeError for bad arguments, Error with .code
// (ERR_LFM_*) for a Status from the CPU layer.

#include "kernel_hooks.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../core/status.h"
#include "../cpu/dispatch.h"
#include "../cpu/kernel_sets.h"

namespace lfm::napi {
namespace {

using cpu::CpuKernels;
using cpu::Isa;

[[noreturn]] void throw_type(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, "_runKernel: " + msg);
}
[[noreturn]] void throw_range(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, "_runKernel: " + msg);
}
[[noreturn]] void throw_status(Napi::Env env, const Status& s) {
  Napi::Error e = Napi::Error::New(env, s.message());
  e.Set("code", Napi::String::New(env, status_code_name(s.code())));
  throw e;
}

// --- argument readers (sharp's AttrAs* idea: one place that knows the JS shapes)

struct Args {
  Napi::Env env;
  Napi::Object o;

  bool has(const char* key) const { return o.Has(key) && !o.Get(key).IsUndefined(); }

  double number(const char* key) const {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) throw_type(env, std::string("args.") + key + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  int64_t integer(const char* key) const {
    const double d = number(key);
    if (d != static_cast<double>(static_cast<int64_t>(d)) || d < 0 || d > 9.0e15) {
      throw_range(env, std::string("args.") + key + " must be a non-negative integer");
    }
    return static_cast<int64_t>(d);
  }
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }

  Napi::Float32Array f32(const char* key) const {
    Napi::Value v = o.Get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw_type(env, std::string("args.") + key + " must be a Float32Array");
    }
    return v.As<Napi::Float32Array>();
  }
  Napi::Uint8Array u8(const char* key) const {
    Napi::Value v = o.Get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw_type(env, std::string("args.") + key + " must be a Uint8Array");
    }
    return v.As<Napi::Uint8Array>();
  }
  std::string str(const char* key) const {
    Napi::Value v = o.Get(key);
    if (!v.IsString()) throw_type(env, std::string("args.") + key + " must be a string");
    return v.As<Napi::String>().Utf8Value();
  }
};

void need(Napi::Env env, bool ok, const std::string& what) {
  if (!ok) throw_range(env, what);
}

Napi::Float32Array to_js(Napi::Env env, const float* data, size_t n) {
  Napi::Float32Array out = Napi::Float32Array::New(env, n);
  if (n > 0) std::memcpy(out.Data(), data, n * sizeof(float));
  return out;
}

std::vector<float> copy_of(const Napi::Float32Array& a) {
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

// Block size and bytes per block of the weight types the kernels take.
bool block_shape(uint32_t type, int64_t* block, int64_t* bytes) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::kF32: *block = 1; *bytes = 4; return true;
    case GgmlType::kF16: *block = 1; *bytes = 2; return true;
    case GgmlType::kBF16: *block = 1; *bytes = 2; return true;
    case GgmlType::kQ8_0: *block = kQK8_0; *bytes = sizeof(BlockQ8_0); return true;
    case GgmlType::kQ4_0: *block = kQK4_0; *bytes = sizeof(BlockQ4_0); return true;
    case GgmlType::kQ4_K: *block = 256; *bytes = 144; return true;
    case GgmlType::kQ5_K: *block = 256; *bytes = 176; return true;
    case GgmlType::kQ6_K: *block = 256; *bytes = 210; return true;  // ggml block_q6_K
    default: {
      // Any other known type (Q4_1, Q5_0, Q5_1, K-quants): the shape from the type table; the
      // caller still requires a kernel in the table.
      const TypeTraits& t = type_traits(type);
      if (t.name == nullptr) return false;
      *block = t.block_size;
      *bytes = t.type_size;
      return true;
    }
  }
}

// Weight bytes copied to a fresh 64-byte-aligned buffer, starting `offset` bytes in (lets
// tests check that block formats need no alignment).
struct WeightCopy {
  std::vector<uint8_t> storage;
  const uint8_t* data = nullptr;
  WeightCopy(const Napi::Uint8Array& w, int64_t offset) : storage(w.ByteLength() + offset + 64) {
    uint8_t* base = storage.data();
    base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
    std::memcpy(base + offset, w.Data(), w.ByteLength());
    data = base + offset;
  }
};

// --- ops

// Q16 buffers for nTok rows of n_cols columns.
struct Q16Buffers {
  int64_t ld;
  std::vector<int8_t> hi, lo;
  std::vector<float> d, sum16;
  bool one_term;
  Q16Buffers(int64_t n_cols, int64_t n_tok, bool one)
      : ld(cpu::quant_acts_ld(n_cols)),
        hi(static_cast<size_t>(ld * n_tok)), lo(hi.size()), d(hi.size() / 32), sum16(hi.size() / 16), one_term(one) {}
  cpu::QuantActs acts() { return cpu::QuantActs{hi.data(), one_term ? nullptr : lo.data(), d.data(), sum16.data(), ld}; }
};

// args.bits: 16 (two int8 terms, the default) or 8 (one term).
bool one_term_arg(const Args& a) {
  const int64_t bits = a.integer("bits", 16);
  need(a.env, bits == 16 || bits == 8, "bits must be 16 or 8");
  return bits == 8;
}

Napi::Value run_quantize_acts(const CpuKernels& k, const Args& a) {
  if (!k.quantize_acts) throw_range(a.env, "this ISA has no integer path");
  const int64_t n_cols = a.integer("nCols"), n_tok = a.integer("nTok"), ldx = a.integer("ldx", n_cols);
  Napi::Float32Array x = a.f32("x");
  need(a.env, ldx >= n_cols, "ldx must be >= nCols");
  need(a.env, n_tok == 0 || static_cast<int64_t>(x.ElementLength()) >= (n_tok - 1) * ldx + n_cols, "x is too short");
  Q16Buffers q(n_cols, n_tok, one_term_arg(a));
  k.quantize_acts(q.acts(), x.Data(), ldx, n_cols, 0, n_tok);
  std::vector<float> out;
  out.reserve(q.hi.size() * 2 + q.d.size() + q.sum16.size());
  out.insert(out.end(), q.hi.begin(), q.hi.end());
  out.insert(out.end(), q.lo.begin(), q.lo.end());
  out.insert(out.end(), q.d.begin(), q.d.end());
  out.insert(out.end(), q.sum16.begin(), q.sum16.end());
  return to_js(a.env, out.data(), out.size());
}

Napi::Value run_matmul(const CpuKernels& k, const Args& a, bool q16) {
  const int64_t type = a.integer("type");
  int64_t block = 0, block_bytes = 0;
  if (type >= kGgmlTypeCount || !block_shape(static_cast<uint32_t>(type), &block, &block_bytes) ||
      (q16 ? k.matmul_q16[type] == nullptr || k.quantize_acts == nullptr : k.matmul[type] == nullptr)) {
    throw_range(a.env, std::string("no ") + (q16 ? "matmul_q16" : "matmul") + " kernel for type " + std::to_string(type));
  }
  const int64_t n_rows = a.integer("nRows"), n_cols = a.integer("nCols"), n_tok = a.integer("nTok");
  const int64_t ldx = a.integer("ldx", n_cols), ldy = a.integer("ldy", n_rows);
  const int64_t r0 = a.integer("r0", 0), r1 = a.integer("r1", n_rows);
  need(a.env, n_cols % block == 0, "nCols must be a multiple of the block size");
  const int64_t row_bytes = n_cols / block * block_bytes;
  Napi::Uint8Array w = a.u8("w");
  Napi::Float32Array x = a.f32("x");
  need(a.env, static_cast<int64_t>(w.ByteLength()) >= n_rows * row_bytes, "w is too short");
  need(a.env, ldx >= n_cols && ldy >= n_rows && r0 <= r1 && r1 <= n_rows, "bad ldx/ldy/r0/r1");
  need(a.env, n_tok == 0 || static_cast<int64_t>(x.ElementLength()) >= (n_tok - 1) * ldx + n_cols,
       "x is too short");
  std::vector<float> y(static_cast<size_t>(n_tok * ldy), 0.0f);
  if (a.has("y")) {
    Napi::Float32Array y0 = a.f32("y");
    need(a.env, y0.ElementLength() == y.size(), "y must have nTok*ldy elements");
    std::memcpy(y.data(), y0.Data(), y.size() * sizeof(float));
  }
  WeightCopy wc(w, a.integer("wOffset", 0));
  if (q16) {
    Q16Buffers q(n_cols, n_tok, one_term_arg(a));
    k.quantize_acts(q.acts(), x.Data(), ldx, n_cols, 0, n_tok);
    k.matmul_q16[type](y.data(), ldy, wc.data, row_bytes, q.acts(), n_cols, n_tok, r0, r1);
  } else {
    k.matmul[type](y.data(), ldy, wc.data, row_bytes, x.Data(), ldx, n_cols, n_tok, r0, r1);
  }
  return to_js(a.env, y.data(), y.size());
}

Napi::Value run_dequant_row(const CpuKernels& k, const Args& a) {
  const int64_t type = a.integer("type");
  int64_t block = 0, block_bytes = 0;
  if (type >= kGgmlTypeCount || !block_shape(static_cast<uint32_t>(type), &block, &block_bytes) ||
      k.dequant_row[type] == nullptr) {
    throw_range(a.env, "no dequant_row kernel for type " + std::to_string(type));
  }
  const int64_t n = a.integer("n");
  need(a.env, n % block == 0, "n must be a multiple of the block size");
  Napi::Uint8Array w = a.u8("w");
  need(a.env, static_cast<int64_t>(w.ByteLength()) >= n / block * block_bytes, "w is too short");
  WeightCopy wc(w, a.integer("wOffset", 0));
  std::vector<float> y(static_cast<size_t>(n));
  k.dequant_row[type](y.data(), wc.data, n);
  return to_js(a.env, y.data(), y.size());
}

Napi::Value run_rmsnorm(const CpuKernels& k, const Args& a) {
  std::vector<float> x = copy_of(a.f32("x"));
  Napi::Float32Array w = a.f32("w");
  need(a.env, w.ElementLength() == x.size() && !x.empty(), "x and w must have the same length n >= 1");
  const float eps = static_cast<float>(a.number("eps"));
  const bool in_place = a.has("inPlace") && a.o.Get("inPlace").ToBoolean().Value();
  std::vector<float> y(x.size());
  float* out = in_place ? x.data() : y.data();
  k.rmsnorm_f32(out, x.data(), w.Data(), static_cast<int64_t>(x.size()), eps);
  return to_js(a.env, out, x.size());
}

Napi::Value run_swiglu(const CpuKernels& k, const Args& a) {
  std::vector<float> gate = copy_of(a.f32("gate")), up = copy_of(a.f32("up"));
  need(a.env, gate.size() == up.size(), "gate and up must have the same length");
  const std::string alias = a.has("inPlace") ? a.str("inPlace") : "";
  std::vector<float> y(gate.size());
  float* out = alias == "gate" ? gate.data() : alias == "up" ? up.data() : y.data();
  k.swiglu_f32(out, gate.data(), up.data(), static_cast<int64_t>(gate.size()));
  return to_js(a.env, out, gate.size());
}

Napi::Value run_short_conv(const CpuKernels& k, const Args& a) {
  const int64_t H = a.integer("nChannels"), L = a.integer("L"), n_tok = a.integer("nTok");
  const int64_t ld_bcx = a.integer("ldBcx", 3 * H), ld_y = a.integer("ldY", H);
  const int64_t c0 = a.integer("c0", 0), c1 = a.integer("c1", H);
  need(a.env, L >= 2 && L <= 8, "L must be in [2, 8]");
  need(a.env, c0 <= c1 && c1 <= H && ld_bcx >= 3 * H && ld_y >= H, "bad c0/c1/ldBcx/ldY");
  Napi::Float32Array bcx = a.f32("bcx"), w = a.f32("w");
  need(a.env, n_tok == 0 || static_cast<int64_t>(bcx.ElementLength()) >= (n_tok - 1) * ld_bcx + 3 * H,
       "bcx is too short");
  need(a.env, static_cast<int64_t>(w.ElementLength()) == H * L, "w must have nChannels*L elements");
  std::vector<float> state = copy_of(a.f32("state"));
  need(a.env, static_cast<int64_t>(state.size()) == (L - 1) * H, "state must have (L-1)*nChannels elements");
  std::vector<float> y(static_cast<size_t>(n_tok * ld_y), 0.0f);
  if (a.has("y")) {
    Napi::Float32Array y0 = a.f32("y");
    need(a.env, y0.ElementLength() == y.size(), "y must have nTok*ldY elements");
    std::memcpy(y.data(), y0.Data(), y.size() * sizeof(float));
  }
  k.short_conv_f32(y.data(), ld_y, state.data(), bcx.Data(), ld_bcx, w.Data(), H, L, n_tok, c0, c1);
  y.insert(y.end(), state.begin(), state.end());
  return to_js(a.env, y.data(), y.size());
}

Napi::Value run_attention(const CpuKernels& k, const Args& a) {
  const int64_t n_keys = a.integer("nKeys"), head_dim = a.integer("headDim");
  const int64_t ld_kv = a.integer("ldKv", head_dim);
  need(a.env, n_keys >= 1 && head_dim >= 1 && ld_kv >= head_dim, "bad nKeys/headDim/ldKv");
  Napi::Float32Array q = a.f32("q"), kk = a.f32("k"), v = a.f32("v");
  const int64_t kv_len = (n_keys - 1) * ld_kv + head_dim;
  need(a.env, static_cast<int64_t>(q.ElementLength()) >= head_dim, "q is too short");
  need(a.env, static_cast<int64_t>(kk.ElementLength()) >= kv_len &&
                  static_cast<int64_t>(v.ElementLength()) >= kv_len, "k or v is too short");
  std::vector<float> out(static_cast<size_t>(head_dim));
  k.attention_f32(out.data(), q.Data(), kk.Data(), v.Data(), ld_kv, n_keys, head_dim,
                  static_cast<float>(a.number("scale")));
  return to_js(a.env, out.data(), out.size());
}

Napi::Value run_axpy(const CpuKernels& k, const Args& a) {
  std::vector<float> y = copy_of(a.f32("y"));
  Napi::Float32Array x = a.f32("x");
  need(a.env, x.ElementLength() == y.size(), "x and y must have the same length");
  k.axpy_f32(y.data(), static_cast<float>(a.number("a")), x.Data(), static_cast<int64_t>(y.size()));
  return to_js(a.env, y.data(), y.size());
}

Napi::Value level(Napi::Env env, Isa isa) {
  const float v = static_cast<float>(static_cast<int>(isa));
  return to_js(env, &v, 1);
}

Napi::Value RunKernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsObject()) {
    throw_type(env, "expects (isa: string, op: string, args: object)");
  }
  const std::string isa_name = info[0].As<Napi::String>().Utf8Value();
  const std::string op = info[1].As<Napi::String>().Utf8Value();
  const Args a{env, info[2].As<Napi::Object>()};

  if (op == "parse_isa") {
    Isa ceiling = cpu::best_isa(), out = Isa::kScalar;
    if (a.has("ceiling")) {
      const std::string c = a.str("ceiling");
      Status s = cpu::parse_isa_with_ceiling(c.c_str(), Isa::kAvx512, &ceiling);
      if (!s.is_ok()) throw_status(env, s);
    }
    const std::string name = a.str("name");
    Status s = cpu::parse_isa_with_ceiling(name.c_str(), ceiling, &out);
    if (!s.is_ok()) throw_status(env, s);
    return level(env, out);
  }
  if (op == "default_isa") {
    Isa out = Isa::kScalar;
    Status s = cpu::default_isa(&out);
    if (!s.is_ok()) throw_status(env, s);
    return level(env, out);
  }

  Isa isa = Isa::kScalar;
  Status s = cpu::parse_isa(isa_name.c_str(), &isa);
  if (!s.is_ok()) throw_status(env, s);
  const CpuKernels& k = cpu::cpu_kernels(isa);
  if (op == "matmul") return run_matmul(k, a, false);
  if (op == "matmul_q16") return run_matmul(k, a, true);
  if (op == "quantize_acts") return run_quantize_acts(k, a);
  if (op == "dequant_row") return run_dequant_row(k, a);
  if (op == "rmsnorm_f32") return run_rmsnorm(k, a);
  if (op == "swiglu_f32") return run_swiglu(k, a);
  if (op == "short_conv_f32") return run_short_conv(k, a);
  if (op == "attention_f32") return run_attention(k, a);
  if (op == "axpy_f32") return run_axpy(k, a);
  throw_type(env, "unknown op '" + op + "'");
}

}  // namespace

void RegisterKernelHooks(Napi::Env env, Napi::Object exports) {
  exports.Set("_runKernel", Napi::Function::New(env, RunKernel, "_runKernel"));
}

}  // namespace lfm::napi
