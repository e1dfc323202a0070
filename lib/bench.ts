// SPDX-License-Identifier: MIT
// llama-bench-style measurement: prefill (ppN) and decode (tgN) tokens/s of lfm2, and of
// llama.cpp (node-llama-cpp, when installed) on the same file and thread count, in alternation.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { loadModel, type Model } from "./model.js";
import { PRESETS, writeSyntheticModel, type WeightType } from "./synthetic/model.js";

export interface BenchOptions {
  threads: number;
  promptTokens: number; // pp
  genTokens: number; // tg
  reps: number;
  llamaCpp: boolean;
  /** Memory read bandwidth in bytes/s used for the decode floor. */
  bandwidth: number;
  log?: (line: string) => void;
}

export interface BenchRow {
  engine: "lfm2" | "llama.cpp";
  test: string;
  samples: number[]; // tokens/s
  median: number;
  min: number;
  max: number;
}

export interface BenchResult {
  model: string;
  rows: BenchRow[];
  /** Bytes of weights one decode step reads (all dense tensors + the selected experts). */
  bytesPerToken: number;
  /** Resident memory of the process after lfm2's first repetition (before llama.cpp loads). */
  residentBytes: number;
  fileBytes: number;
}

function summarise(engine: BenchRow["engine"], test: string, samples: number[]): BenchRow {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { engine, test, samples, median, min: s[0]!, max: s[s.length - 1]! };
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

/** Weight bytes a single decode step streams: everything but unselected experts. */
export function decodeBytesPerToken(model: Model): number {
  const { expertCount, expertUsedCount } = model.info;
  const all = model.tensors();
  const untied = all.some((u) => u.name === "output.weight");
  let bytes = 0;
  for (const t of all) {
    if (t.name === "token_embd.weight" && untied) continue; // only one row is read
    bytes += t.name.includes("_exps.") ? (t.bytes * expertUsedCount) / expertCount : t.bytes;
  }
  return bytes;
}

async function oursOnce(model: Model, o: BenchOptions, rep: number): Promise<[number, number]> {
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

interface LlamaCppRunner {
  once(rep: number): Promise<[number, number]>;
  dispose(): Promise<void>;
}

async function llamaCppRunner(path: string, o: BenchOptions, vocab: number): Promise<LlamaCppRunner> {
  const mod = "node-llama-cpp";
  const nlc = (await import(mod)) as typeof import("node-llama-cpp");
  const llama = await nlc.getLlama({ gpu: false, build: "never", logLevel: nlc.LlamaLogLevel.error, progressLogs: false });
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const ctx = await model.createContext({ contextSize: o.promptTokens + o.genTokens + 16, threads: o.threads, batchSize: o.promptTokens });
  return {
    async once(rep) {
      const seq = ctx.getSequence();
      const prompt = tokens(o.promptTokens, vocab, rep + 1) as never[];
      let t0 = performance.now();
      await seq.evaluateWithoutGeneratingNewTokens(prompt);
      const pp = o.promptTokens / ((performance.now() - t0) / 1000);
      await seq.clearHistory();
      // Decode: llama.cpp samples natively (greedy) one token per step, as its users run it.
      let n = 0;
      t0 = performance.now();
      for await (const _ of seq.evaluate([1 as never], { temperature: 0 })) {
        void _;
        if (++n >= o.genTokens) break;
      }
      const tg = o.genTokens / ((performance.now() - t0) / 1000);
      await seq.clearHistory();
      seq.dispose();
      return [pp, tg];
    },
    async dispose() {
      await ctx.dispose();
      await model.dispose();
    },
  };
}

/** Runs the benchmark on a GGUF file. */
export async function bench(path: string, o: BenchOptions): Promise<BenchResult> {
  const log = o.log ?? (() => {});
  const model = await loadModel(path, { threads: o.threads });
  const V = model.info.vocabSize;
  const bytesPerToken = decodeBytesPerToken(model);
  const fileBytes = model.info.fileSize;
  const samples = { lfm2: { pp: [] as number[], tg: [] as number[] }, "llama.cpp": { pp: [] as number[], tg: [] as number[] } };
  await oursOnce(model, { ...o, promptTokens: Math.min(32, o.promptTokens), genTokens: 4 }, 999); // warm-up (page in weights)
  let ref: LlamaCppRunner | undefined;
  let residentBytes = 0;
  for (let r = 0; r < o.reps; r++) {
    const [pp, tg] = await oursOnce(model, o, r);
    samples.lfm2.pp.push(pp);
    samples.lfm2.tg.push(tg);
    log(`rep ${r + 1}/${o.reps}: lfm2 pp ${pp.toFixed(1)} tg ${tg.toFixed(1)}`);
    if (r === 0) {
      residentBytes = process.memoryUsage().rss;
      // llama.cpp joins only now, so the figure above is lfm2's alone.
      if (o.llamaCpp) {
        try {
          ref = await llamaCppRunner(path, o, V);
          await ref.once(999);
        } catch (err) {
          log(`llama.cpp unavailable: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
    if (ref) {
      const [lp, lt] = await ref.once(r);
      samples["llama.cpp"].pp.push(lp);
      samples["llama.cpp"].tg.push(lt);
      log(`rep ${r + 1}/${o.reps}: llama.cpp pp ${lp.toFixed(1)} tg ${lt.toFixed(1)}`);
    }
  }
  model.dispose();
  await ref?.dispose();
  const rows: BenchRow[] = [];
  for (const engine of ["lfm2", "llama.cpp"] as const) {
    if (samples[engine].pp.length === 0) continue;
    rows.push(summarise(engine, `pp${o.promptTokens}`, samples[engine].pp));
    rows.push(summarise(engine, `tg${o.genTokens}`, samples[engine].tg));
  }
  return { model: path, rows, bytesPerToken, residentBytes, fileBytes };
}

/** Formats a result as a table with ratios and the decode bandwidth floor. */
export function formatBench(r: BenchResult, o: BenchOptions): string {
  const lines = [`model: ${r.model}`, `threads: ${o.threads}`, "", "engine     test     t/s median   min..max"];
  for (const row of r.rows) {
    lines.push(`${row.engine.padEnd(10)} ${row.test.padEnd(8)} ${row.median.toFixed(2).padStart(10)}   ${row.min.toFixed(2)}..${row.max.toFixed(2)}`);
  }
  const get = (e: string, t: string) => r.rows.find((x) => x.engine === e && x.test.startsWith(t))?.median;
  for (const t of ["pp", "tg"]) {
    const a = get("lfm2", t), b = get("llama.cpp", t);
    if (a && b) lines.push(`ratio lfm2 / llama.cpp ${t}: ${(a / b).toFixed(2)}x`);
  }
  lines.push(`lfm2 resident memory: ${(r.residentBytes / 2 ** 30).toFixed(2)} GiB (file ${(r.fileBytes / 2 ** 30).toFixed(2)} GiB, weights stay mapped)`);
  const floor = o.bandwidth / r.bytesPerToken;
  lines.push(`decode reads ${(r.bytesPerToken / 1e9).toFixed(3)} GB/token; bandwidth floor at ${(o.bandwidth / 1e9).toFixed(0)} GB/s: ${floor.toFixed(1)} t/s`);
  for (const e of ["lfm2", "llama.cpp"]) {
    const tg = get(e, "tg");
    if (tg) lines.push(`${e} decode at ${((100 * tg) / floor).toFixed(0)}% of the bandwidth floor`);
  }
  return lines.join("\n");
}

/** A synthetic model of a preset shape in `type`, written once into `dir`. */
export async function syntheticBenchModel(preset: keyof typeof PRESETS, type: WeightType, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${preset}-${type}.gguf`);
  if (!existsSync(path)) await writeSyntheticModel(path, PRESETS[preset], { type, seed: 1, fast: true });
  return path;
}
