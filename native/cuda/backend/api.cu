// SPDX-License-Identifier: MIT
// The backend's C interface (lfm_cuda.h): device queries, weight upload, sequences, and the
// forward pass of the LFM2 family over a batch of segments, the same steps as the CPU's
// Lfm2Model::forward_chunk (native/models/lfm2.cpp) with the kernels of kernels.cuh.

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "../../core/ggml_types.h"
#include "../../core/status.h"
#include "../lfm_cuda.h"
#include "kernels.cuh"
#include "test_ops.h"

using lfm::StatusCode;
using namespace lfm::cuda;

namespace {

int code_of(StatusCode c) { return static_cast<int>(c); }

void set_err(char* err, size_t len, const std::string& msg) {
  if (!err || len == 0) return;
  const size_t n = std::min(len - 1, msg.size());
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}

// A failed CUDA call: out-of-memory errors map to ERR_LFM_OOM, everything else to ERR_LFM_DEVICE.
int cuda_fail(cudaError_t e, const char* what, char* err, size_t len) {
  set_err(err, len, std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  return code_of(e == cudaErrorMemoryAllocation ? StatusCode::kOutOfMemory : StatusCode::kDevice);
}

#define LFM_CU(call, what)                                  \
  do {                                                      \
    const cudaError_t lfm_e_ = (call);                      \
    if (lfm_e_ != cudaSuccess) return cuda_fail(lfm_e_, what, err, err_len); \
  } while (0)

// Device allocations of one owner, freed together.
struct DeviceArena {
  std::vector<void*> blocks;
  uint64_t bytes = 0;
  cudaError_t alloc(void** out, size_t n) {
    *out = nullptr;
    if (n == 0) return cudaSuccess;
    const cudaError_t e = cudaMalloc(out, n);
    if (e == cudaSuccess) {
      blocks.push_back(*out);
      bytes += n;
    }
    return e;
  }
  void release() {
    for (void* p : blocks) cudaFree(p);
    blocks.clear();
    bytes = 0;
  }
};

struct Layer {
  bool attention = false, moe = false;
  int64_t n_kv_heads = 0;
  const float *attn_norm = nullptr, *ffn_norm = nullptr, *conv_w = nullptr, *q_norm = nullptr, *k_norm = nullptr;
  const float* expert_bias = nullptr;
  DevMatrix conv_in, conv_out, wq, wk, wv, wo, ffn_gate, ffn_up, ffn_down, router, exp_gate, exp_up, exp_down;
};

}  // namespace

struct lfm_cuda_model {
  int device = 0;
  lfm_cuda_model_desc cfg{};  // scalars only (pointers cleared)
  std::vector<Layer> layers;
  DevMatrix token_embd, output;
  const float* output_norm = nullptr;
  DeviceArena weights;
  cudaStream_t stream = nullptr;
  std::mutex mu;  // one forward pass at a time

  // Scratch for passes of up to `cap` rows.
  DeviceArena scratch;
  int64_t cap = 0;
  float *x = nullptr, *u = nullptr, *mix = nullptr, *bcx = nullptr, *y = nullptr, *q = nullptr, *k = nullptr,
        *v = nullptr, *gate = nullptr, *up = nullptr, *router_logits = nullptr, *xe = nullptr, *ye = nullptr;
  MoeRouting routing{};
  // Per-pass inputs in one device block (one upload): tokens, row_seq, row_pos, seq_row0, out_rows.
  int32_t* meta = nullptr;
  void** ptrs = nullptr;  // [n_layers][3][cap]: conv state or K cache, V cache, per segment
  // Grown on demand (outside any capture): workspace, logits rows, sampler params, tokens out.
  void* ws = nullptr;
  size_t ws_bytes = 0;
  float* out_rows_x = nullptr;  // [n_out, D] gathered rows
  float* logits = nullptr;      // [n_out, V]
  Sampler* samplers = nullptr;
  int32_t* tokens_out = nullptr;
  int64_t out_cap = 0;
  DeviceArena out_arena;
  DeviceArena ws_arena;

  ~lfm_cuda_model() {
    if (stream) cudaStreamSynchronize(stream);
    weights.release();
    scratch.release();
    out_arena.release();
    ws_arena.release();
    if (stream) cudaStreamDestroy(stream);
  }
};

struct lfm_cuda_seq {
  lfm_cuda_model* model = nullptr;
  int64_t n_ctx = 0;
  DeviceArena mem;
  std::vector<float*> conv, k, v;  // [n_layers]; null where the layer has none
  size_t conv_bytes = 0;           // per conv layer
  ~lfm_cuda_seq() { mem.release(); }
};

namespace {

// Gathers rows: dst[i * D + c] = src[rows[i] * D + c].
__global__ void gather_rows_kernel(float* __restrict__ dst, const float* __restrict__ src,
                                   const int32_t* __restrict__ rows, int64_t D) {
  const int64_t i = blockIdx.x;
  const float* s = src + static_cast<int64_t>(rows[i]) * D;
  float* d = dst + i * D;
  for (int64_t c = threadIdx.x; c < D; c += blockDim.x) d[c] = s[c];
}

bool matrix_present(const lfm_cuda_matrix& m) { return m.data != nullptr && m.n_rows > 0 && m.n_cols > 0; }

int upload_matrix(DeviceArena& arena, const lfm_cuda_matrix& m, const char* name, DevMatrix* out, char* err,
                  size_t err_len) {
  *out = DevMatrix{};
  if (!matrix_present(m)) return 0;
  if (!matmul_supports(m.type)) {
    const lfm::TypeTraits& tr = lfm::type_traits(m.type);
    set_err(err, err_len, std::string("tensor ") + name + " has type " + (tr.name ? tr.name : std::to_string(m.type)) +
                              ", which the CUDA backend does not support");
    return code_of(StatusCode::kUnsupportedType);
  }
  const int64_t n_mats = m.n_mats > 0 ? m.n_mats : 1;
  const size_t bytes = static_cast<size_t>(m.row_bytes * m.n_rows * n_mats);
  void* d = nullptr;
  LFM_CU(arena.alloc(&d, bytes), (std::string("allocating ") + name).c_str());
  LFM_CU(cudaMemcpy(d, m.data, bytes, cudaMemcpyHostToDevice), (std::string("uploading ") + name).c_str());
  out->data = static_cast<const uint8_t*>(d);
  out->type = m.type;
  out->n_rows = m.n_rows;
  out->n_cols = m.n_cols;
  out->row_bytes = m.row_bytes;
  out->n_mats = n_mats;
  out->mat_bytes = m.row_bytes * m.n_rows;
  return 0;
}

int upload_floats(DeviceArena& arena, const float* host, int64_t n, const char* name, const float** out, char* err,
                  size_t err_len) {
  *out = nullptr;
  if (!host || n <= 0) return 0;
  void* d = nullptr;
  LFM_CU(arena.alloc(&d, static_cast<size_t>(n) * sizeof(float)), (std::string("allocating ") + name).c_str());
  LFM_CU(cudaMemcpy(d, host, static_cast<size_t>(n) * sizeof(float), cudaMemcpyHostToDevice),
         (std::string("uploading ") + name).c_str());
  *out = static_cast<const float*>(d);
  return 0;
}

// The bytes upload_matrix copies for `m` (0 when absent): what the upload progress counts.
uint64_t upload_bytes(const lfm_cuda_matrix& m) {
  return matrix_present(m) ? static_cast<uint64_t>(m.row_bytes * m.n_rows * (m.n_mats > 0 ? m.n_mats : 1)) : 0;
}

uint64_t layer_upload_bytes(const lfm_cuda_layer& l) {
  uint64_t n = 0;
  for (const lfm_cuda_matrix* m : {&l.conv_in, &l.conv_out, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up,
                                   &l.ffn_down, &l.exp_gate, &l.exp_up, &l.exp_down}) {
    n += upload_bytes(*m);
  }
  return n;
}

// Largest F of the dense layers (scratch sizing).
int64_t max_ffn(const lfm_cuda_model& m) {
  int64_t f = 0;
  for (const Layer& l : m.layers) f = std::max(f, l.ffn_gate.n_rows);
  return f;
}

int alloc_scratch(lfm_cuda_model& m, int64_t cap, char* err, size_t err_len) {
  const lfm_cuda_model_desc& c = m.cfg;
  const int64_t D = c.n_embd, T = cap, K = std::max<int64_t>(c.n_experts_used, 1);
  int64_t nkv = 0;
  for (const Layer& l : m.layers) nkv = std::max(nkv, l.n_kv_heads * c.head_dim);
  const int64_t nq = c.n_heads * c.head_dim;
  const int64_t ffn = std::max(max_ffn(m), c.n_experts > 0 ? K * c.expert_ffn_dim : 0);
  auto f32 = [&](float** p, int64_t n, const char* what) -> int {
    void* d = nullptr;
    LFM_CU(m.scratch.alloc(&d, static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float)), what);
    *p = static_cast<float*>(d);
    return 0;
  };
  int rc = 0;
  if ((rc = f32(&m.x, T * D, "allocating scratch x")) || (rc = f32(&m.u, T * D, "allocating scratch u")) ||
      (rc = f32(&m.mix, T * D, "allocating scratch mix")) || (rc = f32(&m.bcx, T * 3 * D, "allocating scratch bcx")) ||
      (rc = f32(&m.y, T * std::max(D, nq), "allocating scratch y")) ||
      (rc = f32(&m.q, T * nq, "allocating scratch q")) || (rc = f32(&m.k, T * std::max<int64_t>(nkv, 1), "allocating scratch k")) ||
      (rc = f32(&m.v, T * std::max<int64_t>(nkv, 1), "allocating scratch v")) ||
      (rc = f32(&m.gate, T * std::max<int64_t>(ffn, 1), "allocating scratch gate")) ||
      (rc = f32(&m.up, T * std::max<int64_t>(ffn, 1), "allocating scratch up"))) {
    return rc;
  }
  if (c.n_experts > 0) {
    const int64_t E = c.n_experts, R = T * K;
    if ((rc = f32(&m.router_logits, T * E, "allocating router logits")) ||
        (rc = f32(&m.xe, R * D, "allocating expert inputs")) || (rc = f32(&m.ye, R * D, "allocating expert outputs"))) {
      return rc;
    }
    // The routing arrays, 4-byte elements each, every array 256-byte aligned in one block.
    const size_t R4 = (static_cast<size_t>(R) * 4 + 255) / 256 * 256, E4 = (static_cast<size_t>(E + 1) * 4 + 255) / 256 * 256;
    void* d = nullptr;
    LFM_CU(m.scratch.alloc(&d, 5 * R4 + E4), "allocating the routing buffers");
    uint8_t* p = static_cast<uint8_t*>(d);
    m.routing.sel = reinterpret_cast<int32_t*>(p);
    m.routing.sel_w = reinterpret_cast<float*>(p + R4);
    m.routing.rows = reinterpret_cast<int32_t*>(p + 2 * R4);
    m.routing.slot = reinterpret_cast<int32_t*>(p + 3 * R4);
    m.routing.slot_w = reinterpret_cast<float*>(p + 4 * R4);
    m.routing.offsets = reinterpret_cast<int32_t*>(p + 5 * R4);
  }
  void* meta = nullptr;
  LFM_CU(m.scratch.alloc(&meta, static_cast<size_t>(5 * T + 1) * sizeof(int32_t)), "allocating batch metadata");
  m.meta = static_cast<int32_t*>(meta);
  void* ptrs = nullptr;
  LFM_CU(m.scratch.alloc(&ptrs, static_cast<size_t>(c.n_layers * 3 * T) * sizeof(void*)), "allocating state pointers");
  m.ptrs = static_cast<void**>(ptrs);
  m.cap = cap;
  return 0;
}

int ensure_workspace(lfm_cuda_model& m, size_t bytes, char* err, size_t err_len) {
  if (bytes <= m.ws_bytes) return 0;
  LFM_CU(cudaStreamSynchronize(m.stream), "waiting for the stream");
  m.ws_arena.release();
  m.ws = nullptr;
  m.ws_bytes = 0;
  LFM_CU(m.ws_arena.alloc(&m.ws, bytes), "allocating the kernel workspace");
  m.ws_bytes = bytes;
  return 0;
}

int ensure_outputs(lfm_cuda_model& m, int64_t n_out, char* err, size_t err_len) {
  if (n_out <= m.out_cap) return 0;
  LFM_CU(cudaStreamSynchronize(m.stream), "waiting for the stream");
  m.out_arena.release();
  // Nothing usable until every buffer is allocated again (a failure below must not leave the
  // old capacity pointing at freed memory).
  m.out_rows_x = m.logits = nullptr;
  m.samplers = nullptr;
  m.tokens_out = nullptr;
  m.out_cap = 0;
  const int64_t D = m.cfg.n_embd, V = m.cfg.n_vocab;
  void *a = nullptr, *b = nullptr, *c = nullptr, *d = nullptr;
  LFM_CU(m.out_arena.alloc(&a, static_cast<size_t>(n_out * D) * sizeof(float)), "allocating output rows");
  LFM_CU(m.out_arena.alloc(&b, static_cast<size_t>(n_out * V) * sizeof(float)), "allocating logits");
  LFM_CU(m.out_arena.alloc(&c, static_cast<size_t>(n_out) * sizeof(Sampler)), "allocating sampler parameters");
  LFM_CU(m.out_arena.alloc(&d, static_cast<size_t>(n_out) * sizeof(int32_t)), "allocating sampled tokens");
  m.out_rows_x = static_cast<float*>(a);
  m.logits = static_cast<float*>(b);
  m.samplers = static_cast<Sampler*>(c);
  m.tokens_out = static_cast<int32_t*>(d);
  m.out_cap = n_out;
  return 0;
}

// The exported entry points: nothing thrown (std::bad_alloc from a string or vector) crosses the
// C interface.
template <typename F>
int guarded(char* err, size_t err_len, F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    set_err(err, err_len, "out of host memory");
    return code_of(StatusCode::kOutOfMemory);
  } catch (const std::exception& e) {
    set_err(err, err_len, e.what());
    return code_of(StatusCode::kInternal);
  } catch (...) {
    set_err(err, err_len, "unknown failure");
    return code_of(StatusCode::kInternal);
  }
}

}  // namespace

// --- C interface

extern "C" {

LFM_CUDA_API int lfm_cuda_abi_version(void) { return LFM_CUDA_ABI_VERSION; }

LFM_CUDA_API int lfm_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

LFM_CUDA_API int lfm_cuda_get_device_info(int device, lfm_cuda_device_info* out, char* err, size_t err_len) {
  if (!out) {
    set_err(err, err_len, "null output");
    return code_of(StatusCode::kInvalidArg);
  }
  std::memset(out, 0, sizeof *out);
  cudaDeviceProp p{};
  LFM_CU(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  std::snprintf(out->name, sizeof out->name, "%s", p.name);
  out->cc_major = p.major;
  out->cc_minor = p.minor;
  out->total_memory = p.totalGlobalMem;
  out->multiprocessors = p.multiProcessorCount;
  cudaRuntimeGetVersion(&out->runtime_version);
  cudaDriverGetVersion(&out->driver_version);
  size_t free_b = 0, total_b = 0;
  LFM_CU(cudaSetDevice(device), "cudaSetDevice");
  if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) out->free_memory = free_b;
  cudaGetLastError();
  return 0;
}

static int lfm_cuda_model_create_impl(int device, const lfm_cuda_model_desc* desc, lfm_cuda_model** out, char* err,
                                       size_t err_len) {
  if (!desc || !out || !desc->layers || desc->n_layers <= 0 || desc->n_embd <= 0 || desc->n_vocab <= 0 ||
      desc->head_dim <= 0 || desc->conv_l < 2 || desc->conv_l > 8) {
    set_err(err, err_len, "invalid model description");
    return code_of(StatusCode::kInvalidArg);
  }
  *out = nullptr;
  // Limits of the kernels (attention.cu, moe.cu): say so at load rather than at every pass.
  for (int64_t il = 0; il < desc->n_layers; il++) {
    const lfm_cuda_layer& l = desc->layers[il];
    if (l.is_attention && (l.n_kv_heads <= 0 || desc->n_heads % l.n_kv_heads != 0)) {
      set_err(err, err_len, "layer " + std::to_string(il) + ": " + std::to_string(desc->n_heads) +
                                " query heads are not a multiple of " + std::to_string(l.n_kv_heads) + " key-value heads");
      return code_of(StatusCode::kShapeMismatch);
    }
    if (l.is_moe && (!l.router || desc->n_experts <= 0 || desc->n_experts > 256 || desc->n_experts_used <= 0 ||
                     desc->n_experts_used > 32 || desc->n_experts_used > desc->n_experts)) {
      set_err(err, err_len, "layer " + std::to_string(il) + ": the CUDA backend routes to at most 32 of at most 256 experts");
      return code_of(StatusCode::kUnsupportedArch);
    }
  }
  if (desc->head_dim > 256 || desc->head_dim % 2 != 0) {
    set_err(err, err_len, "head dimension " + std::to_string(desc->head_dim) + ": the CUDA backend takes even sizes up to 256");
    return code_of(StatusCode::kUnsupportedArch);
  }
  LFM_CU(cudaSetDevice(device), "cudaSetDevice");
  lfm_cuda_model* m = new (std::nothrow) lfm_cuda_model();
  if (!m) {
    set_err(err, err_len, "out of host memory");
    return code_of(StatusCode::kOutOfMemory);
  }
  m->device = device;
  m->cfg = *desc;
  m->cfg.layers = nullptr;
  m->cfg.output_norm = nullptr;
  m->cfg.token_embd = lfm_cuda_matrix{};
  m->cfg.output = lfm_cuda_matrix{};
  if (m->cfg.max_batch_tokens <= 0) m->cfg.max_batch_tokens = 512;
  auto fail = [&](int rc) {
    delete m;
    return rc;
  };
  {
    const cudaError_t e = cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) return fail(cuda_fail(e, "cudaStreamCreate", err, err_len));
  }
  const int64_t D = desc->n_embd, L = desc->conv_l, Dh = desc->head_dim;
  const bool tied = desc->output.data == desc->token_embd.data;
  // Upload progress: weight-matrix bytes, reported per layer (the copies read the mapped file,
  // so this also tracks the disk).
  uint64_t up_total = upload_bytes(desc->token_embd) + (tied ? 0 : upload_bytes(desc->output)), up_done = 0;
  for (int64_t il = 0; il < desc->n_layers; il++) up_total += layer_upload_bytes(desc->layers[il]);
  auto uploaded = [&](uint64_t bytes) {
    up_done += bytes;
    if (desc->on_upload) desc->on_upload(desc->on_upload_user, up_done, up_total);
  };
  int rc = 0;
  m->layers.resize(static_cast<size_t>(desc->n_layers));
  for (int64_t il = 0; il < desc->n_layers; il++) {
    const lfm_cuda_layer& s = desc->layers[il];
    Layer& l = m->layers[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    l.attention = s.is_attention != 0;
    l.moe = s.is_moe != 0;
    l.n_kv_heads = s.n_kv_heads;
    if ((rc = upload_floats(m->weights, s.attn_norm, D, (p + "attn_norm").c_str(), &l.attn_norm, err, err_len)) ||
        (rc = upload_floats(m->weights, s.ffn_norm, D, (p + "ffn_norm").c_str(), &l.ffn_norm, err, err_len))) {
      return fail(rc);
    }
    if (!l.attention) {
      if ((rc = upload_matrix(m->weights, s.conv_in, (p + "shortconv.in_proj").c_str(), &l.conv_in, err, err_len)) ||
          (rc = upload_matrix(m->weights, s.conv_out, (p + "shortconv.out_proj").c_str(), &l.conv_out, err, err_len)) ||
          (rc = upload_floats(m->weights, s.conv_w, D * L, (p + "shortconv.conv").c_str(), &l.conv_w, err, err_len))) {
        return fail(rc);
      }
    } else {
      if ((rc = upload_matrix(m->weights, s.wq, (p + "attn_q").c_str(), &l.wq, err, err_len)) ||
          (rc = upload_matrix(m->weights, s.wk, (p + "attn_k").c_str(), &l.wk, err, err_len)) ||
          (rc = upload_matrix(m->weights, s.wv, (p + "attn_v").c_str(), &l.wv, err, err_len)) ||
          (rc = upload_matrix(m->weights, s.wo, (p + "attn_output").c_str(), &l.wo, err, err_len)) ||
          (rc = upload_floats(m->weights, s.q_norm, Dh, (p + "attn_q_norm").c_str(), &l.q_norm, err, err_len)) ||
          (rc = upload_floats(m->weights, s.k_norm, Dh, (p + "attn_k_norm").c_str(), &l.k_norm, err, err_len))) {
        return fail(rc);
      }
    }
    if (!l.moe) {
      if ((rc = upload_matrix(m->weights, s.ffn_gate, (p + "ffn_gate").c_str(), &l.ffn_gate, err, err_len)) ||
          (rc = upload_matrix(m->weights, s.ffn_up, (p + "ffn_up").c_str(), &l.ffn_up, err, err_len)) ||
          (rc = upload_matrix(m->weights, s.ffn_down, (p + "ffn_down").c_str(), &l.ffn_down, err, err_len))) {
        return fail(rc);
      }
    } else {
      const int64_t E = desc->n_experts;
      const lfm_cuda_matrix router{s.router, static_cast<uint32_t>(lfm::GgmlType::kF32), E, D,
                                   D * static_cast<int64_t>(sizeof(float)), 1};
      if ((rc = upload_matrix(m->weights, router, (p + "ffn_gate_inp").c_str(), &l.router, err, err_len)) ||
          (rc = upload_floats(m->weights, s.expert_bias, E, (p + "exp_probs_b").c_str(), &l.expert_bias, err, err_len)) ||
          (rc = upload_matrix(m->weights, s.exp_gate, (p + "ffn_gate_exps").c_str(), &l.exp_gate, err, err_len)) ||
          (rc = upload_matrix(m->weights, s.exp_up, (p + "ffn_up_exps").c_str(), &l.exp_up, err, err_len)) ||
          (rc = upload_matrix(m->weights, s.exp_down, (p + "ffn_down_exps").c_str(), &l.exp_down, err, err_len))) {
        return fail(rc);
      }
    }
    uploaded(layer_upload_bytes(s));
  }
  if ((rc = upload_matrix(m->weights, desc->token_embd, "token_embd", &m->token_embd, err, err_len)) ||
      (rc = upload_floats(m->weights, desc->output_norm, D, "token_embd_norm", &m->output_norm, err, err_len))) {
    return fail(rc);
  }
  uploaded(upload_bytes(desc->token_embd));
  if (tied) {
    m->output = m->token_embd;
  } else if ((rc = upload_matrix(m->weights, desc->output, "output", &m->output, err, err_len))) {
    return fail(rc);
  } else {
    uploaded(upload_bytes(desc->output));
  }
  if ((rc = alloc_scratch(*m, m->cfg.max_batch_tokens, err, err_len))) return fail(rc);
  // cudaMemcpy from pageable memory may return before the DMA lands, and the passes run on a
  // non-blocking stream that does not wait for the legacy default stream: finish the uploads.
  {
    const cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) return fail(cuda_fail(e, "uploading the weights", err, err_len));
  }
  *out = m;
  return 0;
}

LFM_CUDA_API void lfm_cuda_model_free(lfm_cuda_model* model) { delete model; }

LFM_CUDA_API uint64_t lfm_cuda_model_bytes(const lfm_cuda_model* model) {
  return model ? model->weights.bytes + model->scratch.bytes : 0;
}

static int lfm_cuda_seq_create_impl(lfm_cuda_model* model, int64_t n_ctx, lfm_cuda_seq** out, char* err,
                                     size_t err_len) {
  if (!model || !out || n_ctx < 1) {
    set_err(err, err_len, "invalid sequence arguments");
    return code_of(StatusCode::kInvalidArg);
  }
  *out = nullptr;
  LFM_CU(cudaSetDevice(model->device), "cudaSetDevice");
  lfm_cuda_seq* s = new (std::nothrow) lfm_cuda_seq();
  if (!s) {
    set_err(err, err_len, "out of host memory");
    return code_of(StatusCode::kOutOfMemory);
  }
  s->model = model;
  s->n_ctx = n_ctx;
  const lfm_cuda_model_desc& c = model->cfg;
  const size_t nl = static_cast<size_t>(c.n_layers);
  s->conv.assign(nl, nullptr);
  s->k.assign(nl, nullptr);
  s->v.assign(nl, nullptr);
  s->conv_bytes = static_cast<size_t>((c.conv_l - 1) * c.n_embd) * sizeof(float);
  for (size_t il = 0; il < nl; il++) {
    const Layer& l = model->layers[il];
    void* p = nullptr;
    cudaError_t e = cudaSuccess;
    if (!l.attention) {
      e = s->mem.alloc(&p, s->conv_bytes);
      // On the model's stream: a plain cudaMemset runs on the legacy default stream, which the
      // model's non-blocking stream does not wait for, so a first pass could read the state early.
      if (e == cudaSuccess) e = cudaMemsetAsync(p, 0, s->conv_bytes, model->stream);
      s->conv[il] = static_cast<float*>(p);
    } else {
      const size_t kv = static_cast<size_t>(n_ctx * l.n_kv_heads * c.head_dim) * sizeof(float);
      e = s->mem.alloc(&p, kv);
      s->k[il] = static_cast<float*>(p);
      if (e == cudaSuccess) e = s->mem.alloc(&p, kv);
      s->v[il] = static_cast<float*>(p);
    }
    if (e != cudaSuccess) {
      const int rc = cuda_fail(e, ("allocating a context of " + std::to_string(n_ctx) + " tokens").c_str(), err, err_len);
      cudaStreamSynchronize(model->stream);  // no memset of ours still pending on the buffers
      delete s;
      return rc;
    }
  }
  *out = s;
  return 0;
}

LFM_CUDA_API void lfm_cuda_seq_free(lfm_cuda_seq* seq) {
  if (!seq) return;
  // A pass of the model may still use the buffers: wait for it.
  std::lock_guard<std::mutex> lock(seq->model->mu);
  delete seq;
}

LFM_CUDA_API int lfm_cuda_seq_reset(lfm_cuda_seq* seq, char* err, size_t err_len) {
  if (!seq) {
    set_err(err, err_len, "null sequence");
    return code_of(StatusCode::kInvalidArg);
  }
  std::lock_guard<std::mutex> lock(seq->model->mu);
  LFM_CU(cudaSetDevice(seq->model->device), "cudaSetDevice");
  for (float* p : seq->conv) {
    if (p) LFM_CU(cudaMemsetAsync(p, 0, seq->conv_bytes, seq->model->stream), "zeroing the conv state");
  }
  LFM_CU(cudaStreamSynchronize(seq->model->stream), "waiting for the stream");
  return 0;
}

LFM_CUDA_API uint64_t lfm_cuda_seq_bytes(const lfm_cuda_seq* seq) { return seq ? seq->mem.bytes : 0; }

// Host <-> device copies of a sequence's state in the exported layout (lfm_cuda.h), one layer
// buffer at a time on the model's stream, under the model's lock (passes of other sequences).
static int lfm_cuda_seq_copy_state(lfm_cuda_seq* seq, int64_t n_tokens, float* conv, float* kv, bool to_host,
                                   char* err, size_t err_len) {
  if (!seq || n_tokens < 0 || n_tokens > seq->n_ctx) {
    set_err(err, err_len, "invalid sequence state copy (" + std::to_string(n_tokens) + " tokens)");
    return code_of(StatusCode::kInvalidArg);
  }
  lfm_cuda_model* m = seq->model;
  std::lock_guard<std::mutex> lock(m->mu);
  LFM_CU(cudaSetDevice(m->device), "cudaSetDevice");
  const cudaMemcpyKind kind = to_host ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice;
  // Copies `bytes` between a device buffer and the host cursor `*host`, then advances it.
  auto copy = [&](float* dev, float*& host, size_t bytes) {
    const cudaError_t e = to_host ? cudaMemcpyAsync(host, dev, bytes, kind, m->stream)
                                  : cudaMemcpyAsync(dev, host, bytes, kind, m->stream);
    host += bytes / sizeof(float);
    return e;
  };
  const lfm_cuda_model_desc& c = m->cfg;
  for (int64_t il = 0; il < c.n_layers; il++) {
    const Layer& l = m->layers[il];
    if (!l.attention) {
      if (conv) LFM_CU(copy(seq->conv[il], conv, seq->conv_bytes), "copying the conv state");
    } else if (kv && n_tokens > 0) {
      const size_t bytes = static_cast<size_t>(n_tokens * l.n_kv_heads * c.head_dim) * sizeof(float);
      LFM_CU(copy(seq->k[il], kv, bytes), "copying the K cache");
      LFM_CU(copy(seq->v[il], kv, bytes), "copying the V cache");
    }
  }
  LFM_CU(cudaStreamSynchronize(m->stream), "copying the sequence state");
  return 0;
}

static int lfm_cuda_forward_impl(lfm_cuda_model* m, int n_seq, lfm_cuda_seq* const* seqs, const int64_t* pos0,
                                  const int32_t* n_tok, const int32_t* tokens, int n_out, const int32_t* out_rows,
                                  float* logits_host, const lfm_cuda_sampler* samplers_host, int32_t* tokens_out_host,
                                  char* err, size_t err_len) {
  if (!m || n_seq <= 0 || !seqs || !pos0 || !n_tok || !tokens || n_out < 0 || (n_out > 0 && !out_rows) ||
      (samplers_host && !tokens_out_host)) {
    set_err(err, err_len, "invalid forward arguments");
    return code_of(StatusCode::kInvalidArg);
  }
  const lfm_cuda_model_desc& c = m->cfg;
  int64_t T = 0, max_keys = 0;
  for (int s = 0; s < n_seq; s++) {
    if (!seqs[s] || seqs[s]->model != m || n_tok[s] <= 0 || pos0[s] < 0 || pos0[s] + n_tok[s] > seqs[s]->n_ctx) {
      set_err(err, err_len, "segment " + std::to_string(s) + " is invalid (sequence, token count or context)");
      return code_of(StatusCode::kInvalidArg);
    }
    T += n_tok[s];
    max_keys = std::max<int64_t>(max_keys, pos0[s] + n_tok[s]);
  }
  if (T > m->cap) {
    set_err(err, err_len, "a pass of " + std::to_string(T) + " tokens exceeds the batch capacity " + std::to_string(m->cap));
    return code_of(StatusCode::kInvalidArg);
  }
  for (int i = 0; i < n_out; i++) {
    if (out_rows[i] < 0 || out_rows[i] >= T) {
      set_err(err, err_len, "output row " + std::to_string(out_rows[i]) + " is outside the batch");
      return code_of(StatusCode::kInvalidArg);
    }
  }
  std::lock_guard<std::mutex> lock(m->mu);
  LFM_CU(cudaSetDevice(m->device), "cudaSetDevice");
  cudaStream_t st = m->stream;
  const int64_t D = c.n_embd, V = c.n_vocab, Dh = c.head_dim, Hq = c.n_heads, L = c.conv_l, nq = Hq * Dh;
  const int64_t E = c.n_experts, K = c.n_experts_used;
  const float eps = c.norm_eps;

  // Host-side batch description, uploaded in one copy: tokens [T], row_seq [T], row_pos [T],
  // seq_row0 [n_seq + 1], out_rows [n_out].
  std::vector<int32_t> meta(static_cast<size_t>(3 * T + n_seq + 1 + n_out));
  int32_t* h_tokens = meta.data();
  int32_t* h_row_seq = h_tokens + T;
  int32_t* h_row_pos = h_row_seq + T;
  int32_t* h_seq_row0 = h_row_pos + T;
  int32_t* h_out_rows = h_seq_row0 + n_seq + 1;
  {
    int64_t r = 0;
    for (int s = 0; s < n_seq; s++) {
      h_seq_row0[s] = static_cast<int32_t>(r);
      for (int32_t i = 0; i < n_tok[s]; i++, r++) {
        h_tokens[r] = tokens[r];
        h_row_seq[r] = s;
        h_row_pos[r] = static_cast<int32_t>(pos0[s] + i);
      }
    }
    h_seq_row0[n_seq] = static_cast<int32_t>(r);
    for (int i = 0; i < n_out; i++) h_out_rows[i] = out_rows[i];
  }
  if (static_cast<int64_t>(meta.size()) > 5 * m->cap + 1) {
    set_err(err, err_len, "batch description too large");
    return code_of(StatusCode::kInvalidArg);
  }
  // Per-layer pointer table [n_layers][3][n_seq]: conv state (conv layers) or K cache, V cache.
  std::vector<void*> ptrs(static_cast<size_t>(c.n_layers * 3 * n_seq), nullptr);
  for (int64_t il = 0; il < c.n_layers; il++) {
    for (int s = 0; s < n_seq; s++) {
      ptrs[(il * 3 + 0) * n_seq + s] = seqs[s]->conv[il] ? static_cast<void*>(seqs[s]->conv[il]) : seqs[s]->k[il];
      ptrs[(il * 3 + 1) * n_seq + s] = seqs[s]->v[il];
    }
  }
  const int32_t* d_tokens = m->meta;
  const int32_t* d_row_seq = d_tokens + T;
  const int32_t* d_row_pos = d_row_seq + T;
  const int32_t* d_seq_row0 = d_row_pos + T;
  const int32_t* d_out_rows = d_seq_row0 + n_seq + 1;

  // Workspace: the largest any launcher asks for in this pass.
  size_t ws = attention_workspace_bytes(T, Hq, Dh, max_keys);
  if (samplers_host) ws = std::max(ws, sample_workspace_bytes(V, n_out));
  if (E > 0) ws = std::max(ws, moe_routing_workspace_bytes(T, E, K));
  for (const Layer& l : m->layers) {
    for (const DevMatrix* w : {&l.conv_in, &l.conv_out, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up,
                               &l.ffn_down, &l.router}) {
      if (w->data) ws = std::max(ws, matmul_workspace_bytes(*w, T));
    }
    for (const DevMatrix* w : {&l.exp_gate, &l.exp_up, &l.exp_down}) {
      if (w->data) ws = std::max(ws, matmul_grouped_workspace_bytes(*w, T * K));
    }
  }
  ws = std::max(ws, matmul_workspace_bytes(m->output, std::max(n_out, 1)));
  int rc = 0;
  if ((rc = ensure_workspace(*m, ws, err, err_len))) return rc;
  if (n_out > 0 && (rc = ensure_outputs(*m, n_out, err, err_len))) return rc;
  const Workspace W{m->ws, m->ws_bytes};

  LFM_CU(cudaMemcpyAsync(m->meta, meta.data(), meta.size() * sizeof(int32_t), cudaMemcpyHostToDevice, st),
         "uploading the batch");
  LFM_CU(cudaMemcpyAsync(m->ptrs, ptrs.data(), ptrs.size() * sizeof(void*), cudaMemcpyHostToDevice, st),
         "uploading the state pointers");

#define LFM_K(call, what) LFM_CU(call, what)

  LFM_K(embed(m->x, m->token_embd, d_tokens, T, st), "embed");
  for (int64_t il = 0; il < c.n_layers; il++) {
    const Layer& l = m->layers[il];
    void** lp = m->ptrs + il * 3 * n_seq;
    LFM_K(rmsnorm(m->u, D, m->x, D, l.attn_norm, D, T, eps, st), "rmsnorm");
    if (!l.attention) {
      LFM_K(matmul(l.conv_in, 0, m->u, D, T, m->bcx, 3 * D, W, st), "matmul conv_in");  // [T, D] -> [T, 3D]
      LFM_K(short_conv(m->y, D, reinterpret_cast<float* const*>(lp), m->bcx, 3 * D, l.conv_w, D, L, d_seq_row0,
                       n_seq, T, st),
            "short_conv");
      LFM_K(matmul(l.conv_out, 0, m->y, D, T, m->mix, D, W, st), "matmul conv_out");  // [T, D] -> [T, D]
    } else {
      const int64_t Hkv = l.n_kv_heads, nkv = Hkv * Dh;
      LFM_K(matmul(l.wq, 0, m->u, D, T, m->q, nq, W, st), "matmul attn_q");
      LFM_K(matmul(l.wk, 0, m->u, D, T, m->k, nkv, W, st), "matmul attn_k");
      LFM_K(matmul(l.wv, 0, m->u, D, T, m->v, nkv, W, st), "matmul attn_v");
      float* const* kc = reinterpret_cast<float* const*>(lp);
      float* const* vc = reinterpret_cast<float* const*>(lp + n_seq);
      LFM_K(qk_norm_rope_store(m->q, m->k, m->v, l.q_norm, l.k_norm, T, Hq, Hkv, Dh, eps, c.rope_theta, d_row_seq,
                               d_row_pos, kc, vc, st),
            "qk_norm_rope_store");
      const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
      // Mostly one row per sequence (batched decode): the kernel that splits each row's keys;
      // the tiled kernel would walk a whole cache per row with one row of its tile active.
      const int path = T > 32 && T < 4 * static_cast<int64_t>(n_seq) ? 1 : 0;
      LFM_K(attention_path(m->y, m->q, T, Hq, Hkv, Dh, scale, d_row_seq, d_row_pos,
                      reinterpret_cast<const float* const*>(kc), reinterpret_cast<const float* const*>(vc), max_keys,
                      W, path, st),
            "attention");
      LFM_K(matmul(l.wo, 0, m->y, nq, T, m->mix, D, W, st), "matmul attn_output");
    }
    LFM_K(add_inplace(m->x, m->mix, T * D, st), "residual");
    LFM_K(rmsnorm(m->u, D, m->x, D, l.ffn_norm, D, T, eps, st), "rmsnorm");
    if (!l.moe) {
      const int64_t F = l.ffn_gate.n_rows;
      LFM_K(matmul(l.ffn_gate, 0, m->u, D, T, m->gate, F, W, st), "matmul ffn_gate");
      LFM_K(matmul(l.ffn_up, 0, m->u, D, T, m->up, F, W, st), "matmul ffn_up");
      LFM_K(swiglu(m->gate, m->gate, m->up, T * F, st), "swiglu");
      LFM_K(matmul(l.ffn_down, 0, m->gate, F, T, m->mix, D, W, st), "matmul ffn_down");
    } else {
      const int64_t Fe = c.expert_ffn_dim, R = T * K;
      LFM_K(matmul(l.router, 0, m->u, D, T, m->router_logits, E, W, st), "matmul router");
      LFM_K(moe_route(m->routing, m->router_logits, l.expert_bias, T, E, K, c.expert_scale, W, st), "moe_route");
      LFM_K(moe_gather(m->xe, m->u, D, m->routing.rows, R, st), "moe_gather");
      LFM_K(matmul_grouped(l.exp_gate, m->routing.offsets, m->xe, D, R, m->gate, Fe, W, st), "experts gate");
      LFM_K(matmul_grouped(l.exp_up, m->routing.offsets, m->xe, D, R, m->up, Fe, W, st), "experts up");
      LFM_K(swiglu(m->gate, m->gate, m->up, R * Fe, st), "swiglu");
      LFM_K(matmul_grouped(l.exp_down, m->routing.offsets, m->gate, Fe, R, m->ye, D, W, st), "experts down");
      LFM_K(moe_combine(m->mix, m->ye, D, m->routing.slot, m->routing.slot_w, T, K, st), "moe_combine");
    }
    LFM_K(add_inplace(m->x, m->mix, T * D, st), "residual");
  }

  if (n_out > 0) {
    gather_rows_kernel<<<static_cast<unsigned>(n_out), 256, 0, st>>>(m->out_rows_x, m->x, d_out_rows, D);
    LFM_K(cudaGetLastError(), "gather rows");
    LFM_K(rmsnorm(m->out_rows_x, D, m->out_rows_x, D, m->output_norm, D, n_out, eps, st), "rmsnorm output");
    LFM_K(matmul(m->output, 0, m->out_rows_x, D, n_out, m->logits, V, W, st), "matmul output");  // [n_out, D] -> [n_out, V]
    if (samplers_host) {
      static_assert(sizeof(Sampler) == sizeof(lfm_cuda_sampler), "Sampler mirrors lfm_cuda_sampler");
      LFM_K(cudaMemcpyAsync(m->samplers, samplers_host, static_cast<size_t>(n_out) * sizeof(Sampler),
                            cudaMemcpyHostToDevice, st),
            "uploading sampler parameters");
      LFM_K(sample(m->tokens_out, m->logits, V, n_out, m->samplers, W, st), "sample");
      LFM_K(cudaMemcpyAsync(tokens_out_host, m->tokens_out, static_cast<size_t>(n_out) * sizeof(int32_t),
                            cudaMemcpyDeviceToHost, st),
            "downloading sampled tokens");
    }
    if (logits_host) {
      LFM_K(cudaMemcpyAsync(logits_host, m->logits, static_cast<size_t>(n_out * V) * sizeof(float),
                            cudaMemcpyDeviceToHost, st),
            "downloading logits");
    }
  }
#undef LFM_K
  LFM_CU(cudaStreamSynchronize(st), "forward pass");
  return 0;
}

LFM_CUDA_API int lfm_cuda_model_create(int device, const lfm_cuda_model_desc* desc, lfm_cuda_model** out, char* err,
                                       size_t err_len) {
  return guarded(err, err_len, [&] { return lfm_cuda_model_create_impl(device, desc, out, err, err_len); });
}

LFM_CUDA_API int lfm_cuda_seq_create(lfm_cuda_model* model, int64_t n_ctx, lfm_cuda_seq** out, char* err,
                                     size_t err_len) {
  return guarded(err, err_len, [&] { return lfm_cuda_seq_create_impl(model, n_ctx, out, err, err_len); });
}

LFM_CUDA_API int lfm_cuda_forward(lfm_cuda_model* m, int n_seq, lfm_cuda_seq* const* seqs, const int64_t* pos0,
                                  const int32_t* n_tok, const int32_t* tokens, int n_out, const int32_t* out_rows,
                                  float* logits_host, const lfm_cuda_sampler* samplers_host, int32_t* tokens_out_host,
                                  char* err, size_t err_len) {
  return guarded(err, err_len, [&] {
    return lfm_cuda_forward_impl(m, n_seq, seqs, pos0, n_tok, tokens, n_out, out_rows, logits_host, samplers_host,
                                 tokens_out_host, err, err_len);
  });
}

LFM_CUDA_API int lfm_cuda_seq_read_state(lfm_cuda_seq* seq, int64_t n_tokens, float* conv_out, float* kv_out,
                                         char* err, size_t err_len) {
  return guarded(err, err_len, [&] { return lfm_cuda_seq_copy_state(seq, n_tokens, conv_out, kv_out, true, err, err_len); });
}

// The host buffers are only read (host -> device): the const is dropped for the shared walk.
LFM_CUDA_API int lfm_cuda_seq_write_state(lfm_cuda_seq* seq, int64_t n_tokens, const float* conv, const float* kv,
                                          char* err, size_t err_len) {
  return guarded(err, err_len, [&] {
    return lfm_cuda_seq_copy_state(seq, n_tokens, const_cast<float*>(conv), const_cast<float*>(kv), false, err, err_len);
  });
}

LFM_CUDA_API int lfm_cuda_run_kernel(const lfm_cuda_kernel_call* call, char* err, size_t err_len) {
  if (!call || !call->op) {
    set_err(err, err_len, "null kernel call");
    return code_of(StatusCode::kInvalidArg);
  }
  std::string msg;
  int rc = run_test_op_matmul(*call, &msg);
  if (rc == -1) rc = run_test_op_misc(*call, &msg);
  if (rc == -1) {
    set_err(err, err_len, std::string("unknown kernel op '") + call->op + "'");
    return code_of(StatusCode::kInvalidArg);
  }
  if (rc != 0) set_err(err, err_len, msg);
  return rc;
}

}  // extern "C"
