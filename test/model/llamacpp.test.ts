// Parity with llama.cpp (node-llama-cpp's prebuilt CPU binaries) on the same GGUF files:
// the same token ids, and logits at least as close to the float64 reference as llama.cpp's,
// for every weight type (including the Q4_K_M / Q5_K_M mixes).
import { afterAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../lib/index.js";
import { maxRelError, promptTokens, rows } from "../helpers/compare.js";
import { llamaCppDisposeAll, llamaCppGreedy, llamaCppLogits, llamaCppTokenize } from "../helpers/llama-cpp.js";
import { ARCHS, K_QUANT_CONFIG, K_TYPES, LEGACY_TYPES, tinyModel, WEIGHT_TYPES } from "../helpers/models.js";
import { promptAwayFromRoutingTies, referenceForward } from "../helpers/reference.js";
import { F32_LOGITS_FLOOR, modelRelTol, ROUTING_MARGIN } from "../helpers/tolerance.js";

const TEXT =
  "<|startoftext|><|im_start|>user\nWhat's 12345 + 678?  Déjà vu, naïve café — 東京 🙂\n\n\tcode: x=[1,2]<|im_end|>\n<|im_start|>assistant\n";

const opened: Model[] = [];
const table: string[] = [];
afterAll(async () => {
  opened.forEach((m) => m.dispose());
  await llamaCppDisposeAll();
  if (table.length > 0) console.info(["arch     type     act  ours-vs-ref  llama.cpp-vs-ref", ...table].join("\n"));
});

describe.each(ARCHS)("%s", (arch) => {
  it.each([...WEIGHT_TYPES, ...LEGACY_TYPES, ...K_TYPES])("%s: same tokens, logits at least as close to the reference as llama.cpp's", async (type) => {
    // K-quants need rows that are whole 256-element super-blocks.
    const path = tinyModel(arch, type, K_TYPES.includes(type) ? { config: K_QUANT_CONFIG } : {});
    const model = await loadModel(path, { threads: 2 });
    opened.push(model);
    const ours = model.tokenize(TEXT, { addBos: false });
    expect(ours).toEqual(await llamaCppTokenize(path, TEXT, true));

    const prompt = promptAwayFromRoutingTies(path, (seed) => [...ours.slice(0, 12), ...promptTokens(12, model.info.vocabSize, seed).slice(1)],
      31, ROUTING_MARGIN);
    const want = referenceForward(path, prompt);
    const got = rows(await model.createSequence({ contextSize: 64 }).evaluate(prompt, { logits: "all" }), model.info.vocabSize);
    const theirs = await llamaCppLogits(path, prompt);
    const errOurs = maxRelError(got, want);
    const errTheirs = maxRelError(theirs, want);
    table.push(`${arch.padEnd(8)} ${type.padEnd(8)} ${model.info.activations.padEnd(4)} ${errOurs.toExponential(2).padStart(11)}  ${errTheirs.toExponential(2).padStart(16)}`);
    expect(errOurs).toBeLessThan(modelRelTol(model.info.activations));
    expect(errOurs).toBeLessThanOrEqual(Math.max(errTheirs, F32_LOGITS_FLOOR));
  });

  it("F32: the same greedy continuation as llama.cpp", async () => {
    const path = tinyModel(arch, "F32");
    const model = await loadModel(path, { threads: 2 });
    opened.push(model);
    const prompt = promptTokens(10, model.info.vocabSize, 17);
    const ours: number[] = [];
    for await (const { token } of model.createSequence().generate(prompt, { maxTokens: 12, temperature: 0, ignoreEog: true })) ours.push(token);
    expect(ours).toEqual(await llamaCppGreedy(path, prompt, 12));
  });
});
