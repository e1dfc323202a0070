// SPDX-License-Identifier: MIT
// Kernel test hook (lfm_cuda_run_kernel) for the matmul.cu and embed.cu launchers. Each op
// uploads its host inputs, runs the launcher on a private stream, waits, downloads the result
// into call.output and frees everything. Weights are ggml bytes of GgmlType `type`
// (row_bytes = n_cols / block_size * block_bytes); all integers in `ints` are int64.
//
//   "matmul"          ints   [type, n_rows, n_cols, n_tok, path?]
//                     inputs [W bytes (n_rows * row_bytes), x f32 [n_tok * n_cols]]
//                     output f32 [n_tok * n_rows]: y[t * n_rows + r] = sum_c W[r, c] * x[t * n_cols + c]
//   "matmul_grouped"  ints   [type, n_rows, n_cols, n_mats, total_rows, path?]
//                     inputs [W bytes (n_mats matrices of n_rows * row_bytes), offsets int32
//                             [n_mats + 1] (offsets[0] = 0, non-decreasing, offsets[n_mats] =
//                             total_rows), x f32 [total_rows * n_cols]]
//                     output f32 [total_rows * n_rows]: row r of x and y uses the matrix e with
//                             offsets[e] <= r < offsets[e + 1]; max_rows = total_rows.
//   "embed"           ints   [type, n_vocab, D, n_tok]
//                     inputs [table bytes (n_vocab * row_bytes of D columns), tokens int32 [n_tok]]
//                     output f32 [n_tok * D]
//
// path (optional, default 0): 0 as the launcher chooses, 1 the GEMV kernel for every token count
// (grouped: for every expert), 2 the tiled SIMT kernel, 3 the tiled tensor-core kernel (the SIMT
// one on devices below compute capability 8.0): see MatmulPath in quant.cuh.
// floats: none. Returns 1 (ERR_LFM_INVALID_ARG) for bad arguments, including an unsupported type
// (the launcher's cudaErrorInvalidValue), 11 (OOM) or 14 (device) for CUDA failures.

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../../core/status.h"
#include "../lfm_cuda.h"
#include "kernels.cuh"
#include "quant.cuh"
#include "test_ops.h"

namespace lfm::cuda {
namespace {

int code(StatusCode c) { return static_cast<int>(c); }

int invalid(std::string* err, const std::string& msg) {
  if (err) *err = msg;
  return code(StatusCode::kInvalidArg);
}

int cuda_failed(std::string* err, cudaError_t e, const char* what) {
  if (err) *err = std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  return code(e == cudaErrorMemoryAllocation ? StatusCode::kOutOfMemory : StatusCode::kDevice);
}

// Device buffers and the stream of one call, released on every path.
struct Resources {
  std::vector<void*> bufs;
  cudaStream_t stream = nullptr;
  ~Resources() {
    if (stream) {
      cudaStreamSynchronize(stream);
      cudaStreamDestroy(stream);
    }
    for (void* p : bufs) cudaFree(p);
  }
  cudaError_t alloc(void** out, size_t n) {
    *out = nullptr;
    const cudaError_t e = cudaMalloc(out, n == 0 ? 1 : n);
    if (e == cudaSuccess) bufs.push_back(*out);
    return e;
  }
};

#define LFM_T_CU(call, what)                                           \
  do {                                                                 \
    const cudaError_t lfm_e_ = (call);                                 \
    if (lfm_e_ != cudaSuccess) return cuda_failed(err, lfm_e_, what);  \
  } while (0)

// Sizes in these tests stay far below this, so no product of two of them overflows.
constexpr int64_t kMaxDim = int64_t{1} << 26;

bool dim_ok(int64_t v, int64_t lo = 1) { return v >= lo && v <= kMaxDim; }

// Weight row bytes of a supported type with n_cols a multiple of its block; -1 otherwise.
int64_t weight_row_bytes(int64_t type, int64_t n_cols) {
  if (type < 0 || type > 63 || !matmul_supports(static_cast<uint32_t>(type))) return -1;
  const int64_t be = quant_block_elems(static_cast<int>(type)), bb = quant_block_bytes(static_cast<int>(type));
  if (n_cols % be != 0) return -1;
  return n_cols / be * bb;
}

bool input_size_ok(const lfm_cuda_kernel_call& c, int i, int64_t bytes) {
  return c.inputs[i] != nullptr && static_cast<int64_t>(c.input_bytes[i]) == bytes;
}

// Uploads input i into a new device buffer.
cudaError_t upload(Resources& res, const lfm_cuda_kernel_call& c, int i, void** out) {
  cudaError_t e = res.alloc(out, c.input_bytes[i]);
  if (e != cudaSuccess) return e;
  if (c.input_bytes[i] == 0) return cudaSuccess;
  return cudaMemcpyAsync(*out, c.inputs[i], c.input_bytes[i], cudaMemcpyHostToDevice, res.stream);
}

MatmulPath path_of(int64_t v) { return static_cast<MatmulPath>(static_cast<int>(v)); }
bool path_ok(int64_t v) { return v >= 0 && v <= 3; }

int finish(Resources& res, const cudaError_t launched, const void* d_out, const lfm_cuda_kernel_call& c,
           std::string* err) {
  if (launched == cudaErrorInvalidValue) {
    cudaStreamSynchronize(res.stream);
    return invalid(err, "the launcher rejected the arguments (cudaErrorInvalidValue)");
  }
  LFM_T_CU(launched, "kernel launch");
  if (c.output_bytes > 0) {
    LFM_T_CU(cudaMemcpyAsync(c.output, d_out, c.output_bytes, cudaMemcpyDeviceToHost, res.stream), "download");
  }
  LFM_T_CU(cudaStreamSynchronize(res.stream), "kernel execution");
  return 0;
}

int run_matmul(const lfm_cuda_kernel_call& c, std::string* err) {
  if (c.n_ints != 4 && c.n_ints != 5) return invalid(err, "matmul: ints are [type, n_rows, n_cols, n_tok, path?]");
  const int64_t type = c.ints[0], n_rows = c.ints[1], n_cols = c.ints[2], n_tok = c.ints[3];
  const int64_t path = c.n_ints == 5 ? c.ints[4] : 0;
  if (!dim_ok(n_rows) || !dim_ok(n_cols) || !dim_ok(n_tok, 0) || !path_ok(path)) {
    return invalid(err, "matmul: bad sizes or path");
  }
  int64_t row_bytes = weight_row_bytes(type, n_cols);
  // An unsupported type still reaches the launcher (which must reject it): one byte per column.
  const bool supported = row_bytes >= 0;
  if (!supported) row_bytes = n_cols;
  if (c.n_inputs != 2 || !input_size_ok(c, 0, n_rows * row_bytes) ||
      !input_size_ok(c, 1, n_tok * n_cols * int64_t{4})) {
    return invalid(err, "matmul: inputs are [W (n_rows * row_bytes bytes), x (n_tok * n_cols f32)]");
  }
  if ((c.output == nullptr && c.output_bytes > 0) || static_cast<int64_t>(c.output_bytes) != n_tok * n_rows * 4) {
    return invalid(err, "matmul: output must be n_tok * n_rows f32");
  }
  Resources res;
  LFM_T_CU(cudaStreamCreateWithFlags(&res.stream, cudaStreamNonBlocking), "creating a stream");
  void *d_w, *d_x, *d_y;
  LFM_T_CU(upload(res, c, 0, &d_w), "uploading W");
  LFM_T_CU(upload(res, c, 1, &d_x), "uploading x");
  LFM_T_CU(res.alloc(&d_y, c.output_bytes), "allocating y");
  // All bits set is a NaN: an output the kernels fail to write shows.
  LFM_T_CU(cudaMemsetAsync(d_y, 0xff, c.output_bytes, res.stream), "clearing y");
  DevMatrix w;
  w.data = static_cast<const uint8_t*>(d_w);
  w.type = static_cast<uint32_t>(type);
  w.n_rows = n_rows;
  w.n_cols = n_cols;
  w.row_bytes = row_bytes;
  w.n_mats = 1;
  w.mat_bytes = n_rows * row_bytes;
  const cudaError_t e = matmul_path(w, 0, static_cast<const float*>(d_x), n_cols, n_tok, static_cast<float*>(d_y),
                                    n_rows, path_of(path), res.stream);
  return finish(res, e, d_y, c, err);
}

int run_matmul_grouped(const lfm_cuda_kernel_call& c, std::string* err) {
  if (c.n_ints != 5 && c.n_ints != 6) {
    return invalid(err, "matmul_grouped: ints are [type, n_rows, n_cols, n_mats, total_rows, path?]");
  }
  const int64_t type = c.ints[0], n_rows = c.ints[1], n_cols = c.ints[2], n_mats = c.ints[3], total = c.ints[4];
  const int64_t path = c.n_ints == 6 ? c.ints[5] : 0;
  if (!dim_ok(n_rows) || !dim_ok(n_cols) || !dim_ok(n_mats) || n_mats > 65535 || !dim_ok(total, 0) ||
      !path_ok(path)) {
    return invalid(err, "matmul_grouped: bad sizes or path");
  }
  int64_t row_bytes = weight_row_bytes(type, n_cols);
  if (row_bytes < 0) row_bytes = n_cols;
  if (c.n_inputs != 3 || !input_size_ok(c, 0, n_mats * n_rows * row_bytes) ||
      !input_size_ok(c, 1, (n_mats + 1) * int64_t{4}) || !input_size_ok(c, 2, total * n_cols * int64_t{4})) {
    return invalid(err, "matmul_grouped: inputs are [W (n_mats matrices), offsets (n_mats + 1 int32), x]");
  }
  // The offsets must describe the rows exactly (the kernels trust them).
  std::vector<int32_t> off(static_cast<size_t>(n_mats + 1));
  std::memcpy(off.data(), c.inputs[1], off.size() * sizeof(int32_t));
  if (off[0] != 0 || off[static_cast<size_t>(n_mats)] != total) {
    return invalid(err, "matmul_grouped: offsets must start at 0 and end at total_rows");
  }
  for (int64_t e = 0; e < n_mats; ++e) {
    if (off[static_cast<size_t>(e + 1)] < off[static_cast<size_t>(e)]) {
      return invalid(err, "matmul_grouped: offsets must not decrease");
    }
  }
  if ((c.output == nullptr && c.output_bytes > 0) || static_cast<int64_t>(c.output_bytes) != total * n_rows * 4) {
    return invalid(err, "matmul_grouped: output must be total_rows * n_rows f32");
  }
  Resources res;
  LFM_T_CU(cudaStreamCreateWithFlags(&res.stream, cudaStreamNonBlocking), "creating a stream");
  void *d_w, *d_off, *d_x, *d_y;
  LFM_T_CU(upload(res, c, 0, &d_w), "uploading W");
  LFM_T_CU(upload(res, c, 1, &d_off), "uploading offsets");
  LFM_T_CU(upload(res, c, 2, &d_x), "uploading x");
  LFM_T_CU(res.alloc(&d_y, c.output_bytes), "allocating y");
  LFM_T_CU(cudaMemsetAsync(d_y, 0xff, c.output_bytes, res.stream), "clearing y");
  DevMatrix w;
  w.data = static_cast<const uint8_t*>(d_w);
  w.type = static_cast<uint32_t>(type);
  w.n_rows = n_rows;
  w.n_cols = n_cols;
  w.row_bytes = row_bytes;
  w.n_mats = n_mats;
  w.mat_bytes = n_rows * row_bytes;
  const cudaError_t e = matmul_grouped_path(w, static_cast<const int32_t*>(d_off), static_cast<const float*>(d_x),
                                            n_cols, total, static_cast<float*>(d_y), n_rows, path_of(path),
                                            res.stream);
  return finish(res, e, d_y, c, err);
}

int run_embed(const lfm_cuda_kernel_call& c, std::string* err) {
  if (c.n_ints != 4) return invalid(err, "embed: ints are [type, n_vocab, D, n_tok]");
  const int64_t type = c.ints[0], n_vocab = c.ints[1], D = c.ints[2], n_tok = c.ints[3];
  if (!dim_ok(n_vocab) || !dim_ok(D) || !dim_ok(n_tok, 0)) return invalid(err, "embed: bad sizes");
  int64_t row_bytes = weight_row_bytes(type, D);
  if (row_bytes < 0) row_bytes = D;
  if (c.n_inputs != 2 || !input_size_ok(c, 0, n_vocab * row_bytes) || !input_size_ok(c, 1, n_tok * int64_t{4})) {
    return invalid(err, "embed: inputs are [table (n_vocab rows), tokens (n_tok int32)]");
  }
  if ((c.output == nullptr && c.output_bytes > 0) || static_cast<int64_t>(c.output_bytes) != n_tok * D * 4) {
    return invalid(err, "embed: output must be n_tok * D f32");
  }
  Resources res;
  LFM_T_CU(cudaStreamCreateWithFlags(&res.stream, cudaStreamNonBlocking), "creating a stream");
  void *d_table, *d_tok, *d_x;
  LFM_T_CU(upload(res, c, 0, &d_table), "uploading the table");
  LFM_T_CU(upload(res, c, 1, &d_tok), "uploading tokens");
  LFM_T_CU(res.alloc(&d_x, c.output_bytes), "allocating x");
  DevMatrix m;
  m.data = static_cast<const uint8_t*>(d_table);
  m.type = static_cast<uint32_t>(type);
  m.n_rows = n_vocab;
  m.n_cols = D;
  m.row_bytes = row_bytes;
  m.n_mats = 1;
  m.mat_bytes = n_vocab * row_bytes;
  const cudaError_t e = embed(static_cast<float*>(d_x), m, static_cast<const int32_t*>(d_tok), n_tok, res.stream);
  return finish(res, e, d_x, c, err);
}

#undef LFM_T_CU

}  // namespace

int run_test_op_matmul(const lfm_cuda_kernel_call& call, std::string* err) {
  if (call.op == nullptr) return -1;
  const std::string op = call.op;
  if (op != "matmul" && op != "matmul_grouped" && op != "embed") return -1;
  if ((call.n_ints > 0 && call.ints == nullptr) || call.n_inputs < 0 ||
      (call.n_inputs > 0 && (call.inputs == nullptr || call.input_bytes == nullptr))) {
    return invalid(err, op + ": null argument arrays");
  }
  if (op == "matmul") return run_matmul(call, err);
  if (op == "matmul_grouped") return run_matmul_grouped(call, err);
  return run_embed(call, err);
}

}  // namespace lfm::cuda
