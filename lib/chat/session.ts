// SPDX-License-Identifier: MIT
// ChatSession: a conversation with a model over one sequence. Each turn renders the whole
// conversation with the chat template and evaluates only what the sequence does not hold yet;
// convolution-state checkpoints let an edited or regenerated turn resume from the longest
// common prefix. Tool calls are parsed from the stream and, with handlers, answered.
import { LfmError } from "../errors.js";
import type { Model } from "../model.js";
import { CHAT_DEFAULTS, resolveSampling, SAMPLING_OPTIONS } from "../sampling.js";
import type { Sequence, SequenceCheckpoint } from "../sequence.js";
import type { GenerateResult, SamplingOptions, StopReason } from "../types.js";
import { checkOptions, intOption, invalidParameterError, isObject } from "../validate.js";
import { renderChat, renderChatPrompt, renderDelta, type RenderChatOptions } from "./template.js";
import { normalizeTools, ToolCallStreamFilter } from "./tools.js";
import type { ChatMessage, ChatRole, OpenAiToolDefinition, ToolCall, ToolDefinition } from "./types.js";

/** A tool the model may call; with a `handler`, {@link ChatSession.send} calls it and feeds the result back. */
export interface ChatTool extends ToolDefinition {
  /**
   * Runs the call. The result goes back to the model as a tool message: a string as it is,
   * anything else as JSON. A thrown error goes back as `{"error": message}`.
   */
  handler?: (args: Record<string, unknown>, call: ToolCall) => unknown;
}

/** What `tools` options take: {@link ChatTool}s, or OpenAI-style wrapped definitions. */
export type ChatToolInput = ChatTool | (OpenAiToolDefinition & { handler?: ChatTool["handler"] });

/** Options of {@link Model.createChat}. */
export interface ChatSessionOptions extends SamplingOptions {
  /** The system message that starts every conversation of this chat. */
  systemPrompt?: string;
  /** Tokens the chat's sequence can hold. Default: min(4096, the model's context length). */
  contextSize?: number;
  /** A Jinja chat template instead of the GGUF's `tokenizer.chat_template`. */
  chatTemplate?: string;
  /** More variables for the template (for example `preserve_thinking` of LFM2.5 templates). */
  templateVariables?: Record<string, unknown>;
  /** Tools offered in every turn (a turn's own `tools` option replaces them). */
  tools?: ChatToolInput[];
  /** A conversation to continue (after the system prompt, when one is given). */
  history?: ChatMessage[];
}

/** Options of {@link ChatSession.send}: sampling (chat defaults: temperature 0.1, top-k 50, repetition penalty 1.05) and more. */
export interface ChatSendOptions extends SamplingOptions {
  /** Called with each piece of reply text as it is generated (tool-call markup is never shown). */
  onText?: (text: string) => void;
  /** Stops the reply between two tokens; the text so far is kept (stopReason "abort"). */
  signal?: AbortSignal;
  /** Most tokens to generate per reply. Default: until the end of the turn or a full context. */
  maxTokens?: number;
  /** Stop strings: never shown, not part of the reply. */
  stop?: string | string[];
  /** Tools for this turn (instead of the chat's). `[]` offers none. */
  tools?: ChatToolInput[];
  /** Most replies generated for tool results in one send (default 8). */
  maxToolRounds?: number;
}

/** A tool call of a reply, with what its handler returned. */
export interface ChatToolCallResult extends ToolCall {
  /** The handler's result (absent when the tool has no handler or the call was not run). */
  result?: unknown;
  /** The handler's error message, when it threw. */
  error?: string;
}

/** What {@link ChatSession.send} returns. */
export interface ChatReply {
  /** The reply's text (the last reply when tools were called), without tool-call markup. */
  text: string;
  /** Every tool call made in this send, in order, with the handlers' results. */
  toolCalls: ChatToolCallResult[];
  /**
   * Why the last reply ended: "eog" (end of the turn), "toolCalls" (calls a handler cannot
   * answer: answer them with {@link ChatSession.respond} and tool messages), "maxTokens", "stop",
   * "abort", "contextFull".
   */
  stopReason: StopReason | "toolCalls";
  /** The messages this send added to the history (the user's, replies, tool results). */
  messages: ChatMessage[];
  tokens: {
    /** Tokens of the sequence kept from before this send (not evaluated again). */
    reused: number;
    /** Prompt tokens evaluated by this send (every round). */
    evaluated: number;
    /** Tokens generated (every round, an end-of-turn token included). */
    generated: number;
    /** Tokens in the sequence afterwards. */
    context: number;
  };
  timings: {
    /** Evaluating the prompt tokens, milliseconds. */
    promptMs: number;
    /** Generating, milliseconds. */
    generateMs: number;
    /** Generated tokens per second. */
    tokensPerSecond: number;
  };
  /** The sampler seed of the last reply. */
  seed: number;
}

const SEND_OPTIONS = [...SAMPLING_OPTIONS, "onText", "signal", "maxTokens", "stop", "tools", "maxToolRounds"];
const CHAT_OPTIONS = [...SAMPLING_OPTIONS, "systemPrompt", "contextSize", "chatTemplate", "templateVariables", "tools", "history"];
const ROLES: readonly ChatRole[] = ["system", "user", "assistant", "tool"];
/** Checkpoints kept besides the start (each: the conv state and one row of logits). */
const MAX_CHECKPOINTS = 8;

/** A point of the sequence the chat can come back to: where the text `textLength` ends. */
interface Mark {
  textLength: number;
  checkpoint: SequenceCheckpoint;
}

/**
 * A conversation with a model ({@link Model.createChat}). Turns run one at a time.
 *
 * @example
 * const chat = model.createChat({ systemPrompt: "You are terse." });
 * const reply = await chat.send("Name a nematode.", { onText: (t) => process.stdout.write(t) });
 * reply.tokens; // { reused, evaluated, generated, context }
 */
export class ChatSession {
  readonly model: Model;
  /** The sequence the conversation lives in. */
  readonly sequence: Sequence;
  readonly systemPrompt: string | undefined;
  #template: string | undefined;
  #variables: Record<string, unknown> | undefined;
  #tools: ChatToolInput[] | undefined;
  #defaults: Record<string, unknown>;
  #history: ChatMessage[];
  /** The text the sequence holds (renders, then generated text), as the template writes it. */
  #text = "";
  #marks: Mark[] = [];
  #busy = false;
  #disposed = false;

  /** @internal use {@link Model.createChat} */
  constructor(model: Model, options: ChatSessionOptions | undefined) {
    const o = checkOptions("options", options, CHAT_OPTIONS);
    if (o.systemPrompt !== undefined && typeof o.systemPrompt !== "string") throw invalidParameterError("systemPrompt", "a string", o.systemPrompt);
    if (o.chatTemplate !== undefined && typeof o.chatTemplate !== "string") throw invalidParameterError("chatTemplate", "a string", o.chatTemplate);
    if (o.templateVariables !== undefined && !isObject(o.templateVariables)) {
      throw invalidParameterError("templateVariables", "an object", o.templateVariables);
    }
    this.model = model;
    this.systemPrompt = o.systemPrompt as string | undefined;
    this.#tools = o.tools === undefined ? undefined : checkTools(o.tools);
    this.#template = (o.chatTemplate as string | undefined) ?? chatTemplateOf(model);
    this.#variables = o.templateVariables as Record<string, unknown> | undefined;
    this.#defaults = {};
    for (const k of SAMPLING_OPTIONS) if (o[k] !== undefined) this.#defaults[k] = o[k];
    // Validate the defaults now rather than at the first send.
    resolveSampling(this.#defaults, CHAT_DEFAULTS, model.info.vocabSize);
    this.#history = this.#start(o.history === undefined ? [] : checkMessages(o.history));
    this.sequence = model.createSequence(o.contextSize === undefined ? undefined : { contextSize: o.contextSize as number });
  }

  /** The conversation so far (a copy), the system message first when there is one. */
  get history(): ChatMessage[] {
    return structuredClone(this.#history);
  }

  /** True after {@link dispose} (or after the model's). */
  get disposed(): boolean {
    return this.#disposed || this.sequence.disposed;
  }

  /**
   * Replaces the conversation. The next turn evaluates only what differs from what the sequence
   * holds: editing the last messages resumes from the longest common prefix.
   */
  setHistory(messages: ChatMessage[]): void {
    this.#check("setHistory");
    this.#history = this.#start(checkMessages(messages));
  }

  /** Starts over: only the system prompt stays (its evaluation is kept for the next turn). */
  reset(): void {
    this.#check("reset");
    this.#history = this.#start([]);
  }

  /**
   * Sends a user message and generates the reply, streaming its text to `onText`. When the
   * model calls tools that have handlers, they run, their results go back as tool messages and
   * the model replies again (up to `maxToolRounds`).
   * @throws {LfmError} ERR_LFM_CONTEXT_OVERFLOW when the conversation no longer fits, ERR_LFM_INVALID_ARG, ERR_LFM_DISPOSED
   */
  send(text: string, options?: ChatSendOptions): Promise<ChatReply> {
    if (typeof text !== "string") return Promise.reject(invalidParameterError("text", "a string", text));
    return this.respond([{ role: "user", content: text }], options);
  }

  /**
   * {@link send}, for those used to node-llama-cpp's `LlamaChatSession.prompt`: resolves to the
   * reply's text.
   */
  async prompt(text: string, options?: ChatSendOptions): Promise<string> {
    return (await this.send(text, options)).text;
  }

  /**
   * Appends messages (a user turn, or tool results for calls a reply left unanswered) and
   * generates the reply, as {@link send} does.
   */
  async respond(messages: ChatMessage[], options?: ChatSendOptions): Promise<ChatReply> {
    this.#check("respond");
    const added = checkMessages(messages);
    const o = checkOptions("options", options, SEND_OPTIONS);
    if (o.onText !== undefined && typeof o.onText !== "function") throw invalidParameterError("onText", "a function", o.onText);
    if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidParameterError("signal", "an AbortSignal", o.signal);
    const maxRounds = o.maxToolRounds === undefined ? 8 : intOption("maxToolRounds", o.maxToolRounds, 0, 1000);
    const tools = o.tools === undefined ? this.#tools : checkTools(o.tools);
    const sampling: Record<string, unknown> = { ...this.#defaults };
    for (const k of SAMPLING_OPTIONS) if (o[k] !== undefined) sampling[k] = o[k];
    // Checked here, before the turn starts; generate() applies the same options (and the chat
    // defaults under them), with the seed fixed now so that every round derives from it.
    const { seed } = resolveSampling(sampling, CHAT_DEFAULTS, this.model.info.vocabSize);
    if (this.#busy) throw new LfmError("ERR_LFM_INVALID_ARG", "[chat] a reply is being generated: wait for it (or abort it) first");
    this.#busy = true;
    try {
      return await this.#turn(added, tools, { ...CHAT_DEFAULTS, ...(sampling as SamplingOptions), seed }, o, maxRounds);
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Generates the last reply again: the messages after the last user message are dropped and a
   * new reply is generated from the checkpoint at the end of that prompt (nothing is re-read).
   */
  async regenerate(options?: ChatSendOptions): Promise<ChatReply> {
    this.#check("regenerate");
    const i = lastIndex(this.#history, (m) => m.role === "user");
    if (i < 0) throw new LfmError("ERR_LFM_INVALID_ARG", "[chat] there is no user message to reply to again");
    const user = this.#history[i]!;
    this.#history = this.#history.slice(0, i);
    return this.respond([user], options);
  }

  /** Writes the conversation and the sequence's state to a file ({@link load} restores both). */
  async save(path: string): Promise<void> {
    this.#check("save");
    await this.sequence.saveState(path, { metadata: { kind: "lfm2-chat", version: 1, history: this.#history, text: this.#text } });
  }

  /** Restores a conversation written by {@link save} (same model); the next turn continues it. */
  async load(path: string): Promise<void> {
    this.#check("load");
    if (this.#busy) throw new LfmError("ERR_LFM_INVALID_ARG", "[chat] a reply is being generated: wait for it (or abort it) first");
    const meta = (await this.sequence.loadState(path)) as { kind?: unknown; history?: unknown; text?: unknown } | undefined;
    if (!isObject(meta) || meta.kind !== "lfm2-chat" || !Array.isArray(meta.history) || typeof meta.text !== "string") {
      // The sequence changed: forget what the chat knew about it.
      this.#text = "";
      this.#marks = [];
      throw new LfmError("ERR_LFM_MODEL_FORMAT", `[chat] ${path} holds a sequence state but no chat (written by Sequence.saveState?)`);
    }
    this.#history = checkMessages(meta.history as ChatMessage[]);
    this.#text = meta.text;
    this.#marks = [];
    if (this.sequence.length > 0) await this.#mark();
  }

  /** Frees the chat's sequence. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.sequence.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #check(op: string): void {
    if (this.disposed) throw new LfmError("ERR_LFM_DISPOSED", `[chat.${op}] the chat has been disposed`);
  }

  #start(messages: ChatMessage[]): ChatMessage[] {
    const system: ChatMessage[] = this.systemPrompt !== undefined && messages[0]?.role !== "system" ? [{ role: "system", content: this.systemPrompt }] : [];
    return [...system, ...messages];
  }

  async #turn(
    added: ChatMessage[],
    tools: ChatToolInput[] | undefined,
    settings: SamplingOptions & { seed: number },
    o: Record<string, unknown>,
    maxRounds: number,
  ): Promise<ChatReply> {
    const messages = [...this.#history, ...added];
    const toolDefs = normalizeTools(tools);
    const handlers = new Map<string, ChatTool["handler"]>();
    toolDefs.forEach((def, i) => {
      const handler = tools![i]!.handler;
      if (typeof handler === "function") handlers.set(def.name, handler);
    });
    // The template's inputs but the messages, and the system turn (system prompt and tools),
    // which gets a checkpoint of its own so that a new conversation (reset, another history)
    // starts after it: the same for every round.
    const renderOptions: RenderChatOptions = {
      template: this.#template,
      tools: toolDefs,
      bosToken: this.#bosText(),
      eosToken: this.#eosText(),
      ...(this.#variables && { variables: this.#variables }),
    };
    const system = messages[0]?.role === "system" ? [messages[0]] : [];
    const head = system.length > 0 || toolDefs.length > 0 ? renderChat(system, { ...renderOptions, addGenerationPrompt: false }) : "";
    const reply: ChatReply = {
      text: "",
      toolCalls: [],
      stopReason: "eog",
      messages: [...added],
      tokens: { reused: -1, evaluated: 0, generated: 0, context: 0 },
      timings: { promptMs: 0, generateMs: 0, tokensPerSecond: 0 },
      seed: settings.seed,
    };
    const onText = o.onText as ((t: string) => void) | undefined;
    const signal = o.signal as AbortSignal | undefined;
    for (let round = 0; ; round++) {
      // The prompt: render, then evaluate what the sequence lacks.
      const rendered = renderChatPrompt(messages, renderOptions);
      const t0 = performance.now();
      const { reused, evaluated } = await this.#sync(rendered.text, rendered.hasBos, head);
      if (reply.tokens.reused < 0) reply.tokens.reused = reused;
      reply.tokens.evaluated += evaluated;
      const t1 = performance.now();
      reply.timings.promptMs += t1 - t0;

      // The reply, streamed through the tool-call filter.
      const filter = new ToolCallStreamFilter({ tools: toolDefs });
      const gen = this.sequence.generate([], {
        ...settings,
        seed: round === 0 ? settings.seed : (settings.seed + round) >>> 0,
        ...(o.maxTokens !== undefined && { maxTokens: o.maxTokens as number }),
        ...(o.stop !== undefined && { stop: o.stop as string | string[] }),
        ...(signal && { signal }),
      });
      let result: GenerateResult;
      let parsed: ReturnType<ToolCallStreamFilter["end"]>;
      try {
        for (;;) {
          const step = await gen.next();
          if (step.done) {
            result = step.value;
            break;
          }
          const visible = filter.push(step.value.text);
          if (visible && onText) onText(visible);
        }
        parsed = filter.end();
        if (parsed.text && onText) onText(parsed.text);
      } catch (err) {
        // onText threw, or the sequence failed: the reply is not kept, nor its tokens.
        await gen.return(undefined as never).catch(() => undefined);
        await this.#backToPrompt();
        throw err;
      }
      reply.timings.generateMs += performance.now() - t1;
      reply.tokens.generated += result.tokens.length;
      reply.seed = result.seed;
      // What the sequence now holds: every sampled token's text (end of turn and stop text included).
      this.#text += this.model.tokenizer.detokenize(result.tokens);

      const assistant: ChatMessage = { role: "assistant", content: parsed.content };
      if (parsed.toolCalls.length > 0) assistant.toolCalls = parsed.toolCalls;
      messages.push(assistant);
      reply.messages.push(assistant);
      reply.text = parsed.content;
      reply.stopReason = result.stopReason;
      const calls: ChatToolCallResult[] = parsed.toolCalls.map((c) => ({ ...c }));
      reply.toolCalls.push(...calls);
      if (calls.length === 0 || result.stopReason !== "eog") break;
      if (round >= maxRounds || calls.some((c) => !handlers.has(c.name))) {
        reply.stopReason = "toolCalls";
        break;
      }
      for (const call of calls) {
        let content: string;
        try {
          call.result = await handlers.get(call.name)!(call.arguments, call);
          content = typeof call.result === "string" ? call.result : (JSON.stringify(call.result) ?? "null");
        } catch (err) {
          call.error = err instanceof Error ? err.message : String(err);
          content = JSON.stringify({ error: call.error });
        }
        const toolMessage: ChatMessage = { role: "tool", content, name: call.name };
        if (call.id !== undefined) toolMessage.toolCallId = call.id;
        messages.push(toolMessage);
        reply.messages.push(toolMessage);
      }
      if (signal?.aborted) {
        reply.stopReason = "abort";
        break;
      }
    }
    this.#history = structuredClone(messages);
    reply.tokens.context = this.sequence.length;
    reply.timings.tokensPerSecond = reply.timings.generateMs > 0 ? (reply.tokens.generated * 1000) / reply.timings.generateMs : 0;
    return reply;
  }

  /**
   * Brings the sequence to the rendered prompt `next`: evaluates only the text after what it
   * already holds, or, when the conversation changed earlier, rewinds to the last checkpoint
   * inside the common prefix first. Leaves a checkpoint at the end.
   */
  async #sync(next: string, hasBos: boolean, head: string): Promise<{ reused: number; evaluated: number }> {
    const seq = this.sequence;
    let from = 0;
    if (this.#text.length > 0 && seq.length > 0) {
      const d = renderDelta(this.#text, next);
      if (d.keep === this.#text.length) {
        from = d.keep;
      } else {
        const i = lastIndex(this.#marks, (m) => m.textLength <= d.keep);
        if (i >= 0) {
          const mark = this.#marks[i]!;
          await seq.rewind(mark.checkpoint);
          this.#marks.length = i + 1;
          from = mark.textLength;
        }
      }
    }
    if (from === 0) {
      if (seq.length > 0) seq.reset();
      this.#marks = [];
    }
    this.#text = this.#text.slice(0, from);
    // A token generated last turn and not evaluated yet is evaluated now, with the new ones.
    const reused = seq.evaluatedLength;
    const pending = seq.length - reused;
    // The pieces to evaluate: up to the end of the system turn when it is new (and ends on a
    // token boundary), then the rest; a checkpoint after each.
    const ends = [next.length];
    if (head.length > from && head.length < next.length && renderDelta(head, next).keep === head.length) ends.unshift(head.length);
    const pieces = ends.map((end, i) => this.model.tokenize(next.slice(i === 0 ? from : ends[i - 1], end), { addBos: i === 0 && from === 0 && !hasBos }));
    const total = pieces.reduce((n, p) => n + p.length, 0);
    if (seq.length + total > seq.contextSize) {
      throw new LfmError(
        "ERR_LFM_CONTEXT_OVERFLOW",
        `[chat] the conversation needs ${seq.length + total} tokens, more than the context size ${seq.contextSize}: start over (reset) or create the chat with a larger contextSize`,
      );
    }
    for (const [i, tokens] of pieces.entries()) {
      if (tokens.length > 0) {
        try {
          await seq.evaluate(tokens);
        } catch (err) {
          // What the sequence holds is unknown now: the next turn starts from the beginning.
          this.#text = "";
          this.#marks = [];
          throw err;
        }
      }
      this.#text = next.slice(0, ends[i]);
      await this.#mark();
    }
    return { reused, evaluated: pending + total };
  }

  /** A checkpoint where the sequence (and #text) ends now. */
  async #mark(): Promise<void> {
    const checkpoint = await this.sequence.checkpoint();
    const textLength = this.#text.length;
    if (this.#marks.at(-1)?.textLength === textLength) this.#marks.pop();
    this.#marks.push({ textLength, checkpoint });
    // The oldest go first, but the first (the system turn, usually) stays.
    if (this.#marks.length > MAX_CHECKPOINTS) this.#marks.splice(1, this.#marks.length - MAX_CHECKPOINTS);
  }

  /** Cuts the sequence back to the checkpoint at the end of the last prompt (or forgets it all). */
  async #backToPrompt(): Promise<void> {
    const mark = this.#marks.at(-1);
    try {
      if (!mark || this.sequence.disposed) throw new Error("no checkpoint");
      await this.sequence.rewind(mark.checkpoint);
      this.#text = this.#text.slice(0, mark.textLength);
    } catch {
      this.#text = "";
      this.#marks = [];
    }
  }

  #bosText(): string {
    return this.model.tokenizer.tokenText(this.model.info.bosId);
  }

  #eosText(): string {
    return this.model.tokenizer.tokenText(this.model.info.eosId);
  }
}

function lastIndex<T>(items: readonly T[], pred: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (pred(items[i]!)) return i;
  return -1;
}

/** The GGUF's chat template, if it has one. */
function chatTemplateOf(model: Model): string | undefined {
  const t = model.metadata()["tokenizer.chat_template"];
  return typeof t === "string" && t.trim().length > 0 ? t : undefined;
}

function checkTools(tools: unknown): ChatToolInput[] {
  normalizeTools(tools as ChatToolInput[]);
  for (const t of tools as ChatToolInput[]) {
    if (t.handler !== undefined && typeof t.handler !== "function") throw invalidParameterError("tools[].handler", "a function", t.handler);
  }
  return [...(tools as ChatToolInput[])];
}

function checkMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages)) throw invalidParameterError("messages", "an array of chat messages", messages);
  return messages.map((m: unknown, i) => {
    if (!isObject(m) || !ROLES.includes(m.role as ChatRole) || typeof m.content !== "string") {
      throw invalidParameterError(`messages[${i}]`, `{role: ${ROLES.map((r) => `"${r}"`).join(" | ")}, content: string}`, m);
    }
    return structuredClone(m) as unknown as ChatMessage;
  });
}
