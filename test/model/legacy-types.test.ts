// Whole-model parity for the legacy block types Q4_1, Q5_0 and Q5_1: tiny random lfm2 and
// lfm2moe models written in each type load, and their logits match the float64 reference
// (run on the exactly dequantized weights) within MODEL_REL_TOL and at least as closely as
// llama.cpp's on the same file.
import { afterAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../lib/index.js";
import { maxRelError, promptTokens, rows } from "../helpers/compare.js";
import { llamaCppDisposeAll, llamaCppLogits } from "../helpers/llama-cpp.js";
import { ARCHS, tinyModel } from "../helpers/models.js";
import { referenceForward } from "../helpers/reference.js";
import { F32_LOGITS_FLOOR, MODEL_REL_TOL } from "../helpers/tolerance.js";

const TYPES = ["Q4_1", "Q5_0", "Q5_1"] as const;

const opened: Model[] = [];
const table: string[] = [];
afterAll(async () => {
  opened.forEach((m) => m.dispose());
  await llamaCppDisposeAll();
  if (table.length > 0) console.info(["arch     type   ours-vs-ref  llama.cpp-vs-ref", ...table].join("\n"));
});

describe.each(ARCHS)("%s", (arch) => {
  it.each(TYPES)("%s: logits within MODEL_REL_TOL of the reference and at least as close as llama.cpp's", async (type) => {
    const path = tinyModel(arch, type);
    const model = await loadModel(path, { threads: 2 });
    opened.push(model);
    const prompt = promptTokens(20, model.info.vocabSize, 29);
    const want = referenceForward(path, prompt);
    const got = rows(await model.createSequence({ contextSize: 64 }).evaluate(prompt, { logits: "all" }), model.info.vocabSize);
    const theirs = await llamaCppLogits(path, prompt);
    const errOurs = maxRelError(got, want);
    const errTheirs = maxRelError(theirs, want);
    table.push(`${arch.padEnd(8)} ${type.padEnd(6)} ${errOurs.toExponential(2).padStart(11)}  ${errTheirs.toExponential(2).padStart(16)}`);
    expect(errOurs).toBeLessThan(MODEL_REL_TOL);
    expect(errOurs).toBeLessThanOrEqual(Math.max(errTheirs, F32_LOGITS_FLOOR));
  });
});
