// generate(): greedy, sampling with seeds, stop strings, end-of-generation, abort, and the
// event loop staying free while the model works.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../lib/index.js";
import { argmaxOf, promptTokens } from "../helpers/compare.js";
import { tinyModel } from "../helpers/models.js";

let model: Model;
beforeAll(async () => {
  model = await loadModel(tinyModel("lfm2moe", "Q8_0"), { threads: 2 });
});
afterAll(() => model.dispose());

async function collect(it: AsyncIterable<{ token: number; text: string }>) {
  const tokens: number[] = [];
  let text = "";
  for await (const t of it) {
    tokens.push(t.token);
    text += t.text;
  }
  return { tokens, text };
}

describe("generate", () => {
  it("temperature 0 follows the argmax of evaluate()", async () => {
    const prompt = promptTokens(6, model.info.vocabSize, 2);
    const { tokens } = await collect(model.createSequence().generate(prompt, { maxTokens: 10, temperature: 0, ignoreEog: true }));
    const seq = model.createSequence();
    let logits = await seq.evaluate(prompt);
    const want: number[] = [];
    for (let i = 0; i < 10; i++) {
      want.push(argmaxOf(logits));
      logits = await seq.evaluate([want[i]!]);
    }
    expect(tokens).toEqual(want);
  });

  it("the same seed gives the same tokens; another seed differs", async () => {
    const prompt = promptTokens(6, model.info.vocabSize, 3);
    const opts = { maxTokens: 24, temperature: 1.5, topK: 0, topP: 1, minP: 0, ignoreEog: true };
    const a = await collect(model.createSequence().generate(prompt, { ...opts, seed: 42 }));
    const b = await collect(model.createSequence().generate(prompt, { ...opts, seed: 42 }));
    const c = await collect(model.createSequence().generate(prompt, { ...opts, seed: 43 }));
    expect(a.tokens).toHaveLength(24);
    expect(b.tokens).toEqual(a.tokens);
    expect(c.tokens).not.toEqual(a.tokens);
  });

  it("text equals detokenize(tokens) and the sequence holds prompt + generated tokens", async () => {
    const prompt = promptTokens(5, model.info.vocabSize, 4);
    const seq = model.createSequence();
    const { tokens, text } = await collect(seq.generate(prompt, { maxTokens: 12, seed: 1, ignoreEog: true }));
    expect(text).toBe(model.detokenize(tokens));
    expect(seq.length).toBe(prompt.length + tokens.length);
    // A later call continues after the generated tokens.
    const more = await collect(seq.generate([], { maxTokens: 3, temperature: 0, ignoreEog: true }));
    expect(seq.length).toBe(prompt.length + tokens.length + 3);
    expect(more.tokens).toHaveLength(3);
  });

  it("stops before a stop string and returns no text from it on", async () => {
    const prompt = promptTokens(6, model.info.vocabSize, 5);
    const free = await collect(model.createSequence().generate(prompt, { maxTokens: 30, temperature: 0, ignoreEog: true }));
    // Pick a stop string from the middle of the free-running text.
    const stop = free.text.slice(Math.floor(free.text.length / 2), Math.floor(free.text.length / 2) + 3);
    expect(stop.length).toBe(3);
    const cut = await collect(model.createSequence().generate(prompt, { maxTokens: 30, temperature: 0, ignoreEog: true, stop: [stop, "\u0000never"] }));
    expect(cut.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(cut.text.includes(stop)).toBe(false);
  });

  it("stops at end-of-generation tokens unless told otherwise", async () => {
    const eog = new Set(model.info.eogIds);
    expect(eog.has(2) && eog.has(7)).toBe(true);
    const prompt = promptTokens(4, model.info.vocabSize, 6);
    // The same seeded run with and without ignoreEog: without it, generation ends right before
    // the first EOG token. Hot sampling over the whole vocabulary makes an EOG likely.
    const free = await collect(model.createSequence().generate(prompt, { maxTokens: 40, temperature: 2, topK: 0, topP: 1, minP: 0, seed: 9, ignoreEog: true }));
    const stopped = await collect(model.createSequence().generate(prompt, { maxTokens: 40, temperature: 2, topK: 0, topP: 1, minP: 0, seed: 9 }));
    const at = free.tokens.findIndex((t) => eog.has(t));
    expect(stopped.tokens).toEqual(at < 0 ? free.tokens : free.tokens.slice(0, at));
  });

  it("an aborted signal stops between tokens", async () => {
    const ctrl = new AbortController();
    const got: number[] = [];
    for await (const { token } of model.createSequence().generate(promptTokens(4, model.info.vocabSize, 7), { maxTokens: 50, temperature: 0, ignoreEog: true, signal: ctrl.signal })) {
      got.push(token);
      if (got.length === 5) ctrl.abort();
    }
    expect(got).toHaveLength(5);
  });

  it("stops when the context is full", async () => {
    const seq = model.createSequence({ contextSize: 10 });
    const { tokens } = await collect(seq.generate(promptTokens(4, model.info.vocabSize, 8), { temperature: 0, ignoreEog: true }));
    expect(tokens).toHaveLength(6);
    expect(seq.length).toBe(10);
  });
});

describe("the event loop", () => {
  it("keeps running while a long prompt is evaluated", async () => {
    const big = await loadModel(tinyModel("lfm2", "F32", { config: { hidden: 256, ffn: 768, nHeads: 4, nKvHeads: 2 } }), { threads: 1 });
    const seq = big.createSequence({ contextSize: 1024 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    await seq.evaluate(promptTokens(1000, big.info.vocabSize, 1));
    const ms = performance.now() - t0;
    clearInterval(timer);
    big.dispose();
    // The evaluation takes a while; a blocked loop would see no ticks at all.
    expect(ms).toBeGreaterThan(20);
    expect(ticks).toBeGreaterThan(ms / 20);
  });
});
