// Static audit of the built addon (scripts/check-baseline-isa.mjs): no AVX or newer instruction
// outside the per-ISA kernel namespaces, and no AVX-512 in the AVX2 kernels. A control library
// compiled here with one offender of each kind checks that the audit does find them. Skipped
// without GNU objdump (and the control without a C++ compiler), and off x86-64 Linux.
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { scratchDir } from "../helpers/models.js";

const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..");
const SCRIPT = join(ROOT, "scripts", "check-baseline-isa.mjs");
const ADDON = join(ROOT, "build", "Release", "lfm2.node");

const works = (cmd: string, args: string[]) => !spawnSync(cmd, args, { encoding: "utf8" }).error;
const x64Linux = process.platform === "linux" && process.arch === "x64";
const hasObjdump = x64Linux && works("objdump", ["--version"]);
const hasCxx = hasObjdump && works("c++", ["--version"]);

function audit(file: string) {
  return spawnSync(process.execPath, [SCRIPT, file], { encoding: "utf8", timeout: 120_000 });
}

describe.skipIf(!hasObjdump)("baseline ISA audit", () => {
  it.skipIf(!existsSync(ADDON))("the built addon has no AVX outside the per-ISA kernels", (ctx) => {
    const r = audit(ADDON);
    // Exit 2: cannot check, e.g. an addon stripped in place by prebuildify --strip (the script
    // says how to relink an unstripped one).
    if (r.status === 2 && /stripped/.test(r.stderr)) ctx.skip();
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/OK, \d+ functions \(\d+ baseline, [1-9]\d* avx2, [1-9]\d* avx512, [1-9]\d* avx512vnni\)/);
  });

  it.skipIf(!hasCxx)("finds AVX in shared code and AVX-512 in AVX2 code (control library)", () => {
    const dir = scratchDir();
    const src = join(dir, "control.cpp");
    const lib = join(dir, "control.so");
    // Each function is compiled with a target attribute, as the per-ISA folders are with flags.
    writeFileSync(
      src,
      `#include <immintrin.h>
namespace lfm { namespace cpu {
namespace avx2 {
__attribute__((target("avx2"))) float ok_avx2(const float* p) { __m256 v = _mm256_loadu_ps(p); return _mm256_cvtss_f32(_mm256_add_ps(v, v)); }
__attribute__((target("avx512f"))) float bad_avx512_in_avx2(const float* p) { __m512 v = _mm512_loadu_ps(p); return _mm512_reduce_add_ps(v); }
}
namespace avx512 {
__attribute__((target("avx512f"))) float ok_avx512(const float* p) { __m512 v = _mm512_loadu_ps(p); return _mm512_reduce_add_ps(v); }
}
namespace avx512vnni {
__attribute__((target("avx512f,avx512vnni"))) int ok_vnni(const int* p) { __m512i a = _mm512_loadu_si512(p); return _mm512_reduce_add_epi32(_mm512_dpbusd_epi32(a, a, a)); }
}
__attribute__((target("avx2"))) float bad_shared_helper(const float* p) { __m256 v = _mm256_loadu_ps(p); return _mm256_cvtss_f32(_mm256_mul_ps(v, v)); }
__attribute__((target("sse4.1"))) int bad_shared_sse41(const int* p) { __m128i v = _mm_loadu_si128((const __m128i*)p); return _mm_extract_epi32(_mm_mullo_epi32(v, v), 1); }
float ok_shared(const float* p) { return p[0] * 2.0f; }
} }
`,
    );
    const cc = spawnSync("c++", ["-O2", "-shared", "-fPIC", "-o", lib, src], { encoding: "utf8" });
    expect(cc.status, cc.stderr).toBe(0);
    const r = audit(lib);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    const reported = [...r.stderr.matchAll(/^ {2}\[(\w+)\] (.*)$/gm)].map((m) => `${m[1]} ${m[2]!.replace(/\(.*$/, "").replace(/^.* /, "")}`).sort();
    expect(reported).toEqual([
      "avx2 lfm::cpu::avx2::bad_avx512_in_avx2",
      "baseline lfm::cpu::bad_shared_helper",
      "baseline lfm::cpu::bad_shared_sse41",
    ]);
  });
});
