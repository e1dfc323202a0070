// The `lfm2 bench` command, driven as a user would (spawned, on a tiny model). Each engine runs
// in its own worker process (dist/bench-worker.js); these tests also check that the workers
// alternate, that none outlives the command, and that a dying worker fails the command cleanly.
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { tinyModel } from "../helpers/models.js";

const procfs = existsSync("/proc/self/stat");

/** Runs the CLI; every process it starts inherits LFM2_BENCH_TEST_TAG=tag (see survivors()). */
function lfm2(args: string[], env: Record<string, string> = {}, tag = randomUUID()) {
  const r = spawnSync(process.execPath, ["dist/cli.js", ...args], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, ...env, LFM2_BENCH_TEST_TAG: tag },
  });
  return { ...r, tag };
}

/** Pids of live processes whose environment carries the tag (Linux /proc). */
function survivors(tag: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, "latin1").split("\0").includes(`LFM2_BENCH_TEST_TAG=${tag}`)) out.push(Number(d));
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return out;
}

/** [pid, argv] of the live children of `ppid`. */
function childrenOf(ppid: number): [number, string[]][] {
  const out: [number, string[]][] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // state, ppid, ...
      if (Number(fields[1]) === ppid) out.push([Number(d), readFileSync(`/proc/${d}/cmdline`, "latin1").split("\0")]);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The "rep" lines, reduced to "rep/engine". */
const repOrder = (stdout: string) => [...stdout.matchAll(/^rep (\d+)\/\d+: (\S+) pp /gm)].map((m) => `${m[1]}/${m[2]}`);

describe("lfm2 bench", () => {
  it("prints help", () => {
    const r = lfm2(["bench", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: lfm2 bench \[MODEL\.gguf\]/);
    expect(r.stdout).toMatch(/--threads N/);
    expect(r.stdout).toMatch(/--mmap\s+lfm2 serves the weights from the file mapping/);
    expect(r.stdout).toMatch(/--activations A\s+q16 \| q8 \| f32/);
  });

  it("measures a model beside llama.cpp, one worker process per engine in alternation, and prints medians and ratios", () => {
    const r = lfm2(["bench", tinyModel("lfm2moe", "Q8_0"), "--pp", "16", "--tg", "8", "--reps", "2", "--threads", "1"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(repOrder(r.stdout)).toEqual(["1/lfm2", "1/llama.cpp", "2/lfm2", "2/llama.cpp"]);
    expect(r.stdout).toMatch(/^lfm2\s+pp16\s+\d+\.\d+\s+\d+\.\d+\.\.\d+\.\d+$/m);
    expect(r.stdout).toMatch(/^lfm2\s+tg8\s+\d+\.\d+/m);
    expect(r.stdout).toMatch(/^llama\.cpp\s+tg8\s+\d+\.\d+/m);
    expect(r.stdout).toMatch(/ratio lfm2 \/ llama\.cpp pp: \d+\.\d+x/);
    expect(r.stdout).toMatch(/decode reads 0\.\d+ GB\/token; bandwidth floor/);
    // Measured inside the lfm2 worker: a Node process with the addon, well above zero.
    const rss = Number(/lfm2 resident memory: (\d+\.\d+) GiB \(file 0\.\d+ GiB/.exec(r.stdout)?.[1]);
    expect(rss).toBeGreaterThan(0.005);
    if (procfs) expect(survivors(r.tag)).toEqual([]);
  });

  it("passes --mmap and --activations to lfm2 and runs it alone with --no-llama", () => {
    const r = lfm2(["bench", tinyModel("lfm2", "Q4_0"), "--pp", "8", "--tg", "4", "--reps", "1", "--mmap", "--activations", "f32", "--no-llama"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(repOrder(r.stdout)).toEqual(["1/lfm2"]);
    expect(r.stdout).toMatch(/^lfm2\s+tg4\s+\d+\.\d+/m);
    expect(r.stdout).not.toMatch(/llama\.cpp/);
    if (procfs) expect(survivors(r.tag)).toEqual([]);
  });

  it("goes on with lfm2 alone when node-llama-cpp cannot be loaded in its worker", () => {
    const hide = pathToFileURL("test/helpers/hide-node-llama-cpp.mjs").href;
    const nodeOptions = `${process.env.NODE_OPTIONS ?? ""} --import=${hide}`.trim();
    const r = lfm2(["bench", tinyModel("lfm2", "Q8_0"), "--pp", "8", "--tg", "4", "--reps", "2"], { NODE_OPTIONS: nodeOptions });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^llama\.cpp unavailable: node-llama-cpp hidden by test\/helpers\/hide-node-llama-cpp\.mjs$/m);
    expect(repOrder(r.stdout)).toEqual(["1/lfm2", "2/lfm2"]);
    expect(r.stdout).toMatch(/^lfm2\s+pp8\s+\d+\.\d+/m);
    expect(r.stdout).not.toMatch(/^llama\.cpp\s+(pp|tg)\d/m);
    expect(r.stdout).not.toMatch(/ratio/);
    if (procfs) expect(survivors(r.tag)).toEqual([]);
  });

  it.skipIf(!procfs)("fails with a clear error, without hanging or leaving processes, when a worker dies", async () => {
    const tag = randomUUID();
    const cli = spawn(process.execPath, ["dist/cli.js", "bench", tinyModel("lfm2moe", "Q8_0"), "--pp", "8", "--tg", "4", "--reps", "1000000", "--threads", "1"], {
      env: { ...process.env, LFM2_BENCH_TEST_TAG: tag },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "", stderr = "";
    cli.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => cli.on("exit", (code, signal) => resolve([code, signal])));
    try {
      // Once both workers have measured, kill the lfm2 one from outside.
      const workers = await new Promise<[number, string[]][]>((resolve, reject) => {
        cli.stdout.setEncoding("utf8").on("data", (s: string) => {
          stdout += s;
          if (/^rep 2\/\d+: llama\.cpp/m.test(stdout)) resolve(childrenOf(cli.pid!));
        });
        void exited.then(() => reject(new Error(`bench ended early: ${stdout}${stderr}`)));
      });
      const engines = workers.map(([, argv]) => argv.find((a) => a === "lfm2" || a === "llama.cpp")).sort();
      expect(engines).toEqual(["lfm2", "llama.cpp"]);
      const lfm2Worker = workers.find(([, argv]) => argv.includes("lfm2"))!;
      expect(lfm2Worker[1].some((a) => a.endsWith("bench-worker.js"))).toBe(true);
      process.kill(lfm2Worker[0], "SIGKILL");
      const guard = setTimeout(() => cli.kill("SIGKILL"), 30_000); // a hang shows as a signal below
      const [code, signal] = await exited;
      clearTimeout(guard);
      expect(signal).toBeNull();
      expect(code).toBe(1);
      // Which the parent notices first, the exit or the broken message channel, is a race.
      expect(stderr).toMatch(/ERR_LFM_INTERNAL: \[bench\] (the lfm2 worker process exited unexpectedly \(signal SIGKILL\)|cannot reach the lfm2 worker|the lfm2 worker process failed)/);
      expect(survivors(tag)).toEqual([]); // the llama.cpp worker went with it
    } finally {
      cli.kill("SIGKILL"); // on a failed expectation: its workers follow when the channel closes
    }
  });

  it("rejects bad input with a code and a non-zero exit", () => {
    const r = lfm2(["bench", "--threads", "zero", tinyModel("lfm2", "F32")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ERR_LFM_INVALID_ARG: --threads expects a number/);
    const act = lfm2(["bench", "--activations", "q3", "--no-llama", tinyModel("lfm2", "F32")]);
    expect(act.status).toBe(1);
    expect(act.stderr).toMatch(/ERR_LFM_INVALID_ARG: .*activations.*"q3"/);
    if (procfs) expect(survivors(act.tag)).toEqual([]);
    const missing = lfm2(["bench", "/nonexistent/model.gguf", "--no-llama"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/ERR_LFM_FILE_NOT_FOUND/);
    if (procfs) expect(survivors(missing.tag)).toEqual([]);
    expect(lfm2(["frobnicate"]).status).toBe(2);
  });
});
