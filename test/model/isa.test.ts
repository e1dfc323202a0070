// The whole model under every kernel set this CPU supports gives the scalar kernels' logits,
// the other model suites pass at every level (run again under LFM2_CPU_ISA), and
// runtimeInfo()/LFM2_CPU_ISA behave as documented.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadModel, runtimeInfo } from "../../lib/index.js";
import { native } from "../../lib/native.js";
import { maxRelError, promptTokens, rows } from "../helpers/compare.js";
import { ARCHS, K_QUANT_CONFIG, K_TYPES, LEGACY_TYPES, tinyModel, WEIGHT_TYPES } from "../helpers/models.js";
import { promptAwayFromRoutingTies } from "../helpers/reference.js";
import { ISA_MODEL_REL_TOL, Q16_MODEL_REL_TOL, ROUTING_MARGIN } from "../helpers/tolerance.js";

const ORDER = ["scalar", "avx2", "avx512"];
const best = runtimeInfo().cpu.bestIsa;
const isas = ORDER.slice(0, ORDER.indexOf(best) + 1);
afterAll(() => native()._setCpuIsa(""));

async function logitsWith(isa: string, path: string, prompt: number[], activations: "q16" | "f32") {
  native()._setCpuIsa(isa);
  const model = await loadModel(path, { threads: 2, activations });
  expect(model.info.isa).toBe(isa);
  const out = await model.createSequence({ contextSize: 64 }).evaluate(prompt, { logits: "all" });
  const V = model.info.vocabSize;
  const used = model.info.activations;
  model.dispose();
  return { logits: rows(out, V), activations: used };
}

describe("kernel sets", () => {
  it("runtimeInfo reports the detected ISA and features", () => {
    const info = runtimeInfo();
    expect(ORDER).toContain(info.cpu.isa);
    expect(info.cpu.features.length).toBeGreaterThan(0);
    expect(info.cuda.available).toBe(false);
  });

  describe.each(ARCHS)("%s", (arch) => {
    // Every ISA against scalar in each activation mode. An ISA without the integer kernels
    // reports "f32" when asked for "q16" and is compared with scalar's f32 run instead. In q16
    // mode a last-bit difference in an activation (summation order) can move its 16-bit
    // rounding by one step, so two correct ISAs differ by about the rounding itself: the bar
    // there is the q16 one (the kernel tests compare each ISA on identical rounded inputs).
    it.each([...WEIGHT_TYPES, ...LEGACY_TYPES, ...K_TYPES])("%s: every ISA matches scalar", async (type) => {
      const path = tinyModel(arch, type, K_TYPES.includes(type) ? { config: K_QUANT_CONFIG } : {});
      const prompt = promptAwayFromRoutingTies(path, (seed) => promptTokens(16, 1024, seed), 12, ROUTING_MARGIN);
      const ref = { f32: await logitsWith("scalar", path, prompt, "f32"), q16: await logitsWith("scalar", path, prompt, "q16") };
      expect(ref.f32.activations).toBe("f32");
      for (const isa of isas.slice(1)) {
        for (const mode of ["f32", "q16"] as const) {
          const got = await logitsWith(isa, path, prompt, mode);
          // Asked for f32 or q16, a model reports one of those two (never q8).
          expect(["f32", "q16"], `${isa} ${mode}`).toContain(got.activations);
          const want = ref[got.activations as keyof typeof ref];
          expect(want.activations, `${isa} ${mode}`).toBe(got.activations);
          const err = maxRelError(got.logits, want.logits);
          const tol = got.activations === "q16" ? Q16_MODEL_REL_TOL : ISA_MODEL_REL_TOL;
          expect(err, `${isa} ${mode} (${got.activations}): ${err.toExponential(2)}`).toBeLessThan(tol);
        }
      }
    });
  });

  // The model suites whose results depend on the kernels (forward: logits against the float64
  // reference for every type and activation mode; generate; batch: the batched passes' GEMM and
  // decode paths) at each level this CPU has besides the one this run uses, each level in a vitest of its own
  // with LFM2_CPU_ISA set: the plain run covers only the level it detects. Left out: errors.test.ts
  // and kquant-mix.test.ts (input checks and file contents, the same at every level) and
  // llamacpp.test.ts (about 30 s per level; its types are compared across levels above). About
  // 15-20 s per level on a 2-core machine.
  describe("the model suites at the other levels", () => {
    const root = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..");
    const files = ["forward", "generate", "batch"].map((f) => `test/model/${f}.test.ts`);
    const current = runtimeInfo().cpu.isa;
    const others = isas.filter((isa) => isa !== current);
    it.each(others)("LFM2_CPU_ISA=%s: " + files.map((f) => f.replace(/^.*\//, "")).join(", "), (isa) => {
      const env: NodeJS.ProcessEnv = { ...process.env, LFM2_CPU_ISA: isa };
      for (const k of Object.keys(env)) if (k.startsWith("VITEST")) delete env[k];
      const r = spawnSync(process.execPath, [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--reporter=dot", ...files], {
        cwd: root,
        env,
        encoding: "utf8",
        timeout: 280_000,
      });
      const out = `${r.stdout}\n${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, "");
      expect(r.status, `LFM2_CPU_ISA=${isa} vitest run ${files.join(" ")}:\n${out.slice(-4000)}`).toBe(0);
      expect(out).toMatch(/Test Files\s+\d+ passed/);
      expect(out).not.toMatch(/failed/);
    }, 300_000);
  });

  it("LFM2_CPU_ISA lowers the level and refuses more than the CPU has", () => {
    const run = (value: string) =>
      spawnSync(process.execPath, ["--input-type=module", "-e", "import('./dist/index.js').then(m => { try { console.log(m.runtimeInfo().cpu.isa) } catch (e) { console.log(e.code + ' ' + e.message) } })"], {
        env: { ...process.env, LFM2_CPU_ISA: value },
        encoding: "utf8",
      }).stdout.trim();
    expect(run("scalar")).toBe("scalar");
    expect(run("bogus")).toMatch(/^ERR_LFM_INVALID_ARG .*bogus/);
    if (best !== "avx512") expect(run("avx512")).toMatch(/^ERR_LFM_UNSUPPORTED_CPU .*avx512/);
    else expect(run("avx512")).toBe("avx512");
  });
});
