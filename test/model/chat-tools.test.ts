// The tool loop of ChatSession: tools rendered into the prompt, calls parsed from the reply (never
// shown to onText), handlers run and their results fed back as tool messages, calls without a
// handler returned to the caller. Random weights never write tool calls, so the model's replies
// are scripted: a stand-in sequence "generates" given texts (with the real tokenizer) and
// records what the chat evaluated.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatSession } from "../../lib/chat/session.js";
import { loadModel, type ChatTool, type GenerateResult, type Model } from "../../lib/index.js";
import type { Sequence } from "../../lib/sequence.js";
import { tinyModel } from "../helpers/models.js";

let model: Model;
beforeAll(async () => {
  model = await loadModel(tinyModel("lfm2", "Q4_0"), { threads: 1, device: "cpu" });
});
afterAll(() => model.dispose());

/** A sequence whose generate() writes the next scripted reply, then an end of turn. */
class ScriptedSequence {
  tokens: number[] = [];
  evaluatedText: string[] = [];
  readonly contextSize = 4096;
  disposed = false;
  constructor(
    private readonly m: Model,
    private readonly replies: string[],
  ) {}
  get length() {
    return this.tokens.length;
  }
  get evaluatedLength() {
    return this.tokens.length;
  }
  async evaluate(tokens: number[]) {
    this.tokens.push(...tokens);
    this.evaluatedText.push(this.m.detokenize(tokens));
    return new Float32Array(this.m.info.vocabSize);
  }
  async checkpoint() {
    return { length: this.tokens.length, tokens: [...this.tokens] };
  }
  async rewind(cp: { tokens: number[] }) {
    this.tokens = [...cp.tokens];
  }
  reset() {
    this.tokens = [];
  }
  dispose() {
    this.disposed = true;
  }
  async *generate(_prompt: number[], options: { seed?: number }): AsyncGenerator<{ token: number; text: string }, GenerateResult> {
    const text = this.replies.shift();
    if (text === undefined) throw new Error("no scripted reply left");
    const tokens = this.m.tokenize(text, { addBos: false });
    for (const token of tokens) yield { token, text: this.m.detokenize([token]) };
    const eog = this.m.info.eosId;
    this.tokens.push(...tokens, eog);
    return { stopReason: "eog", tokens: [...tokens, eog], seed: options.seed ?? 0 };
  }
}

/** A chat over a scripted sequence. */
function scriptedChat(replies: string[], tools: ChatTool[]): { chat: ChatSession; seq: ScriptedSequence } {
  const seq = new ScriptedSequence(model, replies);
  const stand = {
    info: model.info,
    tokenizer: model.tokenizer,
    tokenize: (text: string, o?: { addBos?: boolean }) => model.tokenize(text, o),
    detokenize: (tokens: number[]) => model.detokenize(tokens),
    metadata: () => model.metadata(),
    createSequence: () => seq as unknown as Sequence,
  } as unknown as Model;
  return { chat: new ChatSession(stand, { tools }), seq };
}

const weather: ChatTool = {
  name: "get_weather",
  description: "Current weather of a city",
  parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
  handler: ({ city, days }) => ({ city, days, forecast: "sunny" }),
};

describe("ChatSession tools", () => {
  it("offers the tools, runs the handler, feeds the result back and replies again", async () => {
    const calls: unknown[] = [];
    const tool: ChatTool = { ...weather, handler: (args, call) => (calls.push({ args, raw: call.raw }), weather.handler!(args, call)) };
    const { chat, seq } = scriptedChat(['<|tool_call_start|>[get_weather(city="Paris", days=2)]<|tool_call_end|>', "It is sunny in Paris.", "You're welcome."], [tool]);
    const shown: string[] = [];
    const reply = await chat.send("Weather in Paris?", { onText: (t) => shown.push(t) });
    expect(calls).toEqual([{ args: { city: "Paris", days: 2 }, raw: 'get_weather(city="Paris", days=2)' }]);
    expect(reply.text).toBe("It is sunny in Paris.");
    expect(reply.stopReason).toBe("eog");
    expect(reply.toolCalls).toMatchObject([{ name: "get_weather", arguments: { city: "Paris", days: 2 }, result: { city: "Paris", days: 2, forecast: "sunny" } }]);
    expect(shown.join("")).toBe("It is sunny in Paris.");
    expect(reply.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant"]);
    expect(reply.messages[2]).toEqual({ role: "tool", name: "get_weather", content: '{"city":"Paris","days":2,"forecast":"sunny"}' });
    // The first prompt lists the tool as JSON in the system turn (evaluated apart, with its own
    // checkpoint), then the user turn; the second round evaluates only the end of the call turn
    // and the tool result.
    expect(seq.evaluatedText[0]).toMatch(/^<\|startoftext\|><\|im_start\|>system\nList of tools: <\|tool_list_start\|>\[\{"name": "get_weather", "description".*<\|tool_list_end\|><\|im_end\|>\n$/);
    expect(seq.evaluatedText[1]).toBe("<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n");
    expect(seq.evaluatedText[2]).toBe(
      '\n<|im_start|>tool\n<|tool_response_start|>{"city":"Paris","days":2,"forecast":"sunny"}<|tool_response_end|><|im_end|>\n<|im_start|>assistant\n',
    );
    expect(chat.history.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant"]);
    expect(chat.history[1]!.toolCalls?.[0]?.name).toBe("get_weather");
    // A next turn reuses everything: only the new user turn is evaluated.
    seq.evaluatedText.length = 0;
    const thanks = await chat.send("Thanks");
    expect(thanks.text).toBe("You're welcome.");
    expect(seq.evaluatedText).toEqual(["\n<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n"]);
    expect(thanks.tokens.reused).toBe(seq.length - thanks.tokens.generated - model.tokenize(seq.evaluatedText[0]!, { addBos: false }).length);
  });

  it("a call without a handler ends the send; tool messages given to respond() continue it", async () => {
    const { chat, seq } = scriptedChat(['<|tool_call_start|>[lookup(q="x")]<|tool_call_end|>', "Found it."], [{ name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } } } }]);
    const first = await chat.send("Look x up");
    expect(first.stopReason).toBe("toolCalls");
    expect(first.toolCalls).toMatchObject([{ name: "lookup", arguments: { q: "x" } }]);
    expect(first.toolCalls[0]!.result).toBeUndefined();
    const second = await chat.respond([{ role: "tool", name: "lookup", content: "x = 42" }]);
    expect(second.text).toBe("Found it.");
    expect(seq.evaluatedText.at(-1)).toBe("\n<|im_start|>tool\n<|tool_response_start|>x = 42<|tool_response_end|><|im_end|>\n<|im_start|>assistant\n");
    expect(chat.history.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant"]);
  });

  it("a throwing handler's error goes back to the model; maxToolRounds bounds the loop", async () => {
    const failing: ChatTool = { ...weather, handler: () => { throw new Error("service down"); } };
    const { chat } = scriptedChat(['<|tool_call_start|>[get_weather(city="Oslo")]<|tool_call_end|>', "Sorry, no weather."], [failing]);
    const reply = await chat.send("Oslo?");
    expect(reply.toolCalls[0]!.error).toBe("service down");
    expect(reply.messages[2]!.content).toBe('{"error":"service down"}');
    expect(reply.text).toBe("Sorry, no weather.");

    const looping = scriptedChat(Array(5).fill('<|tool_call_start|>[get_weather(city="Rome")]<|tool_call_end|>'), [weather]);
    const bounded = await looping.chat.send("Rome?", { maxToolRounds: 2 });
    expect(bounded.stopReason).toBe("toolCalls");
    expect(bounded.toolCalls).toHaveLength(3);
    expect(bounded.toolCalls.filter((c) => c.result !== undefined)).toHaveLength(2);
  });

  it("malformed and JSON-form calls: text stays text, JSON calls run", async () => {
    const { chat } = scriptedChat(['<|tool_call_start|>[{"name": "get_weather", "arguments": {"city": "Lima"}}]<|tool_call_end|>', "Done."], [weather]);
    const reply = await chat.send("Lima?");
    expect(reply.toolCalls).toMatchObject([{ name: "get_weather", arguments: { city: "Lima" }, result: { city: "Lima", forecast: "sunny" } }]);
    const broken = scriptedChat(["I would call get_weather(city= but I will not."], [weather]);
    const text = await broken.chat.send("?");
    expect(text.toolCalls).toEqual([]);
    expect(text.text).toBe("I would call get_weather(city= but I will not.");
  });

  it("bad tools are refused", () => {
    expect(() => model.createChat({ tools: [{ name: "" }] })).toThrow(expect.objectContaining({ code: "ERR_LFM_INVALID_ARG" }));
    expect(() => model.createChat({ tools: {} as unknown as ChatTool[] })).toThrow(expect.objectContaining({ code: "ERR_LFM_INVALID_ARG" }));
    expect(() => model.createChat({ tools: [{ name: "ok", handler: 5 as unknown as ChatTool["handler"] }] })).toThrow(
      expect.objectContaining({ code: "ERR_LFM_INVALID_ARG" }),
    );
  });
});
