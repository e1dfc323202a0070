// SPDX-License-Identifier: MIT
// CPU feature detection (CPUID leaves 1 and 7, XCR0 through XGETBV) and the ISA override.
// The only place in the project that asks the CPU what it can do.

#include <cstdlib>
#include <string>

#include "dispatch.h"
#include "kernel_sets.h"

#if defined(__x86_64__) || defined(_M_X64)
#define LFM_X86_64 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace lfm::cpu {
namespace {

#ifdef LFM_X86_64
struct Regs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Regs cpuid(uint32_t leaf, uint32_t subleaf) {
  Regs r;
#if defined(_MSC_VER)
  int v[4];
  __cpuidex(v, static_cast<int>(leaf), static_cast<int>(subleaf));
  r.eax = static_cast<uint32_t>(v[0]);
  r.ebx = static_cast<uint32_t>(v[1]);
  r.ecx = static_cast<uint32_t>(v[2]);
  r.edx = static_cast<uint32_t>(v[3]);
#else
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
  return r;
}

// XCR0: which register states the OS saves on context switch. Only valid when OSXSAVE is set.
uint64_t read_xcr0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  uint32_t lo = 0, hi = 0;
  // Raw encoding of xgetbv, so no -mxsave is needed for this baseline file.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
#endif
}

constexpr bool bit(uint32_t reg, int b) { return ((reg >> b) & 1u) != 0; }

CpuFeatures detect() {
  CpuFeatures f;
  const uint32_t max_leaf = cpuid(0, 0).eax;
  if (max_leaf < 1) return f;
  const Regs l1 = cpuid(1, 0);
  f.sse42 = bit(l1.ecx, 20);
  f.fma = bit(l1.ecx, 12);
  f.avx = bit(l1.ecx, 28);
  f.f16c = bit(l1.ecx, 29);
  const bool osxsave = bit(l1.ecx, 27);
  if (osxsave) {
    const uint64_t xcr0 = read_xcr0();
    f.os_avx = (xcr0 & 0x6) == 0x6;            // bit 1 SSE (XMM), bit 2 AVX (YMM upper halves)
    f.os_avx512 = f.os_avx && (xcr0 & 0xe0) == 0xe0;  // bits 5-7: opmask, ZMM0-15 hi, ZMM16-31
  }
  if (max_leaf >= 7) {
    const Regs l7 = cpuid(7, 0);
    f.avx2 = bit(l7.ebx, 5);
    f.avx512f = bit(l7.ebx, 16);
    f.avx512dq = bit(l7.ebx, 17);
    f.avx512bw = bit(l7.ebx, 30);
    f.avx512vl = bit(l7.ebx, 31);
    f.avx512vbmi = bit(l7.ecx, 1);
    f.avx512vnni = bit(l7.ecx, 11);
    if (l7.eax >= 1) {  // leaf 7 reports its highest subleaf in eax
      const Regs l7s1 = cpuid(7, 1);
      f.avx_vnni = bit(l7s1.eax, 4);
      f.avx512bf16 = bit(l7s1.eax, 5);
    }
  }
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures(); }  // not x86-64: scalar kernels only
#endif

Isa detect_best() {
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx && f.avx2 && f.fma && f.f16c && f.os_avx;
  const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.os_avx512;
  return avx512 ? Isa::kAvx512 : avx2 ? Isa::kAvx2 : Isa::kScalar;
}

bool equals_ignore_case(const char* a, const char* b) {
  for (; *a && *b; ++a, ++b) {
    char ca = *a, cb = *b;
    if (ca >= 'A' && ca <= 'Z') ca = static_cast<char>(ca - 'A' + 'a');
    if (cb >= 'A' && cb <= 'Z') cb = static_cast<char>(cb - 'A' + 'a');
    if (ca != cb) return false;
  }
  return *a == *b;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "scalar";
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();  // thread-safe one-time initialisation
  return features;
}

Isa best_isa() {
  static const Isa best = detect_best();
  return best;
}

Status parse_isa_with_ceiling(const char* name, Isa ceiling, Isa* out) {
  static const Isa kAll[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};
  const std::string shown = name ? name : "(null)";
  for (Isa isa : kAll) {
    if (name == nullptr || !equals_ignore_case(name, isa_name(isa))) continue;
    if (static_cast<int>(isa) > static_cast<int>(ceiling)) {
      return Status(StatusCode::kUnsupportedCpu,
                    std::string("[cpu] ISA '") + isa_name(isa) + "' was requested but this CPU " +
                        "and OS support at most '" + isa_name(ceiling) + "'");
    }
    *out = isa;
    return Status::ok();
  }
  return Status(StatusCode::kInvalidArg,
                "[cpu] unknown ISA '" + shown + "': expected one of scalar, avx2, avx512");
}

Status parse_isa(const char* name, Isa* out) { return parse_isa_with_ceiling(name, best_isa(), out); }

Status default_isa(Isa* out) {
  const char* env = std::getenv("LFM2_CPU_ISA");
  if (env == nullptr || *env == '\0') {
    *out = best_isa();
    return Status::ok();
  }
  Status s = parse_isa(env, out);
  if (!s.is_ok()) return Status(s.code(), s.message() + " (set by LFM2_CPU_ISA)");
  return s;
}

}  // namespace lfm::cpu
