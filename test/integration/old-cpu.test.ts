// One addon binary for every x86-64 CPU: the built addon loads and generates under emulated
// CPUs (qemu user-mode emulation), picks the kernel level that CPU has, and generates exactly
// the tokens the same level generates natively (LFM2_CPU_ISA). A SIGILL here means AVX (or
// newer) code ran on a CPU without it: in shared code (scripts/check-baseline-isa.mjs finds
// that statically) or per-ISA code called before CPU detection allowed it (which only running
// finds).
//
// Needs qemu-x86_64 on PATH (Debian/Ubuntu: apt-get install qemu-user; the AVX CPU models need
// QEMU 7.2 or newer, the first to emulate AVX/AVX2). Skipped where it is missing,
// as on the CI machines, and on anything but x86-64 Linux. qemu is slow (about 2 s per run on the
// tiny models), so the runs are few and short.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runtimeInfo } from "../../lib/index.js";
import { K_QUANT_CONFIG, scratchDir, tinyModel } from "../helpers/models.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const FIXTURE = join(HERE, "..", "fixtures", "old-cpu", "generate.mjs");
const DIST = join(HERE, "..", "..", "dist", "index.js");
const TOKENS = 8;
const QEMU_TIMEOUT_MS = 240_000;

const qemuVersion =
  process.platform === "linux" && process.arch === "x64" ? spawnSync("qemu-x86_64", ["--version"], { encoding: "utf8" }) : null;
const hasQemu = !!qemuVersion && !qemuVersion.error && qemuVersion.status === 0;
/** QEMU emulates AVX/AVX2 from 7.2 on; older ones hide them (SandyBridge, Haswell skipped). */
const qemuHasAvx = (() => {
  const m = /version (\d+)\.(\d+)/.exec(qemuVersion?.stdout ?? "");
  return !!m && (Number(m[1]) > 7 || (Number(m[1]) === 7 && Number(m[2]) >= 2));
})();
const hostBest = process.arch === "x64" ? runtimeInfo().cpu.bestIsa : "scalar";
const LEVELS = ["scalar", "avx2", "avx512"];

interface Result {
  cpu: { isa: string; bestIsa: string; features: string[] };
  isa: string;
  tokens: number[];
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LFM2_CUDA: "0", ...extra };
  if (!("LFM2_CPU_ISA" in extra)) delete env.LFM2_CPU_ISA;
  return env;
}

/** Runs the fixture under `qemu-x86_64 -cpu cpuModel` (or natively when cpuModel is null). */
function generate(cpuModel: string | null, model: string, env: Record<string, string> = {}) {
  const argv = [process.execPath, FIXTURE, model, String(TOKENS)];
  // cwd: a scratch folder, so a core file qemu may write on a crash does not land in the repository.
  const r = cpuModel
    ? spawnSync("qemu-x86_64", ["-cpu", cpuModel, ...argv], { encoding: "utf8", timeout: QEMU_TIMEOUT_MS, cwd: scratchDir(), env: cleanEnv(env) })
    : spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 60_000, cwd: scratchDir(), env: cleanEnv(env) });
  const what = `${cpuModel ? `qemu -cpu ${cpuModel}` : "native"} ${JSON.stringify(env)}: status ${r.status} signal ${r.signal}\n${r.stderr}`;
  // qemu reports a guest's fatal signal ("uncaught target signal 4 (Illegal instruction)") and
  // dies of it.
  expect(r.signal, what).toBeNull();
  expect(r.stderr, what).not.toMatch(/Illegal instruction|target signal/);
  expect(r.status, what).toBe(0);
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line) as Result;
}

const MODELS = {
  "lfm2 Q4_0": () => tinyModel("lfm2", "Q4_0"),
  "lfm2moe Q4_K_M": () => tinyModel("lfm2moe", "Q4_K_M", { config: K_QUANT_CONFIG }),
};

// CPU models: qemu64 (x86-64 baseline, no SSE4), Nehalem (SSE4.2, no AVX), SandyBridge (AVX but
// no AVX2: still "scalar", while V8 itself uses AVX there), Haswell (AVX2, FMA, F16C). QEMU
// does not emulate AVX-512, so that level is covered natively (test/model/isa.test.ts).
// avx: the AVX features runtimeInfo() must report, exactly.
const CPUS = [
  { cpu: "qemu64", isa: "scalar", avx: [], models: ["lfm2 Q4_0"] },
  { cpu: "Nehalem", isa: "scalar", avx: [], models: ["lfm2 Q4_0", "lfm2moe Q4_K_M"] },
  { cpu: "SandyBridge", isa: "scalar", avx: ["avx"], models: ["lfm2 Q4_0"], needsAvx: true },
  { cpu: "Haswell", isa: "avx2", avx: ["avx", "avx2"], models: ["lfm2 Q4_0", "lfm2moe Q4_K_M"], needsAvx: true },
] as const;

describe.skipIf(!hasQemu)("an emulated older CPU (qemu-x86_64)", () => {
  const native = new Map<string, number[]>();
  /** The same generation run natively at `isa` (cached), or null when this CPU lacks the level. */
  function nativeTokens(name: keyof typeof MODELS, isa: string): number[] | null {
    if (LEVELS.indexOf(isa) > LEVELS.indexOf(hostBest)) return null;
    const key = `${name} ${isa}`;
    if (!native.has(key)) {
      const r = generate(null, MODELS[name](), { LFM2_CPU_ISA: isa });
      expect(r.isa).toBe(isa);
      native.set(key, r.tokens);
    }
    return native.get(key)!;
  }

  for (const { cpu, isa, avx, models, ...rest } of CPUS) {
    it.skipIf("needsAvx" in rest && !qemuHasAvx).each(models)(`-cpu ${cpu}: ${isa} kernels, the same greedy tokens as native LFM2_CPU_ISA=${isa} (%s)`, (name) => {
      const got = generate(cpu, MODELS[name]());
      expect(got.cpu.isa).toBe(isa);
      expect(got.cpu.bestIsa).toBe(isa);
      expect(got.isa).toBe(isa);
      expect(got.cpu.features.filter((f) => f.startsWith("avx")).sort()).toEqual([...avx]);
      if (isa === "avx2") expect(got.cpu.features).toEqual(expect.arrayContaining(["fma", "f16c"]));
      expect(got.tokens).toHaveLength(TOKENS);
      for (const t of got.tokens) expect(t >= 0 && t < 1024, `token ${t}`).toBe(true);
      const want = nativeTokens(name, isa);
      if (want) expect(got.tokens).toEqual(want);
    });
  }

  it("-cpu Nehalem: asking for AVX2 is a clean ERR_LFM_UNSUPPORTED_CPU, not a crash", () => {
    const r = spawnSync(
      "qemu-x86_64",
      ["-cpu", "Nehalem", process.execPath, "--input-type=module", "-e",
        `import(${JSON.stringify(DIST)}).then((m) => { try { m.runtimeInfo(); console.log("loaded") } catch (e) { console.log(e.code) } })`],
      { encoding: "utf8", timeout: QEMU_TIMEOUT_MS, cwd: scratchDir(), env: cleanEnv({ LFM2_CPU_ISA: "avx2" }) },
    );
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("ERR_LFM_UNSUPPORTED_CPU");
  });
}, 600_000);
