// The `lfm2` command's run, info and tokenize subcommands, driven as a user would: the built CLI
// (dist/cli.js) spawned on tiny models, its output compared with the library's.
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../lib/index.js";
import { native } from "../../lib/native.js";
import { scratchDir, tinyConfig, tinyModel } from "../helpers/models.js";

/** Runs the CLI to completion. */
function lfm2(args: string[]) {
  const r = spawnSync(process.execPath, ["dist/cli.js", ...args], { encoding: "utf8", timeout: 180_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A stack trace line, which no error output should contain. */
const STACK = /^\s+at /m;

const chat = (prompt: string) => `<|im_start|>user\n${prompt}<|im_end|>\n<|im_start|>assistant\n`;

/** The stats line of `lfm2 run` (stderr). */
function stats(stderr: string) {
  const m = /^prompt (\d+) tokens, (\S+) t\/s \| generated (\d+) tokens?, (\S+) t\/s \| stopped: ([a-z ]+)(?: \| seed (\d+))?$/m.exec(stderr);
  if (!m) throw new Error(`no stats line in:\n${stderr}`);
  return { prompt: Number(m[1]), prefill: m[2]!, generated: Number(m[3]), decode: m[4]!, stopped: m[5]!, seed: m[6] };
}

const dense = () => tinyModel("lfm2", "Q4_0");

/**
 * What lfm2 run samples with unless told otherwise (LiquidAI's recommendation for LFM2 chat),
 * written out: Sequence.generate's own defaults are llama.cpp's, so the library side of each
 * comparison gets all of them explicitly.
 */
const RUN_SAMPLING = {
  temperature: 0.1, topK: 50, topP: 1, minP: 0,
  repeatPenalty: 1.05, presencePenalty: 0, frequencyPenalty: 0, penaltyLastN: 64,
} as const;
const moe = () => tinyModel("lfm2moe", "Q8_0");

describe("lfm2 run", () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(dense(), { threads: 1, device: "cpu" });
  });
  afterAll(() => model.dispose());

  /** What the library generates from the same tokens. */
  async function library(prompt: number[], options: Parameters<ReturnType<Model["createSequence"]>["generate"]>[1]) {
    const seq = model.createSequence();
    let text = "";
    let count = 0;
    for await (const t of seq.generate(prompt, options)) {
      text += t.text;
      count++;
    }
    seq.dispose();
    return { text, count };
  }

  it("greedy: prints what generate() gives for the prompt in the chat format, then the stats line", async () => {
    const r = lfm2(["run", dense(), "-p", "Hello there", "-n", "24", "--temp", "0", "--threads", "1", "--device", "cpu"]);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.status).toBe(0);
    const tokens = model.tokenize(chat("Hello there"));
    expect(tokens[0]).toBe(model.info.bosId);
    const want = await library(tokens, { ...RUN_SAMPLING, maxTokens: 24, temperature: 0 });
    expect(want.text.length).toBeGreaterThan(0);
    expect(r.stdout).toBe(want.text);
    const s = stats(r.stderr);
    expect(s).toMatchObject({ prompt: tokens.length, generated: want.count, seed: undefined });
    expect(s.stopped).toBe(want.count === 24 ? "token limit" : "end of generation");
    expect(Number(s.prefill)).toBeGreaterThan(0);
    expect(Number(s.decode)).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/^loaded model-\d+-lfm2-Q4_0\.gguf in \d+\.\d\d s \(cpu, \w+, 1 thread\)$/m);
    // Not a terminal: no spinner, no escape codes.
    expect(r.stderr).not.toMatch(/\r|\x1b\[/);
  });

  it("--raw evaluates the text as it is; -n limits the tokens", async () => {
    const r = lfm2(["run", dense(), "-p", "Once upon a time", "--raw", "-n", "5", "--temp", "0", "--threads", "1", "--device", "cpu"]);
    expect(r.status).toBe(0);
    const tokens = model.tokenize("Once upon a time");
    const want = await library(tokens, { ...RUN_SAMPLING, maxTokens: 5, temperature: 0 });
    expect(want.count).toBe(5);
    expect(r.stdout).toBe(want.text);
    expect(stats(r.stderr)).toMatchObject({ prompt: tokens.length, generated: 5, stopped: "token limit" });
  });

  it("samples with LiquidAI's defaults (temperature 0.1, top-k 50, repetition penalty 1.05) and the given seed", async () => {
    const args = ["run", dense(), "-p", "Tell me a story", "-n", "16", "--seed", "1234", "--threads", "1", "--device", "cpu"];
    const r = lfm2(args);
    expect(r.status).toBe(0);
    const tokens = model.tokenize(chat("Tell me a story"));
    const want = await library(tokens, { ...RUN_SAMPLING, maxTokens: 16, seed: 1234 });
    expect(r.stdout).toBe(want.text);
    expect(stats(r.stderr)).toMatchObject({ generated: want.count, seed: "1234" });
    // Explicit sampling options pass through.
    const hot = lfm2([...args, "--temp", "1.5", "--top-k", "0", "--top-p", "0.9", "--min-p", "0"]);
    expect(hot.status).toBe(0);
    const wantHot = await library(tokens, { ...RUN_SAMPLING, maxTokens: 16, temperature: 1.5, topK: 0, topP: 0.9, minP: 0, seed: 1234 });
    expect(hot.stdout).toBe(wantHot.text);
  });

  it("passes the penalty options: --repeat-penalty, --repeat-last-n, --presence-penalty, --frequency-penalty", async () => {
    const base = ["run", dense(), "-p", "Once upon a time", "--raw", "-n", "24", "--temp", "0", "--threads", "1", "--device", "cpu"];
    const tokens = model.tokenize("Once upon a time");
    const plain = lfm2([...base, "--repeat-penalty", "1"]);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toBe((await library(tokens, { ...RUN_SAMPLING, maxTokens: 24, temperature: 0, repeatPenalty: 1 })).text);
    const flags = ["--repeat-penalty", "1.5", "--repeat-last-n", "16", "--presence-penalty", "0.5", "--frequency-penalty", "0.2"];
    const penalised = lfm2([...base, ...flags]);
    expect(penalised.status).toBe(0);
    const want = await library(tokens, {
      ...RUN_SAMPLING, maxTokens: 24, temperature: 0, repeatPenalty: 1.5, penaltyLastN: 16, presencePenalty: 0.5, frequencyPenalty: 0.2,
    });
    expect(penalised.stdout).toBe(want.text);
    // Greedy on the random model repeats itself; the penalties change what it picks.
    expect(penalised.stdout).not.toBe(plain.stdout);
  });

  it("stops at a full context", () => {
    const r = lfm2(["run", dense(), "-p", "Once upon a time", "--raw", "--ctx", "12", "--temp", "0", "--device", "cpu"]);
    expect(r.status).toBe(0);
    const s = stats(r.stderr);
    expect(s.stopped).toBe("context full");
    expect(s.prompt + s.generated).toBe(12);
  });

  it("Ctrl-C stops the generation: the partial output and the stats stay, exit code 130, no stack trace", async () => {
    const path = tinyModel("lfm2", "Q4_0", { config: { contextLength: 65536 } });
    const cli = spawn(
      process.execPath,
      ["dist/cli.js", "run", path, "-p", "Once upon a time", "--raw", "-n", "100000", "--ctx", "65536", "--temp", "0", "--repeat-penalty", "1", "--device", "cpu"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    let sent = false;
    cli.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    cli.stdout.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
      if (!sent) {
        sent = true;
        cli.kill("SIGINT");
      }
    });
    const guard = setTimeout(() => cli.kill("SIGKILL"), 120_000); // a hang shows as SIGKILL below
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => cli.on("close", (c, s) => resolve([c, s])));
    clearTimeout(guard);
    expect(sent).toBe(true);
    expect(signal).toBeNull();
    expect(code).toBe(130);
    expect(stdout.length).toBeGreaterThan(0);
    expect(stderr).not.toMatch(STACK);
    const s = stats(stderr);
    expect(s.stopped).toBe("interrupted");
    expect(s.generated).toBeGreaterThan(0);
    expect(s.generated).toBeLessThan(100_000);
    // What was printed is the start of the uninterrupted greedy text.
    const full = lfm2(["run", path, "-p", "Once upon a time", "--raw", "-n", String(s.generated), "--temp", "0", "--repeat-penalty", "1", "--device", "cpu"]);
    expect(full.stdout.startsWith(stdout) || stdout.startsWith(full.stdout)).toBe(true);
  });

  // util-linux script(1) gives the command a terminal: the spinner is drawn, then erased.
  const hasScript = process.platform === "linux" && spawnSync("script", ["--version"]).status === 0;
  it.skipIf(!hasScript)("shows a spinner, then the progress bar, while loading when stderr is a terminal", () => {
    const cmd = [process.execPath, "dist/cli.js", "run", dense(), "-p", "Hi", "-n", "2", "--temp", "0", "--device", "cpu"]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(" ");
    const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8", timeout: 180_000 });
    expect(r.status).toBe(0);
    // A file under one read chunk: the spinner, then the full bar once loadModel reports 1, erased.
    expect(r.stdout).toMatch(
      /\r\x1b\[K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] loading model-\d+-lfm2-Q4_0\.gguf \d+\.\d s(\r\x1b\[K[^\r]*)*\r\x1b\[Kloading model-\d+-lfm2-Q4_0\.gguf ▕█{24}▏ 100% [\d.]+ KiB\/[\d.]+ KiB \d+\.\d s\r\x1b\[Kloaded /,
    );
    expect(r.stdout).toMatch(/stopped: (token limit|end of generation)/);
  });

  it("runs a MoE model", () => {
    const r = lfm2(["run", moe(), "-p", "Hi", "-n", "4", "--temp", "0", "--device", "cpu"]);
    expect(r.status).toBe(0);
    expect(stats(r.stderr).generated).toBeLessThanOrEqual(4);
  });
});

describe("lfm2 info", () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(dense(), { threads: 1, device: "cpu" });
  });
  afterAll(() => model.dispose());

  /** KV cache and conv state of the tiny shape, from its config. */
  function expectedState(arch: "lfm2" | "lfm2moe", ctx: number) {
    const c = tinyConfig(arch);
    const attention = c.attnLayers.length;
    const conv = c.nLayers - attention;
    const headDim = c.hidden / c.nHeads;
    return { kvCache: attention * 2 * ctx * c.nKvHeads * headDim * 4, convState: conv * (3 - 1) * c.hidden * 4 };
  }

  it("--json: shape, layer pattern, tensors and memory, checked against the model and its sequence state", async () => {
    const r = lfm2(["info", dense(), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    const c = tinyConfig("lfm2");
    const i = model.info;
    expect(j).toMatchObject({
      file: dense(),
      fileSize: i.fileSize,
      architecture: "lfm2",
      name: i.name,
      parameters: i.parameterCount,
      vocabSize: c.vocabSize,
      contextLength: c.contextLength,
      embeddingLength: c.hidden,
      layers: { count: c.nLayers, pattern: "CCACA", conv: 3, attention: 2, attentionLayers: c.attnLayers },
      attention: { heads: c.nHeads, kvHeads: [c.nKvHeads, c.nKvHeads], headDim: c.hidden / c.nHeads },
      convLCache: 3,
      feedForwardLength: i.feedForwardLength,
      experts: null,
      tensorCount: model.tensors().length,
      tensorTypes: i.tensorTypes,
    });
    const weights = model.tensors().reduce((s, t) => s + t.bytes, 0);
    const { kvCache, convState } = expectedState("lfm2", 4096);
    expect(kvCache).toBe(2 * 2 * 4096 * 2 * 16 * 4);
    expect(j.memory).toMatchObject({ contextSize: 4096, weights, kvCache, convState, total: weights + j.memory.state });
    // What the engine allocates for a sequence of that context (NativeSequence.stateBytes).
    const nm = await native().loadModel(dense(), { threads: 1, useMmap: true, activations: "q16", device: "cpu" });
    try {
      const ns = nm.createSequence(4096);
      expect(ns.stateBytes).toBe(kvCache + convState);
      expect(j.memory.state).toBe(ns.stateBytes);
      ns.dispose();
    } finally {
      nm.dispose();
    }
  });

  it("text: the same facts, one per line; --ctx scales the KV cache", () => {
    const r = lfm2(["info", dense(), "--ctx", "1000"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^architecture:\s+lfm2 \(dense\)$/m);
    expect(r.stdout).toMatch(/^parameters:\s+\d+\.\dK \(\d+\)$/m);
    expect(r.stdout).toMatch(/^layers:\s+5: CCACA \(C conv x3, A attention x2\)$/m);
    expect(r.stdout).toMatch(/^attention:\s+4 heads, 2 KV heads, head dim 16 \(layers 2, 4\)$/m);
    expect(r.stdout).toMatch(/^FFN:\s+96 \(layers 0-4\)$/m);
    expect(r.stdout).toMatch(/^vocabulary:\s+1024 tokens$/m);
    expect(r.stdout).toMatch(/^context:\s+4096 tokens/m);
    expect(r.stdout).toMatch(/^tensors:\s+\d+: (Q4_0|F32) \d+, (Q4_0|F32) \d+$/m);
    expect(r.stdout).toMatch(/^memory:\s+for a context of 1000 tokens:$/m);
    const { kvCache } = expectedState("lfm2", 1000); // 512000 B
    expect(r.stdout).toMatch(new RegExp(`^  KV cache:\\s+${(kvCache / 1024).toFixed(1)} KiB`, "m"));
    expect(r.stdout).toMatch(/^  conv state:\s+1\.50 KiB/m);
    const j = JSON.parse(lfm2(["info", dense(), "--ctx", "1000", "--json"]).stdout);
    expect(j.memory.kvCache).toBe(kvCache);
    // Beyond the trained context: computed from the shapes, and said so.
    const big = lfm2(["info", dense(), "--ctx", "100000", "--json"]);
    expect(big.status).toBe(0);
    expect(JSON.parse(big.stdout).memory).toMatchObject({ contextSize: 100000, kvCache: expectedState("lfm2", 100000).kvCache, stateSource: "computed" });
  });

  it("a MoE model: experts and the dense leading layers", () => {
    const r = lfm2(["info", moe(), "--json"]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    const c = tinyConfig("lfm2moe");
    expect(j.architecture).toBe("lfm2moe");
    expect(j.experts).toEqual({ count: c.nExperts, used: c.nExpertsUsed, feedForwardLength: c.expertFfn, leadingDenseBlocks: c.nDenseLayers });
    expect(j.feedForwardLength).toEqual([96, 96, 0, 0, 0]);
    expect(j.memory).toMatchObject(expectedState("lfm2moe", 4096));
    const t = lfm2(["info", moe()]);
    expect(t.stdout).toMatch(/^architecture:\s+lfm2moe \(mixture of experts\)$/m);
    expect(t.stdout).toMatch(/^dense FFN:\s+96 \(layers 0-1\)$/m);
    expect(t.stdout).toMatch(/^experts:\s+8 experts, 4 used per token, expert FFN 32 \(layers 2-4\), 2 leading dense layers$/m);
  });
});

describe("lfm2 tokenize", () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(dense(), { threads: 1, device: "cpu" });
  });
  afterAll(() => model.dispose());
  const text = "<|im_start|>user\nHello wörld 🙂 é\t\"x\"<|im_end|>";

  it("prints the ids of model.tokenize, one line per token with its escaped piece, and the count", () => {
    const r = lfm2(["tokenize", dense(), text]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const ids = model.tokenize(text);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`[${ids.join(", ")}]`);
    expect(lines.length).toBe(ids.length + 2);
    expect(lines.at(-1)).toBe(`${ids.length} tokens`);
    lines.slice(1, -1).forEach((l, k) => expect(l).toMatch(new RegExp(`^\\s*${ids[k]}  ".*"$`)));
    expect(lines[1]).toMatch(/"<\|startoftext\|>"$/);
    expect(lines[2]).toMatch(/"<\|im_start\|>"$/);
    expect(r.stdout).toMatch(/"\\n"$/m);
    expect(r.stdout).toMatch(/\\x[0-9a-f]{2}/); // the emoji's bytes are split across tokens
  });

  it("--json, --no-bos, --no-special: the ids of model.tokenize with those options; the pieces make up the text", () => {
    for (const [flags, opts] of [
      [[], {}],
      [["--no-bos"], { addBos: false }],
      [["--no-special"], { special: false }],
      [["--no-bos", "--no-special"], { addBos: false, special: false }],
    ] as const) {
      const r = lfm2(["tokenize", dense(), text, "--json", ...flags]);
      expect(r.status).toBe(0);
      const j = JSON.parse(r.stdout);
      const ids = model.tokenize(text, opts);
      expect(j.ids).toEqual(ids);
      expect(j.count).toBe(ids.length);
      expect(j.tokens.map((t: { id: number }) => t.id)).toEqual(ids);
      const bytes = Buffer.concat(j.tokens.map((t: { bytes: string }) => Buffer.from(t.bytes, "hex")));
      const bos = "addBos" in opts ? "" : "<|startoftext|>";
      expect(bytes.toString("utf8")).toBe(bos + text);
    }
    expect(model.tokenize(text, { special: false })).not.toContain(model.tokenizer.tokenId("<|im_start|>"));
  });
});

describe("lfm2 help and errors", () => {
  it("--help on every command, lfm2 --help and lfm2 help", () => {
    for (const [args, usage] of [
      [["--help"], "usage: lfm2 <command>"],
      [["help"], "usage: lfm2 <command>"],
      [["-h"], "usage: lfm2 <command>"],
      [["run", "--help"], "usage: lfm2 run MODEL.gguf -p PROMPT"],
      [["run", "-h"], "usage: lfm2 run MODEL.gguf -p PROMPT"],
      [["help", "run"], "usage: lfm2 run MODEL.gguf -p PROMPT"],
      [["chat", "--help"], "usage: lfm2 chat MODEL.gguf"],
      [["info", "--help"], "usage: lfm2 info MODEL.gguf"],
      [["tokenize", "--help"], "usage: lfm2 tokenize MODEL.gguf TEXT"],
      [["bench", "--help"], "usage: lfm2 bench [MODEL.gguf]"],
    ] as const) {
      const r = lfm2([...args]);
      expect(r.status, args.join(" ")).toBe(0);
      expect(r.stdout.startsWith(usage), args.join(" ")).toBe(true);
      expect(r.stdout, args.join(" ")).toMatch(/example/);
    }
    const top = lfm2(["help"]).stdout;
    for (const c of ["chat", "run", "info", "tokenize", "bench"]) expect(top).toMatch(new RegExp(`^  ${c} `, "m"));
    const run = lfm2(["run", "--help"]).stdout;
    for (const o of [
      "-p, --prompt", "-n, --max-tokens", "--temp T", "--top-k K", "--top-p P", "--min-p P", "--repeat-penalty R", "--repeat-last-n N",
      "--presence-penalty P", "--frequency-penalty F", "--seed S", "--threads N", "--ctx N", "--device D", "--raw",
    ]) {
      expect(run).toContain(o);
    }
    expect(run).toMatch(/temperature, 0 = greedy \(default 0\.1\)/);
    expect(run).toMatch(/keep the K most likely tokens, 0 = off \(default 50\)/);
    expect(run).toMatch(/--repeat-penalty R [^\n]*\n[^\n]*\(default 1\.05\)/);
    expect(run).not.toMatch(/not in the generate API/);
    expect(lfm2(["info", "--help"]).stdout).toMatch(/--ctx N[\s\S]*--json/);
    expect(lfm2(["tokenize", "--help"]).stdout).toMatch(/--no-bos[\s\S]*--no-special[\s\S]*--json/);
  });

  it("bad usage: a one-line error and the command's usage on stderr, exit code 2", () => {
    const cases: [string[], RegExp][] = [
      [["run", dense(), "-p", "hi", "--bogus"], /^lfm2 run: Unknown option '--bogus'$/],
      [["run", dense()], /^lfm2 run: missing -p PROMPT$/],
      [["run", "-p", "hi"], /^lfm2 run: missing MODEL$/],
      [["run", dense(), "-p"], /^lfm2 run: Option '-p, --prompt <value>' argument missing$/],
      [["run", dense(), "-p", "hi", "--temp", "hot"], /^lfm2 run: --temp expects a number in \[0, 100\], got "hot"$/],
      [["run", dense(), "-p", "hi", "-n", "1.5"], /^lfm2 run: -n expects an integer >= 0, got "1\.5"$/],
      [["run", dense(), "-p", "hi", "--device", "tpu"], /^lfm2 run: --device expects auto \| cpu \| cuda, got "tpu"$/],
      [["run", dense(), "-p", "hi", "--repeat-penalty", "0"], /^lfm2 run: --repeat-penalty expects a number in \[0\.001, 100\], got "0"$/],
      [["info"], /^lfm2 info: missing MODEL$/],
      [["info", dense(), "--ctx", "0"], /^lfm2 info: --ctx expects an integer >= 1, got "0"$/],
      [["info", dense(), "extra"], /^lfm2 info: unexpected argument "extra"/],
      [["tokenize", dense()], /^lfm2 tokenize: missing TEXT$/],
      [["tokenize", dense(), "a", "b"], /^lfm2 tokenize: unexpected argument "b"/],
      [["tokenize", dense(), "a", "--bos"], /^lfm2 tokenize: Unknown option '--bos'$/],
      [["bench", "--bogus"], /^lfm2 bench: Unknown option '--bogus'$/],
      [["frobnicate"], /^lfm2: unknown command "frobnicate"$/],
    ];
    for (const [args, message] of cases) {
      const r = lfm2(args);
      const what = args.join(" ");
      expect(r.status, what).toBe(2);
      expect(r.stdout, what).toBe("");
      const lines = r.stderr.split("\n");
      expect(lines[0], what).toMatch(message);
      expect(r.stderr, what).toMatch(/^usage: lfm2 /m);
      expect(r.stderr, what).not.toMatch(STACK);
    }
  });

  it("engine errors: lfm2: ERR_LFM_...: message, exit code 1, no stack trace", () => {
    for (const cmd of [["run", "/nonexistent/model.gguf", "-p", "hi"], ["info", "/nonexistent/model.gguf"], ["tokenize", "/nonexistent/model.gguf", "hi"]]) {
      const r = lfm2(cmd);
      expect(r.status, cmd[0]).toBe(1);
      expect(r.stderr, cmd[0]).toBe("lfm2: ERR_LFM_FILE_NOT_FOUND: [load] model file not found: /nonexistent/model.gguf\n");
      expect(r.stdout).toBe("");
    }
    const junk = join(scratchDir(), "not-a-model.gguf");
    writeFileSync(junk, "this is not a GGUF file at all, just some text".repeat(4));
    const bad = lfm2(["info", junk]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^lfm2: ERR_LFM_MODEL_FORMAT: /);
    expect(bad.stderr).not.toMatch(STACK);
    const ctx = lfm2(["run", dense(), "-p", "hi", "--ctx", "5000", "--device", "cpu"]);
    expect(ctx.status).toBe(1);
    expect(ctx.stderr).toMatch(/^lfm2: ERR_LFM_INVALID_ARG: --ctx 5000 exceeds the model's context length \(4096 tokens\)$/m);
    const overflow = lfm2(["run", dense(), "-p", "a much longer prompt than the context", "--ctx", "4", "--device", "cpu"]);
    expect(overflow.status).toBe(1);
    expect(overflow.stderr).toMatch(/^lfm2: ERR_LFM_CONTEXT_OVERFLOW: /m);
    expect(overflow.stderr).not.toMatch(STACK);
  });
});
