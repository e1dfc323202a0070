// Sequence checkpoints, rewind and state files through the public API; generate()'s return value.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type GenerateOptions, type GenerateResult, type Model, type Sequence } from "../../lib/index.js";
import { promptTokens } from "../helpers/compare.js";
import { tinyModel } from "../helpers/models.js";

let model: Model;
let other: Model;
const dir = mkdtempSync(join(tmpdir(), "lfm2-state-"));
beforeAll(async () => {
  model = await loadModel(tinyModel("lfm2moe", "Q4_0"), { threads: 2, device: "cpu" });
  other = await loadModel(tinyModel("lfm2", "Q4_0"), { threads: 1, device: "cpu" });
});
afterAll(() => {
  model.dispose();
  other.dispose();
});

/** Runs generate() to its end: the yielded tokens, their text and the return value. */
async function run(seq: Sequence, prompt: number[], options: GenerateOptions) {
  const gen = seq.generate(prompt, options);
  const tokens: number[] = [];
  let text = "";
  for (;;) {
    const step = await gen.next();
    if (step.done) return { tokens, text, result: step.value as GenerateResult };
    tokens.push(step.value.token);
    text += step.value.text;
  }
}

const GREEDY: GenerateOptions = { temperature: 0, maxTokens: 10, ignoreEog: true };

describe("checkpoint and rewind", () => {
  it("rewinding to a checkpoint gives the same continuation without evaluating the prefix again", async () => {
    const seq = model.createSequence();
    const prompt = promptTokens(9, model.info.vocabSize, 11);
    await seq.evaluate(prompt);
    const cp = await seq.checkpoint();
    expect(cp.length).toBe(prompt.length);
    const first = await run(seq, [], { ...GREEDY, temperature: 1, seed: 3 });
    expect(seq.length).toBe(prompt.length + 10);
    const before = model.stats.batchedTokens;
    await seq.rewind(cp);
    expect(seq.length).toBe(prompt.length);
    expect(seq.tokens).toEqual(prompt);
    const again = await run(seq, [], { ...GREEDY, temperature: 1, seed: 3 });
    expect(again.tokens).toEqual(first.tokens);
    // Only the generated tokens were evaluated (each but the last), not the prompt.
    expect(model.stats.batchedTokens - before).toBe(9);
    seq.dispose();
  });

  it("refuses a checkpoint of another sequence or one the sequence was cut back before", async () => {
    const a = model.createSequence();
    const b = model.createSequence();
    await a.evaluate([1, 2, 3]);
    const early = await a.checkpoint();
    await a.evaluate([4, 5]);
    const late = await a.checkpoint();
    await expect(b.rewind(early)).rejects.toMatchObject({ code: "ERR_LFM_INVALID_ARG", message: expect.stringContaining("another sequence") });
    await a.rewind(early);
    await a.evaluate([6]);
    await expect(a.rewind(late)).rejects.toMatchObject({ code: "ERR_LFM_INVALID_ARG", message: expect.stringContaining("no longer matches") });
    await expect(a.rewind({} as never)).rejects.toMatchObject({ code: "ERR_LFM_INVALID_ARG" });
    a.reset();
    await expect(a.rewind(early)).rejects.toMatchObject({ code: "ERR_LFM_INVALID_ARG" });
    a.dispose();
    await expect(a.checkpoint()).rejects.toMatchObject({ code: "ERR_LFM_DISPOSED" });
    b.dispose();
  });
});

describe("state files", () => {
  it("saveState / loadState: a loaded sequence continues exactly as the original", async () => {
    const seq = model.createSequence();
    const prompt = promptTokens(12, model.info.vocabSize, 12);
    await run(seq, prompt, GREEDY); // ends with a generated token not yet evaluated
    const file = join(dir, "seq.lfm2");
    await seq.saveState(file, { metadata: { note: "hi" } });
    const cont = await run(seq, [], GREEDY);
    const loaded = model.createSequence();
    expect(await loaded.loadState(file)).toEqual({ note: "hi" });
    expect(loaded.tokens).toEqual(seq.tokens.slice(0, prompt.length + 10));
    const before = model.stats.batchedTokens;
    const again = await run(loaded, [], GREEDY);
    expect(again.tokens).toEqual(cont.tokens);
    expect(model.stats.batchedTokens - before).toBe(9);
    seq.dispose();
    loaded.dispose();
  });

  it("bad state files: missing, not a state, truncated, another model, too long for the context", async () => {
    const seq = model.createSequence();
    await seq.evaluate(promptTokens(20, model.info.vocabSize, 13));
    const file = join(dir, "good.lfm2");
    await seq.saveState(file);
    const target = model.createSequence();
    await expect(target.loadState(join(dir, "none.lfm2"))).rejects.toMatchObject({ code: "ERR_LFM_FILE_NOT_FOUND" });
    const junk = join(dir, "junk.lfm2");
    writeFileSync(junk, "hello, not a state");
    await expect(target.loadState(junk)).rejects.toMatchObject({ code: "ERR_LFM_MODEL_FORMAT" });
    const bytes = readFileSync(file);
    const cut = join(dir, "cut.lfm2");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    await expect(target.loadState(cut)).rejects.toMatchObject({ code: "ERR_LFM_MODEL_FORMAT", message: expect.stringContaining("truncated") });
    await expect(other.createSequence().loadState(file)).rejects.toMatchObject({ code: "ERR_LFM_SHAPE_MISMATCH" });
    await expect(model.createSequence({ contextSize: 8 }).loadState(file)).rejects.toMatchObject({ code: "ERR_LFM_CONTEXT_OVERFLOW" });
    await expect(seq.saveState(join(dir, "no-such-dir", "x.lfm2"))).rejects.toMatchObject({ code: "ERR_LFM_IO" });
    // After the failures the target is still usable and empty.
    expect(target.length).toBe(0);
    await target.loadState(file);
    expect(target.length).toBe(20);
    seq.dispose();
    target.dispose();
  });
});

describe("generate's return value", () => {
  it("says why it ended and lists every sampled token", async () => {
    const seq = model.createSequence({ contextSize: 40 });
    const prompt = promptTokens(6, model.info.vocabSize, 14);
    const limited = await run(seq, prompt, { ...GREEDY, seed: 8 });
    expect(limited.result).toMatchObject({ stopReason: "maxTokens", tokens: limited.tokens });
    const full = await run(seq, [], { temperature: 0, ignoreEog: true });
    expect(full.result.stopReason).toBe("contextFull");
    expect(seq.length).toBe(40);
    seq.reset();
    const controller = new AbortController();
    controller.abort();
    const aborted = await run(seq, prompt, { ...GREEDY, signal: controller.signal });
    expect(aborted.result).toMatchObject({ stopReason: "abort", tokens: [] });
    seq.reset();
    // A stop string: the yielded text stops before it, the result names it and holds every token.
    const free = await run(seq, prompt, { ...GREEDY, maxTokens: 20 });
    const stop = free.text.slice(10, 12);
    seq.reset();
    const stopped = await run(seq, prompt, { ...GREEDY, maxTokens: 20, stop });
    expect(stopped.result.stopReason).toBe("stop");
    expect(stopped.result.stop).toBe(stop);
    expect(stopped.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(model.detokenize(stopped.result.tokens)).toContain(stop);
    seq.dispose();
  });

  it("an end-of-generation token ends it with stopReason eog, the token listed but not yielded", async () => {
    const seq = model.createSequence();
    const eog = model.info.eogIds[0]!;
    // A bias that makes the end-of-generation token certain after the first step.
    const first = await run(seq, promptTokens(5, model.info.vocabSize, 15), { temperature: 0, maxTokens: 3, logitBias: { [eog]: 1000 } });
    expect(first.result.stopReason).toBe("eog");
    expect(first.tokens).toEqual([]);
    expect(first.result.tokens).toEqual([eog]);
    seq.dispose();
  });

  it("an unfinished UTF-8 character at the end is flushed as U+FFFD, even when nothing else is held", async () => {
    const seq = model.createSequence();
    // The byte token 0xE2 (the first byte of a three-byte character) as the only generated token.
    const lead = model.tokenizer.tokenId("â");
    expect(lead).toBeDefined();
    const r = await run(seq, [1, 2, 3], { temperature: 0, maxTokens: 1, logitBias: { [lead!]: 1000 } });
    expect(r.result.tokens).toEqual([lead]);
    expect(r.tokens).toEqual([lead]); // yielded once, with the replacement character
    expect(r.text).toBe("\uFFFD");
    // Two lead bytes then the limit: still one item per token, the text flushed onto the last.
    seq.reset();
    const two = await run(seq, [1, 2, 3], { temperature: 0, maxTokens: 2, logitBias: { [lead!]: 1000 }, penaltyLastN: 0 });
    expect(two.tokens).toEqual([lead, lead]);
    expect(two.text).toBe(model.detokenize([lead!, lead!]));
    seq.dispose();
  });
});
