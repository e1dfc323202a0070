// Whole-model logits against the float64 reference forward pass (test/helpers/reference.ts),
// for both architectures and every supported weight type.
import { afterAll, describe, expect, it } from "vitest";
import { loadModel, type Model, type ModelInfo } from "../../lib/index.js";
import { argmaxOf, maxRelError, promptTokens, rows } from "../helpers/compare.js";
import { ARCHS, tinyModel, WEIGHT_TYPES } from "../helpers/models.js";
import { referenceForward } from "../helpers/reference.js";
import { MODEL_REL_TOL, modelRelTol, STEP_REL_TOL } from "../helpers/tolerance.js";

const opened: Model[] = [];
afterAll(() => opened.forEach((m) => m.dispose()));

async function open(path: string, activations: ModelInfo["activations"] = "q16"): Promise<Model> {
  const m = await loadModel(path, { threads: 2, activations });
  opened.push(m);
  return m;
}

describe.each(ARCHS)("%s", (arch) => {
  describe.each(WEIGHT_TYPES)("%s weights", (type) => {
    it.each(["f32", "q16", "q8"] as const)("matches the float64 reference at every position (%s activations)", async (activations) => {
      const path = tinyModel(arch, type);
      const model = await open(path, activations);
      const prompt = promptTokens(24, model.info.vocabSize, 3);
      const seq = model.createSequence({ contextSize: 64 });
      const got = rows(await seq.evaluate(prompt, { logits: "all" }), model.info.vocabSize);
      const want = referenceForward(path, prompt);
      const err = maxRelError(got, want);
      if (activations === "f32") expect(model.info.activations).toBe("f32");
      expect(err, `max relative error ${err.toExponential(2)}`).toBeLessThan(modelRelTol(model.info.activations));
      // 8-bit activations move logits by about 10% on these models: the top token may change.
      if (activations !== "q8") expect(got.map(argmaxOf)).toEqual(want.map(argmaxOf));
    });
  });

  it("continues greedily exactly like the reference", async () => {
    const path = tinyModel(arch, "F32");
    const model = await open(path);
    const prompt = promptTokens(8, model.info.vocabSize, 11);
    const seq = model.createSequence({ contextSize: 64 });
    const native: number[] = [];
    for await (const { token } of seq.generate(prompt, { maxTokens: 16, temperature: 0, ignoreEog: true })) native.push(token);
    const ref: number[] = [];
    const ctx = [...prompt];
    for (let i = 0; i < 16; i++) {
      const logits = referenceForward(path, ctx);
      const next = argmaxOf(logits[logits.length - 1]!);
      ref.push(next);
      ctx.push(next);
    }
    expect(native).toEqual(ref);
  });

  it("gives the same logits for decode after prefill as for one prefill", async () => {
    const model = await open(tinyModel(arch, "Q8_0"));
    const V = model.info.vocabSize;
    const prompt = promptTokens(20, V, 5);
    const whole = rows(await model.createSequence({ contextSize: 32 }).evaluate(prompt, { logits: "all" }), V);
    const seq = model.createSequence({ contextSize: 32 });
    const split: Float32Array[] = rows(await seq.evaluate(prompt.slice(0, 7), { logits: "all" }), V);
    for (const t of prompt.slice(7, 12)) split.push(await seq.evaluate([t]));
    split.push(...rows(await seq.evaluate(prompt.slice(12), { logits: "all" }), V));
    expect(seq.length).toBe(prompt.length);
    expect(maxRelError(split, whole)).toBeLessThan(STEP_REL_TOL);
  });

  it("splits long prompts into batches without changing the result", async () => {
    const path = tinyModel(arch, "F16");
    const model = await open(path);
    const V = model.info.vocabSize;
    const prompt = promptTokens(530, V, 9); // more than one native batch (512)
    const seq = model.createSequence({ contextSize: 540 });
    const all = rows(await seq.evaluate(prompt, { logits: "all" }), V);
    const want = referenceForward(path, prompt);
    const at = [0, 511, 512, 529];
    expect(maxRelError(at.map((i) => all[i]!), at.map((i) => want[i]!))).toBeLessThan(MODEL_REL_TOL);
  });

  it("keeps sequences independent when they are interleaved", async () => {
    const model = await open(tinyModel(arch, "Q4_0"));
    const V = model.info.vocabSize;
    const a = promptTokens(12, V, 21);
    const b = promptTokens(12, V, 22);
    const alone = async (p: number[]) => {
      const s = model.createSequence({ contextSize: 16 });
      const r = rows(await s.evaluate(p.slice(0, 6), { logits: "all" }), V);
      for (const t of p.slice(6)) r.push(await s.evaluate([t]));
      s.dispose();
      return r;
    };
    const wantA = await alone(a);
    const wantB = await alone(b);
    const sa = model.createSequence({ contextSize: 16 });
    const sb = model.createSequence({ contextSize: 16 });
    const gotA = rows(await sa.evaluate(a.slice(0, 6), { logits: "all" }), V);
    const gotB = rows(await sb.evaluate(b.slice(0, 6), { logits: "all" }), V);
    for (let i = 6; i < 12; i++) {
      const [ra, rb] = await Promise.all([sa.evaluate([a[i]!]), sb.evaluate([b[i]!])]);
      gotA.push(ra);
      gotB.push(rb);
    }
    expect(maxRelError(gotA, wantA)).toBe(0);
    expect(maxRelError(gotB, wantB)).toBe(0);
  });

  it("reset() empties the sequence", async () => {
    const model = await open(tinyModel(arch, "BF16"));
    const prompt = promptTokens(10, model.info.vocabSize, 4);
    const seq = model.createSequence({ contextSize: 16 });
    const first = await seq.evaluate(prompt);
    seq.reset();
    expect(seq.length).toBe(0);
    const again = await seq.evaluate(prompt);
    expect(Array.from(again)).toEqual(Array.from(first));
  });
});
