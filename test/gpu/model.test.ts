// Whole-model logits on the GPU against the CPU path (f32 activations, the CPU's exact mode) and
// the float64 reference, for both architectures and every weight type; decode steps, several
// sequences batched in one pass, reset and the errors. Skipped (not failed) without CUDA.
import { afterAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../lib/index.js";
import { argmaxOf, maxRelError, promptTokens, rows } from "../helpers/compare.js";
import { hasCuda } from "../helpers/gpu.js";
import { ARCHS, K_TYPES, LEGACY_TYPES, tinyModel, WEIGHT_TYPES } from "../helpers/models.js";
import { referenceForward } from "../helpers/reference.js";

// The GPU computes in f32 with its own summation order (tiles, warp reductions): logits within
// 1e-4 of the largest logit of the CPU f32 path, as the CPU ISAs are with each other.
const GPU_REL_TOL = 1e-4;

const opened: Model[] = [];
afterAll(() => opened.forEach((m) => m.dispose()));

async function pair(path: string): Promise<{ gpu: Model; cpu: Model }> {
  const gpu = await loadModel(path, { device: "cuda" });
  const cpu = await loadModel(path, { device: "cpu", threads: 2, activations: "f32" });
  opened.push(gpu, cpu);
  return { gpu, cpu };
}

describe.skipIf(!hasCuda)("GPU forward pass", () => {
  describe.each(ARCHS)("%s", (arch) => {
    it.each([...WEIGHT_TYPES, ...LEGACY_TYPES, ...K_TYPES])("%s: prefill logits at every position match the CPU and the reference", async (type) => {
      const path = tinyModel(arch, type);
      const { gpu, cpu } = await pair(path);
      expect(gpu.info.device).toBe("cuda");
      const V = gpu.info.vocabSize;
      const prompt = promptTokens(40, V, 5);
      const g = rows(await gpu.createSequence({ contextSize: 64 }).evaluate(prompt, { logits: "all" }), V);
      const c = rows(await cpu.createSequence({ contextSize: 64 }).evaluate(prompt, { logits: "all" }), V);
      const err = maxRelError(g, c);
      expect(err, `GPU vs CPU ${err.toExponential(2)}`).toBeLessThan(GPU_REL_TOL);
      expect(g.map(argmaxOf)).toEqual(referenceForward(path, prompt).map(argmaxOf));
    });

    it("decode steps after a prefill equal one prefill of the same tokens", async () => {
      const { gpu } = await pair(tinyModel(arch, "Q4_0"));
      const V = gpu.info.vocabSize;
      const prompt = promptTokens(30, V, 9);
      const whole = rows(await gpu.createSequence({ contextSize: 64 }).evaluate(prompt, { logits: "all" }), V);
      const seq = gpu.createSequence({ contextSize: 64 });
      await seq.evaluate(prompt.slice(0, 20));
      const steps: Float32Array[] = [];
      for (const t of prompt.slice(20)) steps.push(await seq.evaluate([t]));
      expect(maxRelError(steps, whole.slice(20))).toBeLessThan(GPU_REL_TOL);
    });

    it("sequences evaluated concurrently (batched in one pass) equal each alone", async () => {
      const { gpu } = await pair(tinyModel(arch, "Q4_K"));
      const V = gpu.info.vocabSize;
      const prompts = [5, 17, 1, 33].map((n, i) => promptTokens(n, V, 20 + i));
      const alone: Float32Array[] = [];
      for (const p of prompts) alone.push(await gpu.createSequence({ contextSize: 64 }).evaluate(p));
      const seqs = prompts.map(() => gpu.createSequence({ contextSize: 64 }));
      const together = await Promise.all(seqs.map((s, i) => s.evaluate(prompts[i]!)));
      expect(maxRelError(together, alone)).toBeLessThan(GPU_REL_TOL);
    });

    it("greedy generation equals the CPU's", async () => {
      const { gpu, cpu } = await pair(tinyModel(arch, "F32"));
      const prompt = promptTokens(8, gpu.info.vocabSize, 11);
      const run = async (m: Model) => {
        const out: number[] = [];
        for await (const { token } of m.createSequence({ contextSize: 64 }).generate(prompt, { maxTokens: 24, temperature: 0, ignoreEog: true })) out.push(token);
        return out;
      };
      expect(await run(gpu)).toEqual(await run(cpu));
    });

    it("reset starts the sequence over; overflow and bad tokens are errors that leave it usable", async () => {
      const { gpu } = await pair(tinyModel(arch, "Q8_0"));
      const V = gpu.info.vocabSize;
      const seq = gpu.createSequence({ contextSize: 16 });
      const first = await seq.evaluate(promptTokens(10, V, 1));
      await expect(seq.evaluate(promptTokens(7, V, 2))).rejects.toMatchObject({ code: "ERR_LFM_CONTEXT_OVERFLOW" });
      await expect(seq.evaluate([V])).rejects.toMatchObject({ code: "ERR_LFM_TOKEN_RANGE" });
      seq.reset();
      const again = await seq.evaluate(promptTokens(10, V, 1));
      expect(maxRelError([again], [first])).toBe(0);
    });
  });
});
