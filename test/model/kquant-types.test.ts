// Whole-model parity for Q4_K / Q5_K files (tiny LFM2 and LFM2-MoE widened to 256, since K-quant
// rows are multiples of 256): native logits vs the float64 reference, and at least as close to it
// as llama.cpp's (node-llama-cpp's prebuilt CPU binaries) on the same GGUF.
import { afterAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../lib/index.js";
import { maxRelError, promptTokens, rows } from "../helpers/compare.js";
import { llamaCppDisposeAll, llamaCppLogits } from "../helpers/llama-cpp.js";
import { ARCHS, K_QUANT_CONFIG, tinyModel, type Arch } from "../helpers/models.js";
import { referenceForward } from "../helpers/reference.js";
import { F32_LOGITS_FLOOR, MODEL_REL_TOL } from "../helpers/tolerance.js";

const TYPES = ["Q4_K", "Q5_K"] as const;
const WIDE = K_QUANT_CONFIG;

const opened: Model[] = [];
const table: string[] = [];
afterAll(async () => {
  opened.forEach((m) => m.dispose());
  await llamaCppDisposeAll();
  if (table.length > 0) console.info(["arch     type   ours-vs-ref  llama.cpp-vs-ref", ...table].join("\n"));
});

describe.each(ARCHS)("%s", (arch: Arch) => {
  it.each(TYPES)("%s: logits within tolerance of the reference and at least as close as llama.cpp's", async (type) => {
    const path = tinyModel(arch, type, { config: WIDE });
    const model = await loadModel(path, { threads: 2 });
    opened.push(model);
    const prompt = promptTokens(20, model.info.vocabSize, 31);
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
