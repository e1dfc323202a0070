// SPDX-License-Identifier: MIT
// The GPU test suite's access to the CUDA backend: availability (suites skip without a device)
// and the kernel test hook (lfm_cuda_run_kernel through the addon).
import { native } from "../../lib/native.js";

export const cudaInfo = native().runtimeInfo().cuda;
/** True when a CUDA device and the backend library were found: GPU suites run only then. */
export const hasCuda = cudaInfo.available;

/**
 * Runs one CUDA kernel on host data: `ints` / `floats` / `inputs` are op-specific (documented in
 * native/cuda/backend/test_ops_*.cu); returns the output buffer (and the second one, if asked).
 */
export function runCuda(
  op: string,
  ints: number[],
  floats: number[],
  inputs: ArrayBufferView[],
  outBytes: number,
  out2Bytes = 0,
): { out: ArrayBuffer; out2?: ArrayBuffer } {
  return native()._runCudaKernel(op, ints, floats, inputs, outBytes, out2Bytes);
}
