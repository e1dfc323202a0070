// The whole model under every kernel set this CPU supports gives the scalar kernels' logits,
// and runtimeInfo()/LFM2_CPU_ISA behave as documented.
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { loadModel, runtimeInfo } from "../../lib/index.js";
import { native } from "../../lib/native.js";
import { maxRelError, promptTokens, rows } from "../helpers/compare.js";
import { ARCHS, K_QUANT_CONFIG, K_TYPES, LEGACY_TYPES, tinyModel, WEIGHT_TYPES } from "../helpers/models.js";
import { ISA_MODEL_REL_TOL } from "../helpers/tolerance.js";

const ORDER = ["scalar", "avx2", "avx512"];
const best = runtimeInfo().cpu.bestIsa;
const isas = ORDER.slice(0, ORDER.indexOf(best) + 1);
afterAll(() => native()._setCpuIsa(""));

async function logitsWith(isa: string, path: string, prompt: number[]): Promise<Float32Array[]> {
  native()._setCpuIsa(isa);
  const model = await loadModel(path, { threads: 2 });
  expect(model.info.isa).toBe(isa);
  const out = await model.createSequence({ contextSize: 64 }).evaluate(prompt, { logits: "all" });
  const V = model.info.vocabSize;
  model.dispose();
  return rows(out, V);
}

describe("kernel sets", () => {
  it("runtimeInfo reports the detected ISA and features", () => {
    const info = runtimeInfo();
    expect(ORDER).toContain(info.cpu.isa);
    expect(info.cpu.features.length).toBeGreaterThan(0);
    expect(info.cuda.available).toBe(false);
  });

  describe.each(ARCHS)("%s", (arch) => {
    it.each([...WEIGHT_TYPES, ...LEGACY_TYPES, ...K_TYPES])("%s: every ISA matches scalar", async (type) => {
      const path = tinyModel(arch, type, K_TYPES.includes(type) ? { config: K_QUANT_CONFIG } : {});
      const prompt = promptTokens(16, 1024, 12);
      const ref = await logitsWith("scalar", path, prompt);
      for (const isa of isas.slice(1)) {
        const err = maxRelError(await logitsWith(isa, path, prompt), ref);
        expect(err, `${isa}: ${err.toExponential(2)}`).toBeLessThan(ISA_MODEL_REL_TOL);
      }
    });
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
