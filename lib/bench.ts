// SPDX-License-Identifier: MIT
// llama-bench-style measurement: prefill (ppN) and decode (tgN) tokens/s of lfm2, and of
// llama.cpp (node-llama-cpp, when installed) on the same file and thread count, in alternation.
// Each engine runs in its own child process (lib/bench-worker.ts) that loads the model once and
// measures on request, so that one engine's idle threads never run beside the other's
// measurement; only one child measures at a time.
import { fork, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchEngine, LoadReply, RunReply, WorkerReply, WorkerRequest } from "./bench-worker.js";
import { LfmError, wrapNativeError } from "./errors.js";
import type { Model } from "./model.js";
import type { LoadModelOptions } from "./types.js";
import { PRESETS, writeSyntheticModel, type WeightType } from "./synthetic/model.js";

export interface BenchOptions {
  threads: number;
  promptTokens: number; // pp
  genTokens: number; // tg
  reps: number;
  llamaCpp: boolean;
  /** Memory read bandwidth in bytes/s used for the decode floor. */
  bandwidth: number;
  /** lfm2: serve the weights from the file mapping (LoadModelOptions.useMmap). Default false. */
  useMmap?: boolean;
  /** lfm2: activation precision (LoadModelOptions.activations). Default: the library's. */
  activations?: LoadModelOptions["activations"];
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
  /** Resident memory of the lfm2 worker process after its first repetition. */
  residentBytes: number;
  fileBytes: number;
  /** lfm2's activation precision and weight residence, as the model reports them. */
  activations: string;
  useMmap: boolean;
}

function summarise(engine: BenchRow["engine"], test: string, samples: number[]): BenchRow {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { engine, test, samples, median, min: s[0]!, max: s[s.length - 1]! };
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

/** Path of the compiled worker module: beside this file, or in dist/ when lib/ runs from source. */
function workerPath(): string {
  for (const rel of ["./bench-worker.js", "../dist/bench-worker.js"]) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new LfmError("ERR_LFM_INTERNAL", "[bench] dist/bench-worker.js not found (compile with tsc -p tsconfig.json)");
}

/** One engine's child process, serving one request at a time. */
class Worker {
  readonly #proc: ChildProcess;
  readonly #exited: Promise<void>;
  #pending: { resolve: (r: WorkerReply & { ok: true }) => void; reject: (e: Error) => void } | undefined;
  #done = false; // the process has exited (or never started)
  #gone: LfmError | undefined; // why, for requests made afterwards
  #closing = false;

  constructor(readonly engine: BenchEngine) {
    let exited!: () => void;
    this.#exited = new Promise((resolve) => (exited = resolve));
    // The engine name in argv only labels the process (ps); the load request decides.
    const proc = fork(workerPath(), [engine], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: process.execArgv.filter((a) => !a.startsWith("--inspect")),
    });
    this.#proc = proc;
    // If this process exits without cleaning up (process.exit elsewhere), take the child along.
    const killOnExit = () => proc.kill("SIGKILL");
    process.once("exit", killOnExit);
    proc.once("exit", (code, signal) => {
      process.removeListener("exit", killOnExit);
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      this.#done = true;
      this.#gone ??= new LfmError("ERR_LFM_INTERNAL", `[bench] the ${engine} worker process exited unexpectedly (${how})`);
      this.#fail(this.#gone);
      exited();
    });
    proc.on("error", (err) => {
      const e = new LfmError("ERR_LFM_INTERNAL", `[bench] the ${engine} worker process failed: ${err.message}`, { cause: err });
      if (proc.pid === undefined && !this.#done) {
        // Never started: there is no exit to wait for.
        process.removeListener("exit", killOnExit);
        this.#done = true;
        this.#gone = e;
        exited();
      }
      this.#fail(e);
    });
    proc.on("message", (m: WorkerReply) => {
      const p = this.#pending;
      this.#pending = undefined;
      if (!p) return;
      if (m.ok) p.resolve(m);
      else p.reject(wrapNativeError(m));
    });
  }

  /** Rejects the pending request, if any. */
  #fail(err: LfmError): void {
    const p = this.#pending;
    this.#pending = undefined;
    p?.reject(this.#closing ? new LfmError("ERR_LFM_INTERNAL", `[bench] the ${this.engine} worker was stopped`) : err);
  }

  /** Sends one request and waits for its reply; rejects if the worker dies meanwhile. */
  request<R extends WorkerReply & { ok: true }>(m: WorkerRequest): Promise<R> {
    if (this.#done) return Promise.reject(this.#gone);
    if (this.#pending) return Promise.reject(new LfmError("ERR_LFM_INTERNAL", `[bench] ${this.engine} worker: request while another is pending`));
    return new Promise<R>((resolve, reject) => {
      this.#pending = { resolve: resolve as (r: WorkerReply & { ok: true }) => void, reject };
      this.#proc.send(m, (err) => {
        if (err) this.#fail(new LfmError("ERR_LFM_INTERNAL", `[bench] cannot reach the ${this.engine} worker: ${err.message}`, { cause: err }));
      });
    });
  }

  /** Asks the worker to dispose its model and exit; kills it if it has not after `graceMs`. */
  async close(graceMs = 10_000): Promise<void> {
    this.#closing = true;
    if (!this.#done && this.#proc.connected) this.#proc.send({ op: "close" } satisfies WorkerRequest, () => {});
    const timer = setTimeout(() => this.#proc.kill("SIGKILL"), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Kills the worker now and waits until it is gone. */
  async kill(): Promise<void> {
    this.#closing = true;
    if (!this.#done) this.#proc.kill("SIGKILL");
    await this.#exited;
  }
}

/** Runs the benchmark on a GGUF file. */
export async function bench(path: string, o: BenchOptions): Promise<BenchResult> {
  const log = o.log ?? (() => {});
  const shape = { path, threads: o.threads, promptTokens: o.promptTokens, genTokens: o.genTokens };
  const samples = { lfm2: { pp: [] as number[], tg: [] as number[] }, "llama.cpp": { pp: [] as number[], tg: [] as number[] } };
  const workers: Worker[] = [];
  const spawn = (engine: BenchEngine) => {
    const w = new Worker(engine);
    workers.push(w);
    return w;
  };
  let loaded: LoadReply;
  let residentBytes = 0;
  try {
    const ours = spawn("lfm2");
    loaded = await ours.request<LoadReply>({ op: "load", engine: "lfm2", ...shape, useMmap: o.useMmap ?? false, activations: o.activations });
    await ours.request({ op: "warmup" }); // page in weights
    let ref: Worker | undefined;
    for (let r = 0; r < o.reps; r++) {
      const { pp, tg, rss } = await ours.request<RunReply>({ op: "run", rep: r });
      samples.lfm2.pp.push(pp);
      samples.lfm2.tg.push(tg);
      log(`rep ${r + 1}/${o.reps}: lfm2 pp ${pp.toFixed(1)} tg ${tg.toFixed(1)}`);
      if (r === 0) {
        residentBytes = rss;
        // llama.cpp joins after lfm2's first repetition, as it always has (loading it earlier
        // would not change the figure above: it is the lfm2 process's own).
        if (o.llamaCpp) {
          const w = spawn("llama.cpp");
          try {
            await w.request({ op: "load", engine: "llama.cpp", ...shape, vocab: loaded.vocab });
            await w.request({ op: "warmup" });
            ref = w;
          } catch (err) {
            log(`llama.cpp unavailable: ${err instanceof Error ? err.message : String(err)}`);
            await w.kill();
          }
        }
      }
      if (ref) {
        const { pp: lp, tg: lt } = await ref.request<RunReply>({ op: "run", rep: r });
        samples["llama.cpp"].pp.push(lp);
        samples["llama.cpp"].tg.push(lt);
        log(`rep ${r + 1}/${o.reps}: llama.cpp pp ${lp.toFixed(1)} tg ${lt.toFixed(1)}`);
      }
    }
  } catch (err) {
    await Promise.all(workers.map((w) => w.kill()));
    throw err;
  }
  await Promise.all(workers.map((w) => w.close()));
  const rows: BenchRow[] = [];
  for (const engine of ["lfm2", "llama.cpp"] as const) {
    if (samples[engine].pp.length === 0) continue;
    rows.push(summarise(engine, `pp${o.promptTokens}`, samples[engine].pp));
    rows.push(summarise(engine, `tg${o.genTokens}`, samples[engine].tg));
  }
  return {
    model: path, rows, bytesPerToken: loaded.bytesPerToken, residentBytes, fileBytes: loaded.fileBytes,
    activations: loaded.activations ?? "f32", useMmap: loaded.useMmap ?? false,
  };
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
  const residence = r.useMmap ? "served from the file mapping" : "read into memory";
  lines.push(`lfm2 resident memory: ${(r.residentBytes / 2 ** 30).toFixed(2)} GiB (file ${(r.fileBytes / 2 ** 30).toFixed(2)} GiB, weights ${residence}); activations ${r.activations}`);
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
