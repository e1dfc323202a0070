// `lfm2 chat` driven as a user would: the built CLI (dist/cli.js) spawned on tiny models, with
// piped stdin (compared with the library's ChatSession) and through a pseudo-terminal (util-linux
// script(1)) for the prompt, the commands and Ctrl-C.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type ChatSendOptions, type Model } from "../../lib/index.js";
import { scratchDir, tinyModel } from "../helpers/models.js";

/** Runs the CLI to completion with `input` on stdin. */
function lfm2(args: string[], input = "") {
  const r = spawnSync(process.execPath, ["dist/cli.js", ...args], { input, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A stack trace line, which no error output should contain. */
const STACK = /^\s+at /m;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
/** Terminal output as text: escape sequences removed, CR LF as LF. */
const plain = (s: string) => s.replace(ANSI, "").replace(/\r+\n/g, "\n");

interface Stats {
  evaluated: number;
  reused: number;
  generated: number;
  rate: string;
  context: number;
  contextSize: number;
  stopped: string;
  seed: string | undefined;
}

/** The stats lines of lfm2 chat, in order. */
function statsLines(text: string): Stats[] {
  const re = /^\[(\d+) new prompt tokens?, (\d+) reused · (\d+) generated, (\S+) t\/s · context (\d+)\/(\d+) · stopped: ([a-z ]+)(?: · seed (\d+))?\]$/gm;
  return [...text.matchAll(re)].map((m) => ({
    evaluated: Number(m[1]),
    reused: Number(m[2]),
    generated: Number(m[3]),
    rate: m[4]!,
    context: Number(m[5]),
    contextSize: Number(m[6]),
    stopped: m[7]!,
    seed: m[8],
  }));
}

const STOPPED: Record<string, string> = { eog: "end of turn", maxTokens: "token limit", contextFull: "context full", abort: "interrupted" };

const dense = () => tinyModel("lfm2", "Q4_0");
/** A long context: greedy without penalty loops on this model instead of ending its turn. */
const long = () => tinyModel("lfm2", "Q4_0", { config: { contextLength: 65536 } });
const LONG_ARGS = ["--temp", "0", "--repeat-penalty", "1", "--ctx", "65536", "-n", "30000", "--threads", "1", "--device", "cpu"];

let model: Model;
beforeAll(async () => {
  model = await loadModel(dense(), { threads: 1, device: "cpu" });
});
afterAll(() => model.dispose());

/** What the library's ChatSession replies to `lines`: the streamed text and the counts of each turn. */
async function library(m: Model, lines: string[], chatOptions: Parameters<Model["createChat"]>[0], send: ChatSendOptions) {
  const chat = m.createChat(chatOptions);
  const turns = [];
  for (const line of lines) {
    let text = "";
    const reply = await chat.send(line, { ...send, onText: (t) => (text += t) });
    turns.push({ text, reply });
  }
  chat.dispose();
  return turns;
}

/** The piped output of replies: each one ends a line. */
const asOutput = (texts: string[]) => texts.map((t) => (t.endsWith("\n") ? t : t + "\n")).join("");

describe("lfm2 chat, piped stdin", () => {
  it("one reply per line, the same text and token counts as ChatSession; later turns evaluate only the new turn", async () => {
    const lines = ["Hello", "How are you?", "Tell me a story"];
    const r = lfm2(["chat", dense(), "--temp", "0", "-n", "12", "--threads", "1", "--device", "cpu"], lines.join("\n") + "\n");
    expect(r.stderr).not.toMatch(STACK);
    expect(r.status).toBe(0);
    const want = await library(model, lines, { temperature: 0 }, { maxTokens: 12 });
    expect(want.every((t) => t.text.length > 0)).toBe(true);
    expect(r.stdout).toBe(asOutput(want.map((t) => t.text)));
    const stats = statsLines(r.stderr);
    expect(stats).toHaveLength(3);
    stats.forEach((s, i) => {
      const { tokens, stopReason } = want[i]!.reply;
      expect(s).toMatchObject({ ...tokens, contextSize: 4096, stopped: STOPPED[stopReason], seed: undefined });
      expect(s.reused + s.evaluated + s.generated).toBe(s.context);
      expect(Number(s.rate)).toBeGreaterThan(0);
    });
    expect(stats[0]!.reused).toBe(0);
    stats.slice(1).forEach((s, i) => {
      // Earlier turns stay in the context: only the new user turn (and the last reply's final
      // token, sampled but not evaluated yet) is evaluated.
      const turn = `<|im_end|>\n<|im_start|>user\n${lines[i + 1]}<|im_end|>\n<|im_start|>assistant\n`;
      expect(s.reused).toBe(stats[i]!.context - 1);
      expect(s.evaluated).toBeLessThanOrEqual(model.tokenize(turn, { addBos: false }).length + 1);
      expect(s.evaluated).toBeLessThan(s.reused);
    });
    // Not a terminal: no banner, no prompt, no escape codes, no spinner.
    expect(r.stdout).not.toMatch(/^> /m);
    expect(r.stderr).not.toMatch(/\x1b\[|\r|\/help/);
    expect(r.stderr).toMatch(/^loaded model-\d+-lfm2-Q4_0\.gguf in /);
  });

  it("--system, /save and --load: a new process continues the saved conversation where it stopped", async () => {
    const file = join(scratchDir(), "chat-piped.lfm2chat");
    const args = ["chat", dense(), "--system", "Be brief.", "--temp", "0", "-n", "10", "--threads", "1", "--device", "cpu"];
    const first = lfm2(args, `Hello\n/save ${file}\n`);
    expect(first.status).toBe(0);
    expect(first.stderr).toContain(`saved the conversation to ${file} (3 messages)`);
    const second = lfm2([...args, "--load", file], "/history\nHow are you?\n");
    expect(second.stderr).not.toMatch(STACK);
    expect(second.status).toBe(0);
    expect(second.stderr).toContain(`continuing the conversation of ${file} (3 messages)`);
    const want = await library(model, ["Hello", "How are you?"], { systemPrompt: "Be brief.", temperature: 0 }, { maxTokens: 10 });
    const history = `system: Be brief.\nuser: Hello\nassistant: ${want[0]!.reply.messages.at(-1)!.content}\n`;
    expect(second.stdout).toBe(history + asOutput([want[1]!.text]));
    const [s] = statsLines(second.stderr);
    // The loaded state is reused: only the new turn is evaluated.
    expect(s!.reused).toBeGreaterThan(0);
    expect(s!.evaluated).toBeLessThan(s!.reused);
    expect(s!.context).toBe(want[1]!.reply.tokens.context);
  });

  it("a full context: the reply stops, the next message fails with one line and a hint, /reset goes on; commands", () => {
    const input = ["Hello", "Hi there", "/reset", "//slash", "/history", "/bogus", "/load /nonexistent/chat.bin", "/save", ""].join("\n");
    const r = lfm2(["chat", dense(), "--system", "Be brief.", "--ctx", "64", "--temp", "0", "--device", "cpu"], input);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.status).toBe(0);
    const stats = statsLines(r.stderr);
    expect(stats.map((s) => [s.stopped, s.context, s.contextSize])).toEqual([
      ["context full", 64, 64],
      ["context full", 64, 64],
    ]);
    const err = r.stderr.split("\n");
    const overflow = err.findIndex((l) => l.startsWith("lfm2: ERR_LFM_CONTEXT_OVERFLOW: "));
    expect(overflow).toBeGreaterThan(0);
    expect(err[overflow + 1]).toBe("type /reset to start a new conversation");
    expect(err).toContain("new conversation (system prompt kept)");
    expect(err).toContain("unknown command /bogus: type /help for the commands");
    expect(err).toContain("/save needs a file name: /save FILE");
    expect(r.stderr).toMatch(/^lfm2: ERR_LFM_FILE_NOT_FOUND: .*\/nonexistent\/chat\.bin/m);
    // "//" sends a line starting with "/"; after /reset only the system prompt was left.
    expect(r.stdout).toMatch(/^system: Be brief\.\nuser: \/slash\nassistant: /m);
    expect(r.stdout).not.toMatch(/^user: Hello$/m);
  });

  it("SIGINT stops the reply being generated, keeps its text, and the chat goes on; at rest it exits 130", async () => {
    const cli = spawn(process.execPath, ["dist/cli.js", "chat", long(), ...LONG_ARGS], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    cli.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    cli.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const guard = setTimeout(() => cli.kill("SIGKILL"), 60_000); // a hang shows as SIGKILL below
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => cli.on("close", (c, s) => resolve([c, s])));
    cli.stdin.write("Hello\n");
    await until(() => stdout.length > 0, () => stderr);
    cli.kill("SIGINT");
    await until(() => statsLines(stderr).length === 1, () => stderr);
    cli.stdin.end("/history\n");
    const [code, signal] = await closed;
    clearTimeout(guard);
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(stderr).not.toMatch(STACK);
    expect(stderr).toMatch(/^\[stopped\]$/m);
    const [s] = statsLines(stderr);
    expect(s!.stopped).toBe("interrupted");
    expect(s!.generated).toBeGreaterThan(0);
    expect(s!.generated).toBeLessThan(30000);
    // The partial reply is printed, and kept in the conversation.
    const [printed, kept] = stdout.split("user: Hello\nassistant: ") as [string, string];
    expect(kept).toBeDefined();
    const partial = kept.slice(0, -1);
    expect(partial.length).toBeGreaterThan(0);
    expect(printed).toBe(partial.endsWith("\n") ? partial : partial + "\n");

    const idle = spawn(process.execPath, ["dist/cli.js", "chat", dense(), "--device", "cpu"], { stdio: ["pipe", "pipe", "pipe"] });
    let idleErr = "";
    idle.stderr.setEncoding("utf8").on("data", (t: string) => (idleErr += t));
    const idleClosed = new Promise<number | null>((resolve) => idle.on("close", (c) => resolve(c)));
    await until(() => idleErr.startsWith("loaded "), () => idleErr);
    idle.kill("SIGINT");
    expect(await idleClosed).toBe(130);
  });
});

/** Polls `ready` every 20 ms; fails after `ms` with what `context` returns. */
async function until(ready: () => boolean, context: () => string, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!ready()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out; output so far (the end):\n${context().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// util-linux script(1) gives the command a pseudo-terminal: stdin, stdout and stderr are a
// terminal, as when a user runs lfm2 chat.
const hasScript = process.platform === "linux" && spawnSync("script", ["--version"]).status === 0;

/** lfm2 chat on a pseudo-terminal: type into it, wait for its output. */
class Terminal {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  #raw = "";
  /** Where the output of the last thing typed starts. */
  #mark = 0;

  constructor(args: string[]) {
    const cmd = [process.execPath, "dist/cli.js", "chat", ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    this.child = spawn("script", ["-qfec", cmd, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.setEncoding("utf8").on("data", (s: string) => (this.#raw += s));
    this.child.stderr.setEncoding("utf8").on("data", (s: string) => (this.#raw += s));
    this.exited = new Promise((resolve) => this.child.on("close", (c) => resolve(c)));
  }

  /** Everything shown so far, as text. */
  get text(): string {
    return plain(this.#raw);
  }

  /** The output as it came, escape sequences included. */
  get raw(): string {
    return this.#raw;
  }

  /** Where the output of the last {@link type} starts. */
  get mark(): number {
    return this.#mark;
  }

  /** What was shown since `from` (default: since the last {@link type}). */
  since(from = this.#mark): string {
    return plain(this.#raw.slice(from));
  }

  type(keys: string): void {
    this.#mark = this.#raw.length;
    this.child.stdin.write(keys);
  }

  /** Waits until the output since `from` (default: the last {@link type}) matches; returns the match. */
  async expect(re: RegExp, from = this.#mark, ms = 30_000): Promise<RegExpExecArray> {
    let m: RegExpExecArray | null = null;
    await until(() => (m = re.exec(this.since(from))) !== null, () => `waiting for ${re} in:\n${JSON.stringify(this.since(from))}`, ms);
    return m!;
  }

  /** Waits for the prompt at the end of the output. */
  prompt(): Promise<RegExpExecArray> {
    return this.expect(/(^|\n)> $/);
  }

  async exit(): Promise<number | null> {
    const guard = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    const code = await this.exited;
    clearTimeout(guard);
    return code;
  }
}

describe.skipIf(!hasScript)("lfm2 chat on a terminal", () => {
  it("loading shows a progress bar (percentage and bytes), erased before the loaded line", async () => {
    const big = tinyModel("lfm2", "F32", { config: { hidden: 512, ffn: 1536, nLayers: 5 } });
    const t = new Terminal([big, "--threads", "1", "--device", "cpu"]);
    try {
      await t.prompt();
      expect(t.raw).toMatch(/loading model-\d+-lfm2-F32\.gguf ▕[█▏▎▍▌▋▊▉ ]{24}▏ +\d+% [\d.]+ (B|KiB|MiB)\/[\d.]+ MiB [\d.]+ s/);
      expect(t.text).toMatch(/^loaded model-\d+-lfm2-F32\.gguf in /m);
      t.type("/exit\r");
      expect(await t.exit()).toBe(0);
    } finally {
      t.child.kill("SIGKILL");
    }
  });

  it("prompt, streamed reply and stats; /save, /reset, /load, /history; Ctrl-C clears a line, twice at the prompt exits 130", async () => {
    const file = join(scratchDir(), "chat-tty.lfm2chat");
    const t = new Terminal([dense(), "--temp", "0", "-n", "8", "--threads", "1", "--device", "cpu"]);
    try {
      await t.prompt();
      expect(t.text).toMatch(/^chatting with LFM2 synthetic \(context 4096 tokens\) · type \/help for commands/m);
      expect(t.text).toMatch(/loaded model-\d+-lfm2-Q4_0\.gguf in /);

      const [want, again] = await library(model, ["Hello", "Again"], { temperature: 0 }, { maxTokens: 8 });
      t.type("Hello\r");
      await t.expect(/\n\[[^\n]*stopped: [^\n]*\]\n> $/);
      const [s1] = statsLines(t.since());
      expect(s1).toMatchObject({ ...want!.reply.tokens, stopped: STOPPED[want!.reply.stopReason] });
      expect(t.since().startsWith("Hello\n")).toBe(true); // the typed line, echoed by readline
      // The reply streamed between the typed line and the stats (the random text may hold
      // control characters a terminal drops: compare its printable part).
      const printable = (s: string) => s.replace(/[^\p{L}\p{N}\p{P}\p{S} ]/gu, "");
      expect(printable(t.since().slice("Hello\n".length, t.since().indexOf("\n[")))).toBe(printable(want!.text));
      // On a terminal the stats line is dim.
      expect(t.raw).toMatch(/\x1b\[2m\[\d+ new prompt tokens/);

      t.type(`/save ${file}\r`);
      await t.expect(new RegExp(`saved the conversation to ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\(2 messages\\)\\n> $`));
      t.type("/reset\r");
      await t.expect(/^new conversation\n> $/m);
      t.type("/history\r");
      await t.expect(/^\(no messages yet\)\n> $/m);
      t.type(`/load ${file}\r`);
      await t.expect(/loaded the conversation of .* \(2 messages\)\n> $/);
      t.type("/history\r");
      await t.expect(/^user: Hello\nassistant: [^]*\n> $/m);
      // The restored conversation goes on: its state is reused, only the new turn is evaluated.
      t.type("Again\r");
      await t.expect(/\n\[[^\n]*stopped: [^\n]*\]\n> $/);
      const [s2] = statsLines(t.since());
      expect(s2!.reused).toBeGreaterThan(0);
      expect(s2!.evaluated).toBeLessThan(s2!.reused);
      expect(s2!.context).toBe(again!.reply.tokens.context);

      t.type("/nonsense\r");
      await t.expect(/unknown command \/nonsense: type \/help for the commands\n> $/);
      t.type("/help\r");
      await t.expect(/\/regenerate[^]*\/exit, \/quit[^]*\n> $/);

      // Ctrl-C drops a line being typed (no hint), then twice at the empty prompt quits.
      t.type("never sent\x03");
      await t.expect(/never sent\n> $/);
      expect(t.since()).not.toMatch(/press Ctrl-C again/);
      t.type("\x03");
      await t.expect(/^\(press Ctrl-C again or type \/exit to quit\)\n> $/m);
      t.type("\x03");
      expect(await t.exit()).toBe(130);
      expect(t.text).not.toMatch(STACK);
      expect(statsLines(t.text)).toHaveLength(2); // "never sent" was not sent
    } finally {
      t.child.kill("SIGKILL");
    }
  });

  it("Ctrl-C stops a streaming reply ([stopped]), the prompt comes back, the next message works; /regenerate; /exit exits 0", async () => {
    // The reply to "Hello" would not end: greedy without penalty loops on this model.
    const m = await loadModel(long(), { threads: 1, device: "cpu" });
    try {
      const [probe] = await library(m, ["Hello"], { temperature: 0, repeatPenalty: 1, contextSize: 65536 }, { maxTokens: 2000 });
      expect(probe!.reply.stopReason, "the test model's greedy reply to Hello ends early").toBe("maxTokens");
    } finally {
      m.dispose();
    }
    const t = new Terminal([long(), ...LONG_ARGS]);
    try {
      await t.prompt();
      t.type("Hello\r");
      await t.expect(/^Hello\n[^]{8}/);
      t.type("\x03");
      await t.expect(/^\[stopped\]\n\[[^\n]*stopped: interrupted\]\n> $/m);
      const [s1] = statsLines(t.text);
      expect(s1!.generated).toBeGreaterThan(0);
      expect(s1!.generated).toBeLessThan(30000);
      expect(s1!.reused).toBe(0);

      // The partial reply is kept; the next message continues after it.
      t.type("/history\r");
      await t.expect(/^user: Hello\nassistant: [^\n]+/m);
      await t.prompt();
      t.type("Hi\r");
      const hi = t.mark;
      await t.expect(/^Hi\n[^]/);
      t.type("\x03"); // it may loop too; if it has ended, this Ctrl-C only shows the hint
      await t.expect(/\n\[[^\n]*stopped: [^\n]*\]\n[^]*> $/, hi);
      const [s2] = statsLines(t.since(hi));
      expect(s2!.reused).toBeGreaterThanOrEqual(s1!.context - 1);
      expect(s2!.evaluated).toBeLessThan(20);

      // /regenerate: the last reply again, from the checkpoint at the end of its prompt.
      t.type("/regenerate\r");
      const regenerate = t.mark;
      await t.expect(/^\/regenerate\n[^]/);
      t.type("\x03");
      await t.expect(/\n\[[^\n]*stopped: [^\n]*\]\n[^]*> $/, regenerate);
      const [s3] = statsLines(t.since(regenerate));
      expect(s3!.evaluated).toBeLessThanOrEqual(1);
      expect(s3!.reused).toBe(s2!.reused + s2!.evaluated);

      t.type("/exit\r");
      expect(await t.exit()).toBe(0);
      expect(t.text).not.toMatch(STACK);
    } finally {
      t.child.kill("SIGKILL");
    }
  });

  it("Ctrl-D at the prompt ends the chat, exit code 0", async () => {
    const t = new Terminal([dense(), "--device", "cpu"]);
    try {
      await t.prompt();
      t.type("\x04");
      expect(await t.exit()).toBe(0);
    } finally {
      t.child.kill("SIGKILL");
    }
  });
});

describe("lfm2 chat, help and errors", () => {
  it("--help: usage, the options with the chat sampling defaults, the commands", () => {
    const r = lfm2(["chat", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith("usage: lfm2 chat MODEL.gguf [options]\n")).toBe(true);
    for (const o of [
      "--system TEXT", "-n, --max-tokens N", "--temp T", "--top-k K", "--top-p P", "--min-p P", "--repeat-penalty R", "--repeat-last-n N",
      "--presence-penalty P", "--frequency-penalty F", "--seed S", "--ctx N", "--threads N", "--device D", "--mmap", "--load FILE", "-h, --help",
    ]) {
      expect(r.stdout).toContain(o);
    }
    expect(r.stdout).toMatch(/temperature, 0 = greedy \(default 0\.1\)/);
    expect(r.stdout).toMatch(/keep the K most likely tokens, 0 = off \(default 50\)/);
    expect(r.stdout).toMatch(/nucleus sampling, 1 = off \(default 1\)/);
    expect(r.stdout).toMatch(/--repeat-penalty R [^\n]*\n[^\n]*\(default 1\.05\)/);
    expect(r.stdout).toMatch(/last 64 tokens/);
    for (const c of ["/reset", "/save FILE", "/load FILE", "/history", "/regenerate", "/exit"]) expect(r.stdout).toContain(c);
    expect(r.stdout).toMatch(/^examples:\n {2}lfm2 chat /m);
    expect(lfm2(["help", "chat"]).stdout).toBe(r.stdout);
  });

  it("bad usage: one line and the usage on stderr, exit code 2", () => {
    const cases: [string[], RegExp][] = [
      [["chat", dense(), "--bogus"], /^lfm2 chat: Unknown option '--bogus'$/],
      [["chat"], /^lfm2 chat: missing MODEL$/],
      [["chat", dense(), "--temp", "hot"], /^lfm2 chat: --temp expects a number in \[0, 100\], got "hot"$/],
      [["chat", dense(), "-n", "1.5"], /^lfm2 chat: -n expects an integer >= 0, got "1\.5"$/],
      [["chat", dense(), "--system"], /^lfm2 chat: Option '--system <value>' argument missing$/],
    ];
    for (const [args, message] of cases) {
      const r = lfm2(args);
      const what = args.join(" ");
      expect(r.status, what).toBe(2);
      expect(r.stdout, what).toBe("");
      expect(r.stderr.split("\n"), what).toEqual([expect.stringMatching(message), "usage: lfm2 chat MODEL.gguf [options]", 'run "lfm2 chat --help" for the options', ""]);
    }
  });

  it("engine errors: one ERR_LFM_ line, exit code 1, no stack trace", () => {
    const missing = lfm2(["chat", "/nonexistent/model.gguf"], "Hello\n");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe("lfm2: ERR_LFM_FILE_NOT_FOUND: [load] model file not found: /nonexistent/model.gguf\n");
    expect(missing.stdout).toBe("");
    const load = lfm2(["chat", dense(), "--load", "/nonexistent/chat.bin", "--device", "cpu"], "Hello\n");
    expect(load.status).toBe(1);
    expect(load.stderr).toMatch(/^lfm2: ERR_LFM_FILE_NOT_FOUND: .*\/nonexistent\/chat\.bin/m);
    expect(load.stderr).not.toMatch(STACK);
    const ctx = lfm2(["chat", dense(), "--ctx", "5000", "--device", "cpu"]);
    expect(ctx.status).toBe(1);
    expect(ctx.stderr).toMatch(/^lfm2: ERR_LFM_INVALID_ARG: --ctx 5000 exceeds the model's context length \(4096 tokens\)$/m);
  });
});
