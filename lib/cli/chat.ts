// SPDX-License-Identifier: MIT
// `lfm2 chat`: a conversation with a model in the terminal, over ChatSession. Each line typed
// at the prompt is a user message; the reply streams to stdout, then a dim line of token counts
// on stderr shows what the turn evaluated, what it reused from earlier turns, and the speed.
// Lines starting with "/" are commands (/help). With stdin not a terminal, each input line is a
// message and the replies go to stdout one after the other, without prompt or escape codes.
//
// Ctrl-C: on a terminal, readline keeps stdin in raw mode from the first prompt to the end, so
// Ctrl-C always comes as a key (readline's 'SIGINT' event), never as a signal: during a reply it
// aborts the reply, at the prompt it behaves as in node's REPL. A real SIGINT (piped input, or
// one sent by another process) aborts a reply too; otherwise it ends the process (code 130).
import { basename } from "node:path";
import { createInterface, type Interface } from "node:readline";
import type { ReadStream, WriteStream } from "node:tty";
import type { ChatReply, ChatSendOptions, ChatSession } from "../chat/session.js";
import type { ChatMessage } from "../chat/types.js";
import { LfmError } from "../errors.js";
import type { Model } from "../model.js";
import { CHAT_DEFAULTS } from "../sampling.js";
import { numberArg, parseCommand, positionalArgs, SAMPLING_ARGS, samplingArgs, samplingHelp, shortUsage } from "./args.js";
import { loadFromArgs, MODEL_ARGS, modelArgs } from "./load.js";

export const CHAT_HELP = `usage: lfm2 chat MODEL.gguf [options]

A conversation with the model: type a message at the prompt, the reply streams as it is
generated, then a line of token counts on stderr: prompt tokens evaluated for this turn, tokens
reused from the earlier turns (not evaluated again), tokens generated and their speed, and how
much of the context the conversation fills. Lines starting with / are commands: /help lists
them (/reset, /save FILE, /load FILE, /history, /regenerate, /exit). Ctrl-C stops a reply (the
text so far is kept); at an empty prompt, press it twice to quit (exit code 130), or Ctrl-D.
With stdin not a terminal, each line of input is one message, the replies go to stdout one
after the other (each ending with a newline), and the chat ends at the end of the input.

options:
  --system TEXT      system prompt (kept by /reset)
  -n, --max-tokens N most tokens per reply (default: until the end of the turn or a full context)
${samplingHelp(CHAT_DEFAULTS, "a new one per reply, shown with the stats")}
  --ctx N            context size in tokens (default: min(4096, the model's context length))
  --threads N        CPU threads (default: physical cores)
  --device D         auto | cpu | cuda (default auto: the GPU when one is usable)
  --mmap             serve the weights from the file mapping instead of reading them in
  --load FILE        continue a conversation saved with /save (same model)
  -h, --help         this help

Defaults follow LiquidAI's recommendation for LFM2 chat: temperature ${CHAT_DEFAULTS.temperature}, top-k ${CHAT_DEFAULTS.topK},
repetition penalty ${CHAT_DEFAULTS.repeatPenalty} over the last ${CHAT_DEFAULTS.penaltyLastN} tokens (chat markup tokens are never penalised).

examples:
  lfm2 chat LFM2-1.2B-Q4_0.gguf
  lfm2 chat LFM2-1.2B-Q4_0.gguf --system "You are a terse assistant." --ctx 8192
  printf 'Hi!\\nWhat is C. elegans?\\n' | lfm2 chat LFM2-1.2B-Q4_0.gguf --temp 0 -n 200`;

const USAGE = shortUsage(CHAT_HELP, "chat");

const COMMANDS_HELP = `commands:
  /help          this list
  /reset         start a new conversation (the system prompt stays)
  /save FILE     write the conversation and its evaluated state to FILE
  /load FILE     continue a conversation written by /save (same model)
  /history       print the conversation
  /regenerate    generate the last reply again
  /exit, /quit   quit (also Ctrl-D at an empty prompt)
Ctrl-C stops a reply; at an empty prompt, twice quits. Start a message with // to send a line
that begins with /.`;

/** How the stats line names a stop reason. */
const STOPPED: Record<ChatReply["stopReason"], string> = {
  eog: "end of turn",
  stop: "stop text",
  maxTokens: "token limit",
  abort: "interrupted",
  contextFull: "context full",
  toolCalls: "tool calls",
};

/** The end of the input (Ctrl-D, or the end of piped input). */
const EOF = Symbol("eof");
/** Ctrl-C twice at an empty prompt. */
const QUIT = Symbol("quit");
type Input = string | typeof EOF | typeof QUIT;

/**
 * Input lines, queued as they come: a line typed (or pasted) during a reply is the next
 * message. Each source keeps its own way of reporting Ctrl-C during a reply.
 */
abstract class LineInput {
  #lines: Input[] = [];
  #ended = false;
  #waiting: ((r: Input) => void) | undefined;

  /** The next line; `prompt` is shown first when nothing is queued. */
  read(prompt: string): Promise<Input> {
    if (this.#lines.length > 0) return Promise.resolve(this.#lines.shift()!);
    if (this.#ended) return Promise.resolve(EOF);
    this.showPrompt(prompt);
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** True while {@link read} waits for a line. */
  protected get waiting(): boolean {
    return this.#waiting !== undefined;
  }

  protected deliver(r: Input): void {
    if (r === EOF) this.#ended = true;
    const w = this.#waiting;
    this.#waiting = undefined;
    if (w) w(r);
    else if (r !== EOF) this.#lines.push(r);
  }

  protected showPrompt(_prompt: string): void {}

  /** Until the returned function is called, `onInterrupt` runs on Ctrl-C. */
  abstract watch(onInterrupt: () => void): () => void;
  abstract close(): void;
}

/**
 * Lines from a terminal: one readline interface for the whole chat (line editing, history), in
 * raw mode throughout, so Ctrl-C always comes as readline's 'SIGINT' event: it stops a reply,
 * drops a line being typed, and at an empty prompt says how to quit, then quits.
 */
class TerminalInput extends LineInput {
  #rl: Interface;
  #output: WriteStream;
  #onInterrupt: (() => void) | undefined;
  /** The hint for a Ctrl-C at an empty prompt was shown: the next one quits. */
  #warned = false;
  /** Ctrl-C came after a line was entered, before its reply started: it stops that reply. */
  #early = false;

  constructor(input: ReadStream, output: WriteStream) {
    super();
    this.#output = output;
    this.#rl = createInterface({ input, output, terminal: true, historySize: 1000, removeHistoryDuplicates: true });
    this.#rl.on("line", (line: string) => {
      this.#warned = false;
      this.deliver(line);
    });
    this.#rl.on("close", () => this.deliver(EOF)); // Ctrl-D on an empty line
    this.#rl.on("SIGINT", () => this.#interrupt());
  }

  protected override showPrompt(prompt: string): void {
    this.#early = false;
    this.#rl.setPrompt(prompt);
    this.#rl.prompt();
  }

  #interrupt(): void {
    if (this.#onInterrupt) {
      this.#onInterrupt();
      return;
    }
    if (!this.waiting) {
      // Between a line and its reply (or during a command, which cannot be interrupted).
      this.#early = true;
      return;
    }
    // As node's REPL does: a line being typed is dropped; at an empty prompt the first Ctrl-C
    // says how to quit and the second one quits.
    const typed = this.#rl.line.length > 0;
    // Interface.clearLine (what the REPL uses): cursor to the end, a newline, the line emptied.
    (this.#rl as unknown as { clearLine(): void }).clearLine();
    if (typed) {
      this.#warned = false;
    } else if (this.#warned) {
      this.deliver(QUIT);
      return;
    } else {
      this.#warned = true;
      this.#output.write("(press Ctrl-C again or type /exit to quit)\n");
    }
    this.#rl.prompt();
  }

  watch(onInterrupt: () => void): () => void {
    this.#onInterrupt = onInterrupt;
    if (this.#early) onInterrupt();
    this.#early = false;
    return () => {
      this.#onInterrupt = undefined;
    };
  }

  close(): void {
    this.#rl.close(); // leaves raw mode
  }
}

/** Lines from a pipe or a file, read ahead; no prompt. Ctrl-C is a signal here (process 'SIGINT'). */
class PipeInput extends LineInput {
  #rl: Interface;

  constructor(input: NodeJS.ReadableStream) {
    super();
    this.#rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
    this.#rl.on("line", (line: string) => this.deliver(line));
    this.#rl.on("close", () => this.deliver(EOF));
  }

  watch(): () => void {
    return () => {};
  }

  close(): void {
    this.#rl.close();
  }
}

export async function chatCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    {
      help: { type: "boolean", short: "h" },
      system: { type: "string" },
      "max-tokens": { type: "string", short: "n" },
      ...SAMPLING_ARGS,
      ...MODEL_ARGS,
      load: { type: "string" },
    },
    USAGE,
  );
  if (values.help) {
    console.log(CHAT_HELP);
    return 0;
  }
  const [path] = positionalArgs(positionals, ["MODEL"], USAGE) as [string];
  const maxTokens = numberArg("-n", values["max-tokens"], USAGE, { min: 0, integer: true });
  const sampling = samplingArgs(values, USAGE);
  const loadArgs = modelArgs(values, USAGE);
  const ctx = loadArgs.ctx;
  const sampled = (sampling.temperature ?? CHAT_DEFAULTS.temperature) > 0;

  const { stdin, stdout, stderr } = process;
  const interactive = Boolean(stdin.isTTY && stdout.isTTY);
  const color = !process.env.NO_COLOR;
  const dim = stderr.isTTY && color ? (s: string) => `\x1b[2m${s}\x1b[22m` : (s: string) => s;
  const bold = stdout.isTTY && color ? (s: string) => `\x1b[1m${s}\x1b[22m` : (s: string) => s;
  const note = (s: string) => stderr.write(dim(s) + "\n");
  const fail = (err: unknown) => {
    const e = err as { code?: unknown; message?: unknown };
    const message = typeof e?.message === "string" ? e.message : String(err);
    stderr.write(`lfm2: ${typeof e?.code === "string" ? `${e.code}: ` : ""}${message}\n`);
  };

  // The reply being generated; a SIGINT aborts it. Without one (loading, piped input waiting
  // for a line), or for a second SIGINT, the process ends.
  let current: AbortController | undefined;
  const onSigint = () => {
    if (current && !current.signal.aborted) {
      current.abort();
      return;
    }
    stderr.write("\n");
    process.exit(130);
  };
  process.on("SIGINT", onSigint);
  // A reader that goes away (lfm2 chat ... | head: EPIPE) ends the chat quietly.
  let outputClosed = false;
  const onOutputError = () => {
    outputClosed = true;
    current?.abort();
  };
  stdout.on("error", onOutputError);

  let model: Model | undefined;
  let chat: ChatSession | undefined;
  let input: LineInput | undefined;
  try {
    model = await loadFromArgs(path, loadArgs);
    const session = model.createChat({
      ...sampling,
      ...(values.system !== undefined && { systemPrompt: values.system }),
      ...(ctx !== undefined && { contextSize: ctx }),
    });
    chat = session;
    if (values.load !== undefined) await session.load(values.load);
    const contextSize = session.sequence.contextSize;
    if (interactive) {
      const name = model.info.name || basename(path);
      note(`chatting with ${name} (context ${contextSize} tokens) · type /help for commands, /exit or Ctrl-D to quit`);
    }
    if (values.load !== undefined) note(`continuing the conversation of ${values.load} (${session.history.length} messages)`);
    const lines: LineInput = interactive ? new TerminalInput(stdin as ReadStream, stdout as WriteStream) : new PipeInput(stdin);
    input = lines;

    /** One reply (a send or a regeneration), streamed, then its stats line. */
    const reply = async (start: (o: ChatSendOptions) => Promise<ChatReply>) => {
      const controller = new AbortController();
      current = controller;
      const unwatch = lines.watch(() => controller.abort());
      let last = "";
      const onText = (text: string) => {
        if (outputClosed || text.length === 0) return;
        stdout.write(text);
        last = text;
      };
      let r: ChatReply;
      try {
        r = await start({ onText, signal: controller.signal, ...(maxTokens !== undefined && { maxTokens }) });
      } catch (err) {
        if (!(err instanceof LfmError)) throw err;
        if (last !== "" && !last.endsWith("\n") && !outputClosed) stdout.write("\n");
        fail(err);
        if (err.code === "ERR_LFM_CONTEXT_OVERFLOW") note("type /reset to start a new conversation");
        return;
      } finally {
        unwatch();
        current = undefined;
      }
      // Every reply ends a line: piped output is the replies, one after the other.
      if (!outputClosed && !last.endsWith("\n")) stdout.write("\n");
      if (r.stopReason === "abort" && !outputClosed) note("[stopped]");
      const t = r.tokens;
      const parts = [
        `${t.evaluated} new prompt token${t.evaluated === 1 ? "" : "s"}, ${t.reused} reused`,
        `${t.generated} generated, ${r.timings.tokensPerSecond > 0 ? r.timings.tokensPerSecond.toFixed(1) : "-"} t/s`,
        `context ${t.context}/${contextSize}`,
        `stopped: ${STOPPED[r.stopReason]}`,
      ];
      if (sampled) parts.push(`seed ${r.seed}`);
      note(`[${parts.join(" · ")}]`);
      if (r.stopReason === "contextFull") note("the context is full: type /reset to start a new conversation (or use a larger --ctx)");
    };

    /** A /command; true to quit. */
    const command = async (line: string): Promise<boolean> => {
      const name = /^\/(\S*)/.exec(line)![1]!;
      const arg = unquote(line.slice(1 + name.length).trim());
      const needFile = () => {
        if (arg) return true;
        note(`/${name} needs a file name: /${name} FILE`);
        return false;
      };
      try {
        switch (name) {
          case "exit":
          case "quit":
            return true;
          case "help":
          case "?":
            stdout.write(COMMANDS_HELP + "\n");
            break;
          case "reset":
            session.reset();
            note(session.systemPrompt !== undefined ? "new conversation (system prompt kept)" : "new conversation");
            break;
          case "save":
            if (!needFile()) break;
            await session.save(arg);
            note(`saved the conversation to ${arg} (${session.history.length} messages)`);
            break;
          case "load":
            if (!needFile()) break;
            await session.load(arg);
            note(`loaded the conversation of ${arg} (${session.history.length} messages)`);
            break;
          case "history":
            stdout.write(formatHistory(session.history, bold));
            break;
          case "regenerate":
            await reply((o) => session.regenerate(o));
            break;
          default:
            note(`unknown command /${name}: type /help for the commands`);
        }
      } catch (err) {
        // A bad file name or a file of another model: one line, and the chat goes on.
        if (!(err instanceof Error)) throw err;
        fail(err);
      }
      return false;
    };

    for (;;) {
      if (outputClosed) return 0;
      const line = await lines.read("> ");
      if (line === EOF) {
        if (interactive) stdout.write("\n"); // Ctrl-D leaves the cursor after the prompt
        return 0;
      }
      if (line === QUIT) return 130;
      if (line.trim() === "") continue;
      if (line.startsWith("/") && !line.startsWith("//")) {
        if (await command(line)) return 0;
        continue;
      }
      const text = line.startsWith("//") ? line.slice(1) : line;
      await reply((o) => session.send(text, o));
    }
  } finally {
    process.off("SIGINT", onSigint);
    stdout.off("error", onOutputError);
    input?.close();
    chat?.dispose();
    model?.dispose();
  }
}

/** A file name typed at the prompt, without the quotes around it. */
function unquote(s: string): string {
  const m = /^(["'])(.*)\1$/.exec(s);
  return m ? m[2]! : s;
}

/** The conversation, one "role: content" paragraph per message. */
function formatHistory(history: ChatMessage[], bold: (s: string) => string): string {
  if (history.length === 0) return "(no messages yet)\n";
  return history
    .map((m) => {
      const role = m.role === "tool" && m.name ? `tool ${m.name}` : m.role;
      const calls = (m.toolCalls ?? []).map((c) => `\n[tool call] ${c.raw}`).join("");
      return `${bold(`${role}:`)} ${m.content}${calls}\n`;
    })
    .join("");
}
