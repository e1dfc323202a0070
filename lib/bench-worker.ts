// SPDX-License-Identifier: MIT
// Child process of `lfm2 bench` (lib/bench.ts): one engine (lfm2 or llama.cpp) per process, so
// that neither engine's idle worker threads compete with the other's measurement. The parent
// forks this module, sends {op: "load"} once, then {op: "warmup"} and one {op: "run"} per
// repetition; each request gets exactly one reply. Between requests the process sits idle in
// its event loop waiting for the next message.
import { decodeBytesPerToken } from "./bench.js";
import { loadModel, type Model } from "./model.js";
import type { LoadModelOptions } from "./types.js";

export type BenchEngine = "lfm2" | "llama.cpp";

interface LoadCommon {
  op: "load";
  path: string;
  threads: number;
  promptTokens: number;
  genTokens: number;
}

/** A message from lib/bench.ts to a worker. */
export type WorkerRequest =
  | (LoadCommon & { engine: "lfm2"; useMmap: boolean; activations?: LoadModelOptions["activations"] })
  | (LoadCommon & { engine: "llama.cpp"; vocab: number })
  | { op: "warmup" }
  | { op: "run"; rep: number }
  | { op: "close" };

/** Reply to a load (lfm2 fills in the model's figures; llama.cpp replies zeros). */
export interface LoadReply {
  ok: true;
  vocab: number;
  bytesPerToken: number;
  fileBytes: number;
  /** lfm2 only: what the model reports (ModelInfo.activations / useMmap). */
  activations?: string;
  useMmap?: boolean;
}

/** Reply to a run: tokens/s of prefill and decode, and the worker's resident memory after it. */
export interface RunReply {
  ok: true;
  pp: number;
  tg: number;
  rss: number;
}

export interface ErrorReply {
  ok: false;
  code?: string;
  message: string;
}

export type WorkerReply = LoadReply | RunReply | { ok: true } | ErrorReply;

interface Engine {
  loaded: LoadReply;
  warmup(): Promise<void>;
  once(rep: number): Promise<[number, number]>;
  dispose(): Promise<void>;
}

interface Shape {
  promptTokens: number;
  genTokens: number;
}

/** Deterministic token ids in [14, vocab) (skips the control tokens). */
function tokens(n: number, vocab: number, seed: number): number[] {
  const out: number[] = [];
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(14 + (s % (vocab - 14)));
  }
  return out;
}

async function oursOnce(model: Model, o: Shape, rep: number): Promise<[number, number]> {
  const V = model.info.vocabSize;
  const seq = model.createSequence({ contextSize: o.promptTokens + o.genTokens + 1 });
  let t0 = performance.now();
  await seq.evaluate(tokens(o.promptTokens, V, rep + 1));
  const pp = o.promptTokens / ((performance.now() - t0) / 1000);
  seq.reset();
  await seq.evaluate([1]);
  const gen = tokens(o.genTokens, V, rep + 100);
  t0 = performance.now();
  for (const t of gen) await seq.evaluate([t]);
  const tg = o.genTokens / ((performance.now() - t0) / 1000);
  seq.dispose();
  return [pp, tg];
}

async function lfm2Engine(m: Extract<WorkerRequest, { engine: "lfm2" }>): Promise<Engine> {
  const model = await loadModel(m.path, { threads: m.threads, useMmap: m.useMmap, ...(m.activations ? { activations: m.activations } : {}) });
  return {
    loaded: {
      ok: true, vocab: model.info.vocabSize, bytesPerToken: decodeBytesPerToken(model), fileBytes: model.info.fileSize,
      activations: model.info.activations, useMmap: model.info.useMmap,
    },
    // Short warm-up: pages the weights in.
    warmup: async () => void (await oursOnce(model, { promptTokens: Math.min(32, m.promptTokens), genTokens: 4 }, 999)),
    once: (rep) => oursOnce(model, m, rep),
    dispose: async () => model.dispose(),
  };
}

async function llamaCppEngine(m: Extract<WorkerRequest, { engine: "llama.cpp" }>): Promise<Engine> {
  const mod = "node-llama-cpp";
  const nlc = (await import(mod)) as typeof import("node-llama-cpp");
  const llama = await nlc.getLlama({ gpu: false, build: "never", logLevel: nlc.LlamaLogLevel.error, progressLogs: false });
  const model = await llama.loadModel({ modelPath: m.path, gpuLayers: 0 });
  const ctx = await model.createContext({ contextSize: m.promptTokens + m.genTokens + 16, threads: m.threads, batchSize: m.promptTokens });
  const once = async (rep: number): Promise<[number, number]> => {
    const seq = ctx.getSequence();
    const prompt = tokens(m.promptTokens, m.vocab, rep + 1) as never[];
    let t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(prompt);
    const pp = m.promptTokens / ((performance.now() - t0) / 1000);
    await seq.clearHistory();
    // Decode: llama.cpp samples natively (greedy) one token per step, as its users run it.
    let n = 0;
    t0 = performance.now();
    for await (const _ of seq.evaluate([1 as never], { temperature: 0 })) {
      void _;
      if (++n >= m.genTokens) break;
    }
    const tg = m.genTokens / ((performance.now() - t0) / 1000);
    await seq.clearHistory();
    seq.dispose();
    return [pp, tg];
  };
  return {
    loaded: { ok: true, vocab: 0, bytesPerToken: 0, fileBytes: 0 },
    warmup: async () => void (await once(999)), // a full repetition, as before
    once,
    dispose: async () => {
      await ctx.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

if (!process.send) {
  console.error("bench-worker: this module is a child process of `lfm2 bench`, not a command");
  process.exit(2);
}
const reply = (m: WorkerReply) => new Promise<void>((resolve) => process.send!(m, () => resolve()));
// Never outlive the parent: a closed channel means it is gone (or done with us).
process.on("disconnect", () => process.exit(0));

let engine: Engine | undefined;
const loaded = (): Engine => {
  if (!engine) throw new Error("bench-worker: no model loaded");
  return engine;
};

async function handle(m: WorkerRequest): Promise<void> {
  if (m.op === "close") {
    try {
      await engine?.dispose();
    } finally {
      process.exit(0);
    }
  }
  try {
    switch (m.op) {
      case "load":
        if (engine) throw new Error("bench-worker: model already loaded");
        engine = m.engine === "lfm2" ? await lfm2Engine(m) : await llamaCppEngine(m);
        await reply(engine.loaded);
        return;
      case "warmup":
        await loaded().warmup();
        await reply({ ok: true });
        return;
      case "run": {
        const [pp, tg] = await loaded().once(m.rep);
        await reply({ ok: true, pp, tg, rss: process.memoryUsage().rss });
        return;
      }
    }
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown } | undefined;
    await reply({ ok: false, code: typeof e?.code === "string" ? e.code : undefined, message: typeof e?.message === "string" ? e.message : String(err) });
  }
}

// The parent sends one request at a time; the chain keeps them in order regardless.
let chain = Promise.resolve();
process.on("message", (m: WorkerRequest) => {
  chain = chain.then(() => handle(m));
});
