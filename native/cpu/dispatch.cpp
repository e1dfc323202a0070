// SPDX-License-Identifier: MIT
// The kernel tables: the complete scalar table, overlaid with whatever AVX2 implements, then
// with whatever AVX-512 implements. Built once, and only with the levels this CPU has: the
// fill_kernels functions are compiled with their ISA's flags like the kernels themselves.

#include "dispatch.h"

#include "kernel_sets.h"

#if defined(__x86_64__) || defined(_M_X64)
#define LFM_HAVE_X86_KERNELS 1
#endif

namespace lfm::cpu {
namespace {

// Copies every non-null entry of `over` onto `base` (a missing fast kernel keeps the lower one).
// The integer path is the exception: it is replaced as a whole, never inherited (dispatch.h).
void overlay(CpuKernels* base, const CpuKernels& over) {
  base->quantize_acts = over.quantize_acts;
  for (int i = 0; i < kGgmlTypeCount; ++i) base->matmul_q16[i] = over.quantize_acts ? over.matmul_q16[i] : nullptr;
  for (int i = 0; i < kGgmlTypeCount; ++i) {
    if (over.matmul[i]) base->matmul[i] = over.matmul[i];
    if (over.dequant_row[i]) base->dequant_row[i] = over.dequant_row[i];
  }
  if (over.rmsnorm_f32) base->rmsnorm_f32 = over.rmsnorm_f32;
  if (over.swiglu_f32) base->swiglu_f32 = over.swiglu_f32;
  if (over.short_conv_f32) base->short_conv_f32 = over.short_conv_f32;
  if (over.attention_f32) base->attention_f32 = over.attention_f32;
  if (over.axpy_f32) base->axpy_f32 = over.axpy_f32;
}

struct Tables {
  CpuKernels by_isa[3];

  Tables() {
    CpuKernels scalar_k{};
    scalar::fill_kernels(&scalar_k);
    scalar_k.isa = "scalar";
    by_isa[0] = scalar_k;
    by_isa[1] = scalar_k;
    by_isa[2] = scalar_k;
#ifdef LFM_HAVE_X86_KERNELS
    // fill_kernels lives in its ISA's translation units, compiled with that ISA's flags: even
    // storing function pointers there may use VEX/EVEX instructions (the compiler vectorizes the
    // stores), so a level is only filled on a CPU that has it. Tables above best_isa() keep the
    // lower level's kernels and are never handed out (cpu_kernels clamps).
    const int best = static_cast<int>(best_isa());
    if (best >= static_cast<int>(Isa::kAvx2)) {
      CpuKernels avx2_k{};
      avx2::fill_kernels(&avx2_k);
      overlay(&by_isa[1], avx2_k);
      overlay(&by_isa[2], avx2_k);
    }
    if (best >= static_cast<int>(Isa::kAvx512)) {
      CpuKernels avx512_k{};
      avx512::fill_kernels(&avx512_k);
      const CpuFeatures& f = cpu_features();
      if (f.avx512vnni && f.avx512vbmi) avx512vnni::fill_kernels(&avx512_k);
      overlay(&by_isa[2], avx512_k);
    }
#endif
    by_isa[1].isa = "avx2";
    by_isa[2].isa = "avx512";
  }
};

}  // namespace

const CpuKernels& cpu_kernels(Isa isa) {
  static const Tables tables;  // thread-safe one-time initialisation
  // Never hand out code the CPU cannot run: a request above best_isa() gets best_isa().
  int i = static_cast<int>(isa);
  const int best = static_cast<int>(best_isa());
  if (i > best) i = best;
  if (i < 0) i = 0;
  return tables.by_isa[i];
}

}  // namespace lfm::cpu
