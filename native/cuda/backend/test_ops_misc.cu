// SPDX-License-Identifier: MIT
// Test hook ops of the non-matmul kernels (lfm_cuda_run_kernel -> run_test_op_misc). Each op
// checks every size against the host buffers (a wrong test must fail, never corrupt memory),
// uploads the inputs, runs the launcher on the default stream, synchronises and downloads.
// All device memory is freed on every path. Returns -1 for an op that is not ours, 0, or a
// StatusCode: kInvalidArg for bad arguments, kOutOfMemory / kDevice for CUDA failures.
//
// Layouts (f32 = float, i32 = int32; "[a | b]" = concatenated; sizes in elements). Output
// buffers are uploaded first, so elements a kernel must not touch keep the caller's values.
//   rmsnorm     ints [n, rows, ldx, ldy, in_place]  floats [eps]
//               inputs [x f32 rows*ldx, w f32 n]               out y f32 rows*ldy
//               (in_place = 1: y is x's buffer, requires ldx == ldy)
//   swiglu      ints [n, alias (0 none, 1 y = gate, 2 y = up)]
//               inputs [gate f32 n, up f32 n]                  out y f32 n
//   add         ints [n]  inputs [x f32 n, y f32 n]            out x + y f32 n
//   short_conv  ints [T, D, L, n_seq, ld_bcx, ldy]
//               inputs [bcx f32 T*ld_bcx, w f32 D*L, states f32 n_seq*(L-1)*D (segment s at
//               s*(L-1)*D), seq_row0 i32 n_seq+1]
//               out y f32 T*ldy, out2 updated states f32 n_seq*(L-1)*D
//   qk_norm_rope_store  ints [T, Hq, Hkv, Dh, n_seq, n_ctx]  floats [eps, theta]
//               inputs [q f32 T*Hq*Dh, k f32 T*Hkv*Dh, v f32 T*Hkv*Dh, q_norm f32 Dh,
//               k_norm f32 Dh, row_seq i32 T, row_pos i32 T]
//               out [q | k] after norm + rope, out2 [K caches | V caches], each cache
//               n_seq * n_ctx * Hkv*Dh (sequence s at s*n_ctx*Hkv*Dh)
//   attention   ints [T, Hq, Hkv, Dh, n_seq, n_ctx, max_keys, path (0 auto, 1 split, 2 tiled)]
//               floats [scale]
//               inputs [q f32 T*Hq*Dh, row_seq i32 T, row_pos i32 T, K caches f32
//               n_seq*n_ctx*Hkv*Dh, V caches (same)]          out f32 T*Hq*Dh
//   moe_route   ints [T, E, K]  floats [scale]  inputs [logits f32 T*E, bias f32 E]
//               out [sel i32 T*K | sel_w f32 T*K | offsets i32 E+1 | rows i32 T*K |
//               slot i32 T*K | slot_w f32 T*K]
//   moe_gather  ints [R, D, n_src]  inputs [u f32 n_src*D, rows i32 R]   out xe f32 R*D
//   moe_combine ints [T, K, D, R]  inputs [ye f32 R*D, slot i32 T*K, slot_w f32 T*K]
//               out f32 T*D
//   sample      ints [V, n_rows]  inputs [logits f32 n_rows*V, params n_rows * Sampler
//               (temperature f32, top_k i32, top_p f32, min_p f32, u f32: 20 bytes)]
//               out tokens i32 n_rows

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../../core/status.h"
#include "kernels.cuh"
#include "test_ops.h"

namespace lfm::cuda {


namespace {

// Device allocations of one call, freed when it returns.
struct DevBufs {
  std::vector<void*> ptrs;
  DevBufs() = default;
  DevBufs(const DevBufs&) = delete;
  DevBufs& operator=(const DevBufs&) = delete;
  ~DevBufs() {
    for (void* p : ptrs) cudaFree(p);
  }
  cudaError_t alloc(void** out, size_t bytes) {
    *out = nullptr;
    if (bytes == 0) return cudaSuccess;
    const cudaError_t e = cudaMalloc(out, bytes);
    if (e == cudaSuccess) ptrs.push_back(*out);
    return e;
  }
  cudaError_t upload(void** out, const void* host, size_t bytes) {
    const cudaError_t e = alloc(out, bytes);
    if (e != cudaSuccess || bytes == 0) return e;
    return cudaMemcpy(*out, host, bytes, cudaMemcpyHostToDevice);
  }
};

int bad(std::string* err, const std::string& msg) {
  *err = msg;
  return static_cast<int>(StatusCode::kInvalidArg);
}

int cuda_err(std::string* err, cudaError_t e, const std::string& what) {
  *err = what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  return static_cast<int>(e == cudaErrorMemoryAllocation ? StatusCode::kOutOfMemory : StatusCode::kDevice);
}

#define LFM_TRY(call, what)                                    \
  do {                                                         \
    const cudaError_t lfm_e_ = (call);                         \
    if (lfm_e_ != cudaSuccess) return cuda_err(err, lfm_e_, what); \
  } while (0)

// Argument access with the size checks in one place.
struct Call {
  const lfm_cuda_kernel_call& c;
  std::string* err;
  int64_t i(int k) const { return c.ints[k]; }
  double f(int k) const { return c.floats[k]; }
  bool counts(int n_ints, int n_floats, int n_inputs) const {
    return c.n_ints == n_ints && c.n_floats == n_floats && c.n_inputs == n_inputs &&
           (n_ints == 0 || c.ints) && (n_floats == 0 || c.floats) && (n_inputs == 0 || (c.inputs && c.input_bytes));
  }
  bool input_is(int k, int64_t n_elems, size_t elem) const {
    return n_elems >= 0 && c.input_bytes[k] == static_cast<size_t>(n_elems) * elem && (n_elems == 0 || c.inputs[k]);
  }
  bool output_is(int64_t n_elems, size_t elem) const {
    return n_elems >= 0 && c.output_bytes == static_cast<size_t>(n_elems) * elem && (n_elems == 0 || c.output);
  }
  bool output2_is(int64_t n_elems, size_t elem) const {
    return n_elems >= 0 && c.output2_bytes == static_cast<size_t>(n_elems) * elem && (n_elems == 0 || c.output2);
  }
  const void* in(int k) const { return c.inputs[k]; }
};

constexpr int64_t kMaxElems = int64_t{1} << 31;  // sanity bound on any test buffer

bool sane(std::initializer_list<int64_t> v) {
  for (int64_t x : v) {
    if (x < 0 || x > kMaxElems) return false;
  }
  return true;
}

int finish(std::string* err, void* host, const void* dev, size_t bytes) {
  LFM_TRY(cudaGetLastError(), "launch");
  LFM_TRY(cudaStreamSynchronize(nullptr), "kernel");
  if (bytes > 0) LFM_TRY(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost), "download");
  return 0;
}

int op_rmsnorm(const Call& a, std::string* err) {
  if (!a.counts(5, 1, 2)) return bad(err, "rmsnorm: expects 5 ints, 1 float, 2 inputs");
  const int64_t n = a.i(0), rows = a.i(1), ldx = a.i(2), ldy = a.i(3), in_place = a.i(4);
  if (!sane({n, rows, ldx, ldy}) || n < 1 || ldx < n || ldy < n || (in_place && ldx != ldy) ||
      !sane({rows * ldx, rows * ldy}) || !a.input_is(0, rows * ldx, 4) || !a.input_is(1, n, 4) ||
      !a.output_is(rows * ldy, 4)) {
    return bad(err, "rmsnorm: sizes do not match");
  }
  DevBufs d;
  void *x = nullptr, *w = nullptr, *y = nullptr;
  LFM_TRY(d.upload(&x, a.in(0), a.c.input_bytes[0]), "upload x");
  LFM_TRY(d.upload(&w, a.in(1), a.c.input_bytes[1]), "upload w");
  if (in_place) {
    y = x;
  } else {
    LFM_TRY(d.upload(&y, a.c.output, a.c.output_bytes), "upload y");
  }
  LFM_TRY(rmsnorm(static_cast<float*>(y), ldy, static_cast<const float*>(x), ldx, static_cast<const float*>(w), n, rows,
                  static_cast<float>(a.f(0)), nullptr),
          "rmsnorm");
  return finish(err, a.c.output, y, a.c.output_bytes);
}

int op_swiglu(const Call& a, std::string* err) {
  if (!a.counts(2, 0, 2)) return bad(err, "swiglu: expects 2 ints, 2 inputs");
  const int64_t n = a.i(0), alias = a.i(1);
  if (!sane({n}) || alias < 0 || alias > 2 || !a.input_is(0, n, 4) || !a.input_is(1, n, 4) || !a.output_is(n, 4)) {
    return bad(err, "swiglu: sizes do not match");
  }
  DevBufs d;
  void *g = nullptr, *u = nullptr, *y = nullptr;
  LFM_TRY(d.upload(&g, a.in(0), a.c.input_bytes[0]), "upload gate");
  LFM_TRY(d.upload(&u, a.in(1), a.c.input_bytes[1]), "upload up");
  if (alias == 1) {
    y = g;
  } else if (alias == 2) {
    y = u;
  } else {
    LFM_TRY(d.alloc(&y, a.c.output_bytes), "alloc y");
  }
  LFM_TRY(swiglu(static_cast<float*>(y), static_cast<const float*>(g), static_cast<const float*>(u), n, nullptr),
          "swiglu");
  return finish(err, a.c.output, y, a.c.output_bytes);
}

int op_add(const Call& a, std::string* err) {
  if (!a.counts(1, 0, 2)) return bad(err, "add: expects 1 int, 2 inputs");
  const int64_t n = a.i(0);
  if (!sane({n}) || !a.input_is(0, n, 4) || !a.input_is(1, n, 4) || !a.output_is(n, 4)) {
    return bad(err, "add: sizes do not match");
  }
  DevBufs d;
  void *x = nullptr, *y = nullptr;
  LFM_TRY(d.upload(&x, a.in(0), a.c.input_bytes[0]), "upload x");
  LFM_TRY(d.upload(&y, a.in(1), a.c.input_bytes[1]), "upload y");
  LFM_TRY(add_inplace(static_cast<float*>(x), static_cast<const float*>(y), n, nullptr), "add_inplace");
  return finish(err, a.c.output, x, a.c.output_bytes);
}

int op_short_conv(const Call& a, std::string* err) {
  if (!a.counts(6, 0, 4)) return bad(err, "short_conv: expects 6 ints, 4 inputs");
  const int64_t T = a.i(0), D = a.i(1), L = a.i(2), n_seq = a.i(3), ld_bcx = a.i(4), ldy = a.i(5);
  if (!sane({T, D, L, n_seq, ld_bcx, ldy}) || L < 2 || L > 8 || n_seq < 1 || n_seq > 65535 || D < 1 ||
      ld_bcx < 3 * D || ldy < D || !sane({T * ld_bcx, T * ldy, n_seq * (L - 1) * D, D * L})) {
    return bad(err, "short_conv: bad sizes");
  }
  const int64_t st = (L - 1) * D;
  if (!a.input_is(0, T * ld_bcx, 4) || !a.input_is(1, D * L, 4) || !a.input_is(2, n_seq * st, 4) ||
      !a.input_is(3, n_seq + 1, 4) || !a.output_is(T * ldy, 4) || !a.output2_is(n_seq * st, 4)) {
    return bad(err, "short_conv: buffer sizes do not match");
  }
  const int32_t* row0 = static_cast<const int32_t*>(a.in(3));
  if (row0[0] < 0 || row0[n_seq] > T) return bad(err, "short_conv: seq_row0 outside [0, T]");
  for (int64_t s = 0; s < n_seq; s++) {
    if (row0[s + 1] < row0[s]) return bad(err, "short_conv: seq_row0 must not decrease");
  }
  DevBufs d;
  void *bcx = nullptr, *w = nullptr, *states = nullptr, *seq_row0 = nullptr, *y = nullptr, *ptrs = nullptr;
  LFM_TRY(d.upload(&bcx, a.in(0), a.c.input_bytes[0]), "upload bcx");
  LFM_TRY(d.upload(&w, a.in(1), a.c.input_bytes[1]), "upload w");
  LFM_TRY(d.upload(&states, a.in(2), a.c.input_bytes[2]), "upload states");
  LFM_TRY(d.upload(&seq_row0, a.in(3), a.c.input_bytes[3]), "upload seq_row0");
  LFM_TRY(d.upload(&y, a.c.output, a.c.output_bytes), "upload y");
  std::vector<float*> host_ptrs(static_cast<size_t>(n_seq));
  for (int64_t s = 0; s < n_seq; s++) host_ptrs[s] = static_cast<float*>(states) + s * st;
  LFM_TRY(d.upload(&ptrs, host_ptrs.data(), host_ptrs.size() * sizeof(float*)), "upload state pointers");
  LFM_TRY(short_conv(static_cast<float*>(y), ldy, static_cast<float* const*>(ptrs), static_cast<const float*>(bcx),
                     ld_bcx, static_cast<const float*>(w), D, L, static_cast<const int32_t*>(seq_row0),
                     static_cast<int32_t>(n_seq), T, nullptr),
          "short_conv");
  const int rc = finish(err, a.c.output, y, a.c.output_bytes);
  if (rc != 0) return rc;
  LFM_TRY(cudaMemcpy(a.c.output2, states, a.c.output2_bytes, cudaMemcpyDeviceToHost), "download states");
  return 0;
}

// Row metadata shared by qk_norm_rope_store and attention: row_seq in [0, n_seq), row_pos in
// [0, n_ctx).
bool rows_valid(const int32_t* row_seq, const int32_t* row_pos, int64_t T, int64_t n_seq, int64_t n_ctx) {
  for (int64_t t = 0; t < T; t++) {
    if (row_seq[t] < 0 || row_seq[t] >= n_seq || row_pos[t] < 0 || row_pos[t] >= n_ctx) return false;
  }
  return true;
}

int op_qk_norm_rope_store(const Call& a, std::string* err) {
  if (!a.counts(6, 2, 7)) return bad(err, "qk_norm_rope_store: expects 6 ints, 2 floats, 7 inputs");
  const int64_t T = a.i(0), Hq = a.i(1), Hkv = a.i(2), Dh = a.i(3), n_seq = a.i(4), n_ctx = a.i(5);
  if (!sane({T, Hq, Hkv, Dh, n_seq, n_ctx}) || Hq < 1 || Hkv < 1 || Dh < 2 || n_seq < 1 || n_ctx < 1 ||
      !sane({T * Hq * Dh, n_seq * n_ctx * Hkv * Dh})) {
    return bad(err, "qk_norm_rope_store: bad sizes");
  }
  const int64_t nq = Hq * Dh, nkv = Hkv * Dh, cache = n_ctx * nkv;
  if (!a.input_is(0, T * nq, 4) || !a.input_is(1, T * nkv, 4) || !a.input_is(2, T * nkv, 4) ||
      !a.input_is(3, Dh, 4) || !a.input_is(4, Dh, 4) || !a.input_is(5, T, 4) || !a.input_is(6, T, 4) ||
      !a.output_is(T * nq + T * nkv, 4) || !a.output2_is(2 * n_seq * cache, 4)) {
    return bad(err, "qk_norm_rope_store: buffer sizes do not match");
  }
  if (!rows_valid(static_cast<const int32_t*>(a.in(5)), static_cast<const int32_t*>(a.in(6)), T, n_seq, n_ctx)) {
    return bad(err, "qk_norm_rope_store: row_seq / row_pos out of range");
  }
  DevBufs d;
  void *q = nullptr, *k = nullptr, *v = nullptr, *qn = nullptr, *kn = nullptr, *rs = nullptr, *rp = nullptr;
  void *caches = nullptr, *ptrs = nullptr;
  LFM_TRY(d.upload(&q, a.in(0), a.c.input_bytes[0]), "upload q");
  LFM_TRY(d.upload(&k, a.in(1), a.c.input_bytes[1]), "upload k");
  LFM_TRY(d.upload(&v, a.in(2), a.c.input_bytes[2]), "upload v");
  LFM_TRY(d.upload(&qn, a.in(3), a.c.input_bytes[3]), "upload q_norm");
  LFM_TRY(d.upload(&kn, a.in(4), a.c.input_bytes[4]), "upload k_norm");
  LFM_TRY(d.upload(&rs, a.in(5), a.c.input_bytes[5]), "upload row_seq");
  LFM_TRY(d.upload(&rp, a.in(6), a.c.input_bytes[6]), "upload row_pos");
  LFM_TRY(d.upload(&caches, a.c.output2, a.c.output2_bytes), "upload caches");
  std::vector<float*> host_ptrs(static_cast<size_t>(2 * n_seq));
  for (int64_t s = 0; s < 2 * n_seq; s++) host_ptrs[s] = static_cast<float*>(caches) + s * cache;
  LFM_TRY(d.upload(&ptrs, host_ptrs.data(), host_ptrs.size() * sizeof(float*)), "upload cache pointers");
  float* const* kc = static_cast<float* const*>(ptrs);
  LFM_TRY(qk_norm_rope_store(static_cast<float*>(q), static_cast<float*>(k), static_cast<const float*>(v),
                             static_cast<const float*>(qn), static_cast<const float*>(kn), T, Hq, Hkv, Dh,
                             static_cast<float>(a.f(0)), static_cast<float>(a.f(1)), static_cast<const int32_t*>(rs),
                             static_cast<const int32_t*>(rp), kc, kc + n_seq, nullptr),
          "qk_norm_rope_store");
  int rc = finish(err, a.c.output, q, static_cast<size_t>(T * nq) * 4);
  if (rc != 0) return rc;
  LFM_TRY(cudaMemcpy(static_cast<float*>(a.c.output) + T * nq, k, static_cast<size_t>(T * nkv) * 4,
                     cudaMemcpyDeviceToHost),
          "download k");
  LFM_TRY(cudaMemcpy(a.c.output2, caches, a.c.output2_bytes, cudaMemcpyDeviceToHost), "download caches");
  return 0;
}

int op_attention(const Call& a, std::string* err) {
  if (!a.counts(8, 1, 5)) return bad(err, "attention: expects 8 ints, 1 float, 5 inputs");
  const int64_t T = a.i(0), Hq = a.i(1), Hkv = a.i(2), Dh = a.i(3), n_seq = a.i(4), n_ctx = a.i(5);
  const int64_t max_keys = a.i(6), path = a.i(7);
  if (!sane({T, Hq, Hkv, Dh, n_seq, n_ctx, max_keys}) || Hq < 1 || Hkv < 1 || Hq % Hkv != 0 || Dh < 1 ||
      n_seq < 1 || n_ctx < 1 || path < 0 || path > 2 || !sane({T * Hq * Dh, n_seq * n_ctx * Hkv * Dh})) {
    return bad(err, "attention: bad sizes");
  }
  const int64_t nq = Hq * Dh, cache = n_ctx * Hkv * Dh;
  if (!a.input_is(0, T * nq, 4) || !a.input_is(1, T, 4) || !a.input_is(2, T, 4) ||
      !a.input_is(3, n_seq * cache, 4) || !a.input_is(4, n_seq * cache, 4) || !a.output_is(T * nq, 4)) {
    return bad(err, "attention: buffer sizes do not match");
  }
  if (!rows_valid(static_cast<const int32_t*>(a.in(1)), static_cast<const int32_t*>(a.in(2)), T, n_seq, n_ctx)) {
    return bad(err, "attention: row_seq / row_pos out of range");
  }
  DevBufs d;
  void *q = nullptr, *rs = nullptr, *rp = nullptr, *kc = nullptr, *vc = nullptr, *ptrs = nullptr, *out = nullptr;
  void* ws = nullptr;
  LFM_TRY(d.upload(&q, a.in(0), a.c.input_bytes[0]), "upload q");
  LFM_TRY(d.upload(&rs, a.in(1), a.c.input_bytes[1]), "upload row_seq");
  LFM_TRY(d.upload(&rp, a.in(2), a.c.input_bytes[2]), "upload row_pos");
  LFM_TRY(d.upload(&kc, a.in(3), a.c.input_bytes[3]), "upload K caches");
  LFM_TRY(d.upload(&vc, a.in(4), a.c.input_bytes[4]), "upload V caches");
  LFM_TRY(d.upload(&out, a.c.output, a.c.output_bytes), "upload out");
  std::vector<const float*> host_ptrs(static_cast<size_t>(2 * n_seq));
  for (int64_t s = 0; s < n_seq; s++) {
    host_ptrs[s] = static_cast<const float*>(kc) + s * cache;
    host_ptrs[n_seq + s] = static_cast<const float*>(vc) + s * cache;
  }
  LFM_TRY(d.upload(&ptrs, host_ptrs.data(), host_ptrs.size() * sizeof(float*)), "upload cache pointers");
  const size_t ws_bytes = attention_split_workspace_bytes(T, Hq, Dh, max_keys < 1 ? 1 : max_keys);
  LFM_TRY(d.alloc(&ws, ws_bytes), "alloc workspace");
  const float* const* kp = static_cast<const float* const*>(ptrs);
  LFM_TRY(attention_path(static_cast<float*>(out), static_cast<const float*>(q), T, Hq, Hkv, Dh,
                         static_cast<float>(a.f(0)), static_cast<const int32_t*>(rs), static_cast<const int32_t*>(rp),
                         kp, kp + n_seq, max_keys, Workspace{ws, ws_bytes}, static_cast<int>(path), nullptr),
          "attention");
  return finish(err, a.c.output, out, a.c.output_bytes);
}

int op_moe_route(const Call& a, std::string* err) {
  if (!a.counts(3, 1, 2)) return bad(err, "moe_route: expects 3 ints, 1 float, 2 inputs");
  const int64_t T = a.i(0), E = a.i(1), K = a.i(2);
  if (!sane({T, E, K}) || E < 1 || K < 1 || K > E || !sane({T * E, T * K})) return bad(err, "moe_route: bad sizes");
  const int64_t R = T * K;
  if (!a.input_is(0, T * E, 4) || !a.input_is(1, E, 4) || !a.output_is(5 * R + E + 1, 4)) {
    return bad(err, "moe_route: buffer sizes do not match");
  }
  DevBufs d;
  void *logits = nullptr, *bias = nullptr, *out = nullptr, *ws = nullptr;
  LFM_TRY(d.upload(&logits, a.in(0), a.c.input_bytes[0]), "upload logits");
  LFM_TRY(d.upload(&bias, a.in(1), a.c.input_bytes[1]), "upload bias");
  LFM_TRY(d.alloc(&out, a.c.output_bytes), "alloc routing");
  const size_t ws_bytes = moe_routing_workspace_bytes(T, E, K);
  LFM_TRY(d.alloc(&ws, ws_bytes), "alloc workspace");
  uint8_t* o = static_cast<uint8_t*>(out);
  MoeRouting r{};
  r.sel = reinterpret_cast<int32_t*>(o);
  r.sel_w = reinterpret_cast<float*>(o + 4 * R);
  r.offsets = reinterpret_cast<int32_t*>(o + 8 * R);
  r.rows = reinterpret_cast<int32_t*>(o + 8 * R + 4 * (E + 1));
  r.slot = reinterpret_cast<int32_t*>(o + 12 * R + 4 * (E + 1));
  r.slot_w = reinterpret_cast<float*>(o + 16 * R + 4 * (E + 1));
  LFM_TRY(moe_route(r, static_cast<const float*>(logits), static_cast<const float*>(bias), T, E, K,
                    static_cast<float>(a.f(0)), Workspace{ws, ws_bytes}, nullptr),
          "moe_route");
  return finish(err, a.c.output, out, a.c.output_bytes);
}

int op_moe_gather(const Call& a, std::string* err) {
  if (!a.counts(3, 0, 2)) return bad(err, "moe_gather: expects 3 ints, 2 inputs");
  const int64_t R = a.i(0), D = a.i(1), n_src = a.i(2);
  if (!sane({R, D, n_src}) || !sane({R * D, n_src * D}) || !a.input_is(0, n_src * D, 4) || !a.input_is(1, R, 4) ||
      !a.output_is(R * D, 4)) {
    return bad(err, "moe_gather: buffer sizes do not match");
  }
  const int32_t* rows = static_cast<const int32_t*>(a.in(1));
  for (int64_t r = 0; r < R; r++) {
    if (rows[r] < 0 || rows[r] >= n_src) return bad(err, "moe_gather: row index out of range");
  }
  DevBufs d;
  void *u = nullptr, *rw = nullptr, *xe = nullptr;
  LFM_TRY(d.upload(&u, a.in(0), a.c.input_bytes[0]), "upload u");
  LFM_TRY(d.upload(&rw, a.in(1), a.c.input_bytes[1]), "upload rows");
  LFM_TRY(d.alloc(&xe, a.c.output_bytes), "alloc xe");
  LFM_TRY(moe_gather(static_cast<float*>(xe), static_cast<const float*>(u), D, static_cast<const int32_t*>(rw), R,
                     nullptr),
          "moe_gather");
  return finish(err, a.c.output, xe, a.c.output_bytes);
}

int op_moe_combine(const Call& a, std::string* err) {
  if (!a.counts(4, 0, 3)) return bad(err, "moe_combine: expects 4 ints, 3 inputs");
  const int64_t T = a.i(0), K = a.i(1), D = a.i(2), R = a.i(3);
  if (!sane({T, K, D, R}) || K < 1 || !sane({R * D, T * K, T * D}) || !a.input_is(0, R * D, 4) ||
      !a.input_is(1, T * K, 4) || !a.input_is(2, T * K, 4) || !a.output_is(T * D, 4)) {
    return bad(err, "moe_combine: buffer sizes do not match");
  }
  const int32_t* slot = static_cast<const int32_t*>(a.in(1));
  for (int64_t i = 0; i < T * K; i++) {
    if (slot[i] < 0 || slot[i] >= R) return bad(err, "moe_combine: slot out of range");
  }
  DevBufs d;
  void *ye = nullptr, *sl = nullptr, *sw = nullptr, *out = nullptr;
  LFM_TRY(d.upload(&ye, a.in(0), a.c.input_bytes[0]), "upload ye");
  LFM_TRY(d.upload(&sl, a.in(1), a.c.input_bytes[1]), "upload slot");
  LFM_TRY(d.upload(&sw, a.in(2), a.c.input_bytes[2]), "upload slot_w");
  LFM_TRY(d.alloc(&out, a.c.output_bytes), "alloc out");
  LFM_TRY(moe_combine(static_cast<float*>(out), static_cast<const float*>(ye), D, static_cast<const int32_t*>(sl),
                      static_cast<const float*>(sw), T, K, nullptr),
          "moe_combine");
  return finish(err, a.c.output, out, a.c.output_bytes);
}

int op_sample(const Call& a, std::string* err) {
  static_assert(sizeof(Sampler) == 20, "Sampler is 5 four-byte fields");
  if (!a.counts(2, 0, 2)) return bad(err, "sample: expects 2 ints, 2 inputs");
  const int64_t V = a.i(0), n_rows = a.i(1);
  if (!sane({V, n_rows}) || V < 1 || !sane({V * n_rows}) || !a.input_is(0, n_rows * V, 4) ||
      !a.input_is(1, n_rows, sizeof(Sampler)) || !a.output_is(n_rows, 4)) {
    return bad(err, "sample: buffer sizes do not match");
  }
  DevBufs d;
  void *logits = nullptr, *params = nullptr, *tokens = nullptr, *ws = nullptr;
  LFM_TRY(d.upload(&logits, a.in(0), a.c.input_bytes[0]), "upload logits");
  LFM_TRY(d.upload(&params, a.in(1), a.c.input_bytes[1]), "upload params");
  LFM_TRY(d.alloc(&tokens, a.c.output_bytes), "alloc tokens");
  const size_t ws_bytes = sample_workspace_bytes(V, n_rows);
  LFM_TRY(d.alloc(&ws, ws_bytes), "alloc workspace");
  LFM_TRY(sample(static_cast<int32_t*>(tokens), static_cast<const float*>(logits), V, n_rows,
                 static_cast<const Sampler*>(params), Workspace{ws, ws_bytes}, nullptr),
          "sample");
  return finish(err, a.c.output, tokens, a.c.output_bytes);
}

#undef LFM_TRY

}  // namespace

int run_test_op_misc(const lfm_cuda_kernel_call& call, std::string* err) {
  if (!call.op) return -1;
  const std::string op = call.op;
  const Call a{call, err};
  if (op == "rmsnorm") return op_rmsnorm(a, err);
  if (op == "swiglu") return op_swiglu(a, err);
  if (op == "add") return op_add(a, err);
  if (op == "short_conv") return op_short_conv(a, err);
  if (op == "qk_norm_rope_store") return op_qk_norm_rope_store(a, err);
  if (op == "attention") return op_attention(a, err);
  if (op == "moe_route") return op_moe_route(a, err);
  if (op == "moe_gather") return op_moe_gather(a, err);
  if (op == "moe_combine") return op_moe_combine(a, err);
  if (op == "sample") return op_sample(a, err);
  return -1;
}

}  // namespace lfm::cuda
