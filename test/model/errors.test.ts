// Every bad input gets an LfmError with an ERR_LFM_* code and a message naming the problem;
// none of them crashes the process.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gguf } from "../../lib/gguf/types.js";
import { writeGgufSync } from "../../lib/gguf/writer.js";
import { LfmError, loadModel, type Model } from "../../lib/index.js";
import { syntheticModelSpec } from "../../lib/synthetic/model.js";
import { scratchDir, tinyConfig, tinyModel } from "../helpers/models.js";

async function expectLfmError(p: Promise<unknown> | (() => unknown), code: string, message: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected an error").toBeInstanceOf(LfmError);
  expect((caught as LfmError).code).toBe(code);
  expect((caught as LfmError).message).toMatch(message);
}

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(scratchDir(), name);
  writeFileSync(p, bytes);
  return p;
}

const models: Model[] = [];
afterAll(() => models.forEach((m) => m.dispose()));

describe("loading", () => {
  it("missing file", async () => {
    await expectLfmError(loadModel(join(scratchDir(), "nope.gguf")), "ERR_LFM_FILE_NOT_FOUND", /nope\.gguf/);
  });

  it("a directory", async () => {
    await expectLfmError(loadModel(scratchDir()), "ERR_LFM_IO", /lfm2-test-/);
  });

  it("not a GGUF", async () => {
    await expectLfmError(loadModel(file("text.gguf", "hello, this is not a model file at all")), "ERR_LFM_MODEL_FORMAT", /not a GGUF/);
  });

  it("empty file", async () => {
    await expectLfmError(loadModel(file("empty.gguf", new Uint8Array(0))), "ERR_LFM_MODEL_FORMAT", /truncated|empty|not a GGUF/);
  });

  it("truncated in the header and in the tensor data", async () => {
    const whole = readFileSync(tinyModel("lfm2", "Q4_0"));
    await expectLfmError(loadModel(file("cut-header.gguf", whole.subarray(0, 300))), "ERR_LFM_MODEL_FORMAT", /truncated/);
    await expectLfmError(loadModel(file("cut-data.gguf", whole.subarray(0, whole.length - 100))), "ERR_LFM_MODEL_FORMAT", /truncated/);
  });

  it("wrong architecture", async () => {
    const p = tinyModel("lfm2", "F32", { extraMetadata: { "general.architecture": gguf.str("llama") } });
    await expectLfmError(loadModel(p), "ERR_LFM_UNSUPPORTED_ARCH", /'llama'/);
  });

  it("unsupported tensor type, naming the tensor and the type", async () => {
    // A Q2_K tensor (84 bytes per 256 elements): a valid GGUF type the engine does not compute with.
    const spec = syntheticModelSpec(tinyConfig("lfm2"), { type: "F32", seed: 1 });
    const tensors = spec.tensors.map((t) =>
      t.name === "blk.1.ffn_up.weight" ? { ...t, type: "Q2_K" as const, dims: [256, t.dims[1]!], data: new Uint8Array(84 * t.dims[1]!) } : t,
    );
    const p = join(scratchDir(), "q2k.gguf");
    writeGgufSync(p, { ...spec, tensors });
    await expectLfmError(loadModel(p), "ERR_LFM_UNSUPPORTED_TYPE", /blk\.1\.ffn_up\.weight has type Q2_K, which is not supported \(supported: F32, F16, Q4_0/);
  });

  it("shape mismatch, naming the tensor and both shapes", async () => {
    const p = tinyModel("lfm2moe", "F32", { overrideShapes: { "blk.3.ffn_down_exps.weight": [32, 64, 7] } });
    await expectLfmError(loadModel(p), "ERR_LFM_SHAPE_MISMATCH", /blk\.3\.ffn_down_exps\.weight has shape \{32, 64, 7\}, expected \{32, 64, 8\}/);
  });

  it("missing tensor", async () => {
    const p = tinyModel("lfm2", "F32", { omitTensors: ["blk.2.attn_k_norm.weight"] });
    await expectLfmError(loadModel(p), "ERR_LFM_MODEL_FORMAT", /missing tensor blk\.2\.attn_k_norm\.weight/);
  });

  it("missing required metadata", async () => {
    const p = tinyModel("lfm2", "F32", { omitMetadata: ["lfm2.shortconv.l_cache"] });
    await expectLfmError(loadModel(p), "ERR_LFM_MODEL_FORMAT", /lfm2\.shortconv\.l_cache/);
  });

  it("bad options", async () => {
    const p = tinyModel("lfm2", "F32");
    await expectLfmError(loadModel(p, { threads: 0 }), "ERR_LFM_INVALID_ARG", /threads/);
    await expectLfmError(loadModel(p, { threads: 1.5 }), "ERR_LFM_INVALID_ARG", /threads/);
    await expectLfmError(loadModel(p, { device: "tpu" as never }), "ERR_LFM_INVALID_ARG", /device/);
    await expectLfmError(loadModel(p, { thread: 2 } as never), "ERR_LFM_INVALID_ARG", /Unknown option options\.thread/);
    await expectLfmError(loadModel(42 as never), "ERR_LFM_INVALID_ARG", /path/);
  });
});

describe("evaluation", () => {
  it("token id out of range", async () => {
    const model = await loadModel(tinyModel("lfm2", "F32"));
    models.push(model);
    const seq = model.createSequence({ contextSize: 8 });
    const V = model.info.vocabSize;
    await expectLfmError(seq.evaluate([1, V]), "ERR_LFM_TOKEN_RANGE", new RegExp(`token id ${V} at index 1`));
    await expectLfmError(seq.evaluate([-1]), "ERR_LFM_TOKEN_RANGE", /-1/);
    expect(seq.length).toBe(0); // the state is untouched
    expect(() => model.detokenize([V + 5])).toThrow(LfmError);
  });

  it("context overflow", async () => {
    const model = await loadModel(tinyModel("lfm2", "F32"));
    models.push(model);
    const seq = model.createSequence({ contextSize: 8 });
    await seq.evaluate([1, 20, 30, 40, 50]);
    await expectLfmError(seq.evaluate([1, 2, 3, 4]), "ERR_LFM_CONTEXT_OVERFLOW", /5 tokens .* \+ 4 new exceed the context size 8/);
    expect(seq.length).toBe(5);
    await seq.evaluate([1, 2, 3]);
    expect(seq.length).toBe(8);
  });

  it("bad sequence and evaluate options", async () => {
    const model = await loadModel(tinyModel("lfm2", "F32"));
    models.push(model);
    expect(() => model.createSequence({ contextSize: 0 })).toThrow(/contextSize/);
    expect(() => model.createSequence({ contextSize: model.info.contextLength + 1 })).toThrow(/contextSize/);
    const seq = model.createSequence({ contextSize: 8 });
    await expectLfmError(seq.evaluate([]), "ERR_LFM_INVALID_ARG", /tokens/);
    await expectLfmError(seq.evaluate([1.5]), "ERR_LFM_INVALID_ARG", /tokens\[0\]/);
    await expectLfmError(seq.evaluate("hi" as never), "ERR_LFM_INVALID_ARG", /tokens/);
    await expectLfmError(seq.evaluate([1], { logits: "some" as never }), "ERR_LFM_INVALID_ARG", /logits/);
    const gen = seq.generate([1], { temperature: -1 });
    await expectLfmError(gen.next(), "ERR_LFM_INVALID_ARG", /temperature/);
    await expectLfmError(seq.generate([1], { topK: 2.5 }).next(), "ERR_LFM_INVALID_ARG", /topK/);
    await expectLfmError(seq.generate([1], { stop: [""] }).next(), "ERR_LFM_INVALID_ARG", /stop/);
    await expectLfmError(seq.generate([], {}).next(), "ERR_LFM_INVALID_ARG", /empty/);
  });

  it("use after dispose", async () => {
    const model = await loadModel(tinyModel("lfm2moe", "F32"));
    const seq = model.createSequence({ contextSize: 8 });
    const other = model.createSequence({ contextSize: 8 });
    seq.dispose();
    await expectLfmError(seq.evaluate([1]), "ERR_LFM_DISPOSED", /sequence has been disposed/);
    expect(() => seq.reset()).toThrow(/disposed/);
    model.dispose();
    expect(model.disposed).toBe(true);
    expect(other.disposed).toBe(true);
    await expectLfmError(other.evaluate([1]), "ERR_LFM_DISPOSED", /disposed/);
    await expectLfmError(() => model.tokenize("x"), "ERR_LFM_DISPOSED", /model has been disposed/);
    await expectLfmError(() => model.createSequence(), "ERR_LFM_DISPOSED", /model has been disposed/);
    model.dispose(); // idempotent
  });

  it("disposing while an evaluation runs neither crashes nor loses the result", async () => {
    // A model big enough that the evaluation is still running when dispose() is called.
    const model = await loadModel(tinyModel("lfm2", "F32", { config: { hidden: 256, ffn: 768 } }), { threads: 1 });
    const seq = model.createSequence({ contextSize: 512 });
    const running = seq.evaluate(Array.from({ length: 400 }, (_, i) => 14 + i));
    await new Promise((r) => setImmediate(r)); // the native work has started
    model.dispose();
    expect(seq.disposed).toBe(true);
    const logits = await running; // completes on its own references to the weights and state
    expect(logits.length).toBe(model.info.vocabSize);
    expect(logits.every(Number.isFinite)).toBe(true);
    await expectLfmError(seq.evaluate([1]), "ERR_LFM_DISPOSED", /disposed/);
  });
});
