// ChatSession on tiny models: one BOS, multi-turn chats that evaluate only the new tokens (and
// give what a fresh chat given the same history gives), regenerate and edits resuming from a
// checkpoint, seeds, abort, stop strings, save/load, and bad input.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHAT_DEFAULTS, loadModel, type ChatMessage, type ChatReply, type ChatSendOptions, type ChatSession, type Model } from "../../lib/index.js";
import { tinyModel } from "../helpers/models.js";

let model: Model;
const dir = mkdtempSync(join(tmpdir(), "lfm2-chat-"));
beforeAll(async () => {
  model = await loadModel(tinyModel("lfm2", "Q8_0"), { threads: 2, device: "cpu" });
});
afterAll(() => model.dispose());

/** Greedy, a fixed length, and no end of turn (random weights end turns at random). */
const GREEDY: ChatSendOptions = { temperature: 0, maxTokens: 12, logitBias: { 2: -Infinity, 7: -Infinity } };

/** Tokens the model evaluated while `fn` ran (every sequence of the model). */
async function counted<T>(fn: () => Promise<T>): Promise<{ value: T; tokens: number }> {
  const before = model.stats.batchedTokens;
  const value = await fn();
  return { value, tokens: model.stats.batchedTokens - before };
}

/**
 * The chat's sequence replayed in one go: a new sequence evaluates the prompt tokens of the last
 * reply at once and generates with the same options; the tokens must be the chat's.
 */
async function replay(chat: ChatSession, reply: ChatReply, options: ChatSendOptions): Promise<void> {
  const tokens = chat.sequence.tokens;
  const promptLength = tokens.length - reply.tokens.generated;
  const seq = model.createSequence();
  const { onText: _onText, ...sampling } = options;
  const gen = seq.generate(tokens.slice(0, promptLength), { ...CHAT_DEFAULTS, ...sampling, seed: reply.seed });
  while (!(await gen.next()).done);
  expect(seq.tokens).toEqual(tokens);
  seq.dispose();
}

/** What a new chat, given `history`, replies to `text`. */
async function fresh(history: ChatMessage[], text: string, options: ChatSendOptions = GREEDY): Promise<ChatReply> {
  const chat = model.createChat({ history });
  try {
    return await chat.send(text, options);
  } finally {
    chat.dispose();
  }
}

describe("ChatSession", () => {
  it("renders the prompt with the file's template and exactly one BOS", async () => {
    const chat = model.createChat({ systemPrompt: "Be brief." });
    const reply = await chat.send("Hello", GREEDY);
    const tokens = chat.sequence.tokens;
    expect(tokens[0]).toBe(model.info.bosId);
    expect(tokens.filter((t) => t === model.info.bosId)).toHaveLength(1);
    const prompt = model.detokenize(tokens.slice(0, reply.tokens.evaluated));
    expect(prompt).toBe("<|startoftext|><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
    expect(reply.tokens.reused).toBe(0);
    expect(reply.tokens.generated).toBe(12);
    expect(reply.stopReason).toBe("maxTokens");
    expect(chat.history.map((m) => m.role)).toEqual(["system", "user", "assistant"]);
    expect(chat.history[2]!.content).toBe(reply.text);
    chat.dispose();
  });

  it("a multi-turn chat evaluates only the new tokens and replies as a fresh chat with the same history", async () => {
    const chat = model.createChat({ systemPrompt: "You are a test." });
    const turns = ["First question?", "Second one, a little longer than the first.", "Third."];
    let context = 0;
    for (const [i, text] of turns.entries()) {
      const history = chat.history;
      const { value: reply, tokens } = await counted(() => chat.send(text, { ...GREEDY, logitBias: { 2: -Infinity } }));
      // What the model evaluated: the new prompt tokens (with the last reply's final token) and
      // every generated token but the last.
      expect(tokens).toBe(reply.tokens.evaluated + reply.tokens.generated - 1);
      if (i === 0) {
        expect(reply.tokens.reused).toBe(0);
      } else {
        // Everything before stays; only this turn's markup and text are new.
        expect(reply.tokens.reused).toBe(context - 1);
        const turnTokens = model.tokenize(`<|im_end|>\n<|im_start|>user\n${text}<|im_end|>\n<|im_start|>assistant\n`, { addBos: false });
        expect(reply.tokens.evaluated).toBeLessThanOrEqual(turnTokens.length + 1);
        expect(reply.tokens.evaluated).toBeLessThan(reply.tokens.context / 2);
      }
      context = reply.tokens.context;
      expect(context).toBe(chat.sequence.length);
      // The same tokens as a sequence that reads the whole prompt at once.
      await replay(chat, reply, { ...GREEDY, logitBias: { 2: -Infinity } });
      expect(chat.history).toHaveLength(history.length + 2);
    }
    chat.dispose();
  });

  it("regenerate resumes from the checkpoint after the prompt: no prompt token is evaluated again", async () => {
    const chat = model.createChat();
    await chat.send("Tell me something.", GREEDY);
    const second = await chat.send("And again?", { ...GREEDY, temperature: 1, seed: 5 });
    const { value: again, tokens } = await counted(() => chat.regenerate({ ...GREEDY, temperature: 1, seed: 5 }));
    expect(again.tokens.evaluated).toBe(0);
    expect(tokens).toBe(again.tokens.generated - 1);
    expect(again.text).toBe(second.text);
    await replay(chat, again, { ...GREEDY, temperature: 1 });
    expect(chat.history.filter((m) => m.role === "user")).toHaveLength(2);
    const other = await chat.regenerate({ ...GREEDY, temperature: 1.5, topK: 0, seed: 6 });
    expect(other.text).not.toBe(second.text);
    chat.dispose();
  });

  it("reset keeps the system turn evaluated: a new conversation starts after it", async () => {
    const chat = model.createChat({ systemPrompt: "A long system prompt that should be read only once per chat." });
    await chat.send("First conversation.", GREEDY);
    await chat.send("Still the first.", GREEDY);
    chat.reset();
    expect(chat.history).toEqual([{ role: "system", content: "A long system prompt that should be read only once per chat." }]);
    const reply = await chat.send("Second conversation.", GREEDY);
    const systemTurn = model.tokenize("<|startoftext|><|im_start|>system\nA long system prompt that should be read only once per chat.<|im_end|>\n", { addBos: false });
    expect(reply.tokens.reused).toBe(systemTurn.length);
    expect(reply.tokens.evaluated).toBe(model.tokenize("<|im_start|>user\nSecond conversation.<|im_end|>\n<|im_start|>assistant\n", { addBos: false }).length);
    await replay(chat, reply, GREEDY);
    chat.dispose();
  });

  it("editing the last user message resumes from the longest common prefix", async () => {
    const chat = model.createChat({ systemPrompt: "S." });
    await chat.send("One.", GREEDY);
    await chat.send("Two.", GREEDY);
    const full = chat.sequence.length;
    const history = chat.history;
    const edited = [...history.slice(0, 3), { role: "user" as const, content: "Two, edited." }];
    chat.setHistory(edited);
    const { value: reply } = await counted(() => chat.send("Three.", GREEDY));
    // Rewound to the checkpoint after the first reply's prompt... at most the first reply and
    // what follows are read again, never the system turn and first question.
    const firstPrompt = model.tokenize("<|startoftext|><|im_start|>system\nS.<|im_end|>\n<|im_start|>user\nOne.<|im_end|>\n<|im_start|>assistant\n", { addBos: false });
    expect(reply.tokens.reused).toBeGreaterThanOrEqual(firstPrompt.length);
    expect(reply.tokens.evaluated).toBeLessThan(full);
    expect(chat.history.slice(0, 4)).toEqual(edited);
    await replay(chat, reply, GREEDY);
    chat.dispose();
  });

  it("the same seed gives the same reply; another seed another", async () => {
    const opts: ChatSendOptions = { maxTokens: 16, temperature: 1.5, topK: 0, seed: 1234, logitBias: { 2: -Infinity, 7: -Infinity } };
    const a = await fresh([], "Seeded?", opts);
    const b = await fresh([], "Seeded?", opts);
    const c = await fresh([], "Seeded?", { ...opts, seed: 4321 });
    expect(a.seed).toBe(1234);
    expect(b.text).toBe(a.text);
    expect(c.text).not.toBe(a.text);
  });

  it("penalties and logit bias change what greedy picks", async () => {
    const plain = await fresh([], "Repeat?", { ...GREEDY, maxTokens: 24, repeatPenalty: 1 });
    const penalised = await fresh([], "Repeat?", { ...GREEDY, maxTokens: 24, repeatPenalty: 1, frequencyPenalty: 50, presencePenalty: 50 });
    expect(penalised.text).not.toBe(plain.text);
    // Banning the first token greedy picks changes the first token.
    const chat = model.createChat();
    const first = await chat.send("Ban?", { ...GREEDY, maxTokens: 1 });
    const firstToken = chat.sequence.tokens.at(-1)!;
    const banned = await chat.regenerate({ ...GREEDY, maxTokens: 1, logitBias: { 2: -Infinity, 7: -Infinity, [firstToken]: -Infinity } });
    expect(chat.sequence.tokens.at(-1)).not.toBe(firstToken);
    expect(banned.tokens.generated).toBe(1);
    expect(first.tokens.generated).toBe(1);
    chat.dispose();
  });

  it("onText streams exactly the reply, and stop strings never leak", async () => {
    const free = await fresh([], "Stream?", { ...GREEDY, maxTokens: 30 });
    const stop = free.text.slice(Math.floor(free.text.length / 2), Math.floor(free.text.length / 2) + 2);
    expect(stop).toHaveLength(2);
    const pieces: string[] = [];
    const chat = model.createChat();
    const cut = await chat.send("Stream?", { ...GREEDY, maxTokens: 30, stop, onText: (t) => pieces.push(t) });
    expect(cut.stopReason).toBe("stop");
    expect(pieces.join("")).toBe(cut.text);
    expect(cut.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(pieces.join("").includes(stop)).toBe(false);
    chat.dispose();
  });

  it("abort stops the reply mid-way; the partial reply is kept and the chat goes on correctly", async () => {
    const chat = model.createChat();
    const controller = new AbortController();
    let pieces = 0;
    const reply = await chat.send("Long answer please.", {
      ...GREEDY,
      maxTokens: 200,
      signal: controller.signal,
      onText: () => {
        if (++pieces === 3) controller.abort();
      },
    });
    expect(reply.stopReason).toBe("abort");
    expect(reply.tokens.generated).toBeLessThan(10);
    expect(chat.history.at(-1)).toEqual({ role: "assistant", content: reply.text });
    const next = await chat.send("Go on.", GREEDY);
    expect(next.tokens.evaluated).toBeLessThan(next.tokens.context);
    await replay(chat, next, GREEDY);
    chat.dispose();
  });

  it("an onText that throws fails the send; the reply is dropped and the next turn is exact", async () => {
    const chat = model.createChat();
    await chat.send("First.", GREEDY);
    const history = chat.history;
    const boom = new Error("boom");
    await expect(chat.send("Second.", { ...GREEDY, onText: () => { throw boom; } })).rejects.toBe(boom);
    expect(chat.history).toEqual(history);
    const next = await chat.send("Second.", GREEDY);
    // The failed reply's tokens are gone: the prompt was kept, nothing after it.
    expect(next.tokens.evaluated).toBe(0);
    await replay(chat, next, GREEDY);
    chat.dispose();
  });

  it("save and load: a new chat continues the conversation without reading it again", async () => {
    const chat = model.createChat({ systemPrompt: "Saved." });
    await chat.send("Remember this.", GREEDY);
    const file = join(dir, "chat.lfm2");
    await chat.save(file);
    const cont = await chat.send("What did I say?", GREEDY);
    const other = model.createChat({ systemPrompt: "Saved." });
    await other.load(file);
    expect(other.history).toEqual(chat.history.slice(0, 3));
    expect(other.sequence.length).toBe(cont.tokens.reused);
    const { value: again } = await counted(() => other.send("What did I say?", GREEDY));
    expect(again.tokens.reused).toBe(cont.tokens.reused);
    expect(again.tokens.evaluated).toBe(cont.tokens.evaluated);
    expect(again.text).toBe(cont.text);
    chat.dispose();
    other.dispose();
  });

  it("bad input: LfmError codes, and a failed turn leaves the history as it was", async () => {
    const chat = model.createChat({ contextSize: 64 });
    await expect(chat.send(42 as unknown as string)).rejects.toMatchObject({ code: "ERR_LFM_INVALID_ARG" });
    await expect(chat.send("x", { temperature: -1 })).rejects.toMatchObject({ code: "ERR_LFM_INVALID_ARG" });
    await expect(chat.send("x", { bogus: 1 } as ChatSendOptions)).rejects.toMatchObject({ code: "ERR_LFM_INVALID_ARG" });
    await expect(chat.send("x", { logitBias: { 999999: 1 } })).rejects.toMatchObject({ code: "ERR_LFM_TOKEN_RANGE" });
    expect(() => chat.setHistory([{ role: "robot", content: "x" } as unknown as ChatMessage])).toThrow(expect.objectContaining({ code: "ERR_LFM_INVALID_ARG" }));
    await expect(chat.send("word ".repeat(200), GREEDY)).rejects.toMatchObject({ code: "ERR_LFM_CONTEXT_OVERFLOW" });
    expect(chat.history).toEqual([]);
    const busy = chat.send("hi", GREEDY);
    await expect(chat.send("again", GREEDY)).rejects.toMatchObject({ code: "ERR_LFM_INVALID_ARG" });
    await busy;
    await expect(chat.load(join(dir, "missing.lfm2"))).rejects.toMatchObject({ code: "ERR_LFM_FILE_NOT_FOUND" });
    chat.dispose();
    await expect(chat.send("after")).rejects.toMatchObject({ code: "ERR_LFM_DISPOSED" });
    expect(() => chat.reset()).toThrow(expect.objectContaining({ code: "ERR_LFM_DISPOSED" }));
  });
});
