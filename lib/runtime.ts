// SPDX-License-Identifier: MIT
// runtimeInfo(): the CPU features found, the kernel set chosen, and GPU availability.
import { wrapNativeError } from "./errors.js";
import { native } from "./native.js";
import type { RuntimeInfo } from "./types.js";

/**
 * What this process runs on: the CPU kernel set (from CPUID + XGETBV, lowered by the
 * LFM2_CPU_ISA environment variable), the CPU features seen, and whether CUDA is available
 * (driver, device, compute capability, memory; or why not).
 * @example runtimeInfo().cpu.isa // "avx512"
 * @throws {LfmError} ERR_LFM_UNSUPPORTED_CPU when LFM2_CPU_ISA asks for more than the CPU has.
 */
export function runtimeInfo(): RuntimeInfo {
  try {
    const r = native().runtimeInfo();
    return {
      cpu: { ...r.cpu, features: [...r.cpu.features] },
      cuda: { ...r.cuda, ...(r.cuda.device && { device: { ...r.cuda.device } }) },
    };
  } catch (err) {
    throw wrapNativeError(err);
  }
}
