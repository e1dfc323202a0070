#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The `lfm2` command. Subcommands: bench (more come with the chat/CLI work).
import { parseArgs } from "node:util";
import { bench, formatBench, syntheticBenchModel, type BenchOptions } from "./bench.js";
import { LfmError } from "./errors.js";
import { PRESETS, type WeightType } from "./synthetic/model.js";

const HELP = `usage: lfm2 <command> [options]

commands:
  bench [MODEL.gguf]   prefill and decode tokens/s (llama-bench style), beside llama.cpp when
                       node-llama-cpp is installed

run "lfm2 <command> --help" for the options of a command`;

const BENCH_HELP = `usage: lfm2 bench [MODEL.gguf] [options]

Measures prefill (ppN: one N-token prompt) and decode (tgN: N single-token steps) speed, several
repetitions, median and range. With node-llama-cpp installed, llama.cpp runs the same file with
the same thread count in alternation and the ratio is printed. Each engine runs in its own child
process, loaded once; only one measures at a time. Without MODEL, a synthetic model of a preset
shape is written once (random weights) into --dir.

options:
  --preset NAME    ${Object.keys(PRESETS).filter((p) => !p.startsWith("tiny")).join(" | ")}
  --type TYPE      weight type of the synthetic model (default Q4_0)
  --threads N      default 2
  --reps N         repetitions (default 3)
  --pp N           prompt tokens (default 512)
  --tg N           generated tokens (default 128)
  --no-llama       do not run llama.cpp
  --mmap           lfm2 serves the weights from the file mapping (loadModel useMmap: true)
                   instead of reading them into memory
  --activations A  q16 | q8 | f32: precision of lfm2's activations in quantized products,
                   passed to loadModel (default q16 where the CPU has the integer kernels)
  --bandwidth B    memory read bandwidth in bytes/s for the decode floor (default 76e9)
  --dir DIR        where synthetic models are kept (default .cache/models)`;

async function benchCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: "boolean", short: "h" },
      preset: { type: "string" },
      type: { type: "string", default: "Q4_0" },
      threads: { type: "string", default: "2" },
      reps: { type: "string", default: "3" },
      pp: { type: "string", default: "512" },
      tg: { type: "string", default: "128" },
      "no-llama": { type: "boolean", default: false },
      mmap: { type: "boolean", default: false },
      activations: { type: "string" },
      bandwidth: { type: "string", default: "76e9" },
      dir: { type: "string", default: ".cache/models" },
    },
  });
  if (values.help) {
    console.log(BENCH_HELP);
    return;
  }
  const num = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new LfmError("ERR_LFM_INVALID_ARG", `--${name} expects a number >= ${min}, got "${v}"`);
    return n;
  };
  let path = positionals[0];
  if (!path) {
    const preset = values.preset;
    if (!preset || !(preset in PRESETS)) {
      throw new LfmError("ERR_LFM_INVALID_ARG", `give a MODEL.gguf or --preset (${Object.keys(PRESETS).join(", ")})`);
    }
    console.log(`writing synthetic ${preset} ${values.type} into ${values.dir} (once) ...`);
    path = await syntheticBenchModel(preset as keyof typeof PRESETS, values.type as WeightType, values.dir);
  }
  const opts: BenchOptions = {
    threads: num("threads", values.threads, 1),
    promptTokens: num("pp", values.pp, 1),
    genTokens: num("tg", values.tg, 1),
    reps: num("reps", values.reps, 1),
    llamaCpp: !values["no-llama"],
    useMmap: values.mmap,
    // Checked by loadModel in the lfm2 worker (the one list of accepted values).
    ...(values.activations !== undefined ? { activations: values.activations as BenchOptions["activations"] } : {}),
    bandwidth: num("bandwidth", values.bandwidth, 1),
    log: (l) => console.log(l),
  };
  const result = await bench(path, opts);
  console.log("\n" + formatBench(result, opts));
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "bench":
        await benchCommand(rest);
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(HELP);
        return command === undefined ? 2 : 0;
      default:
        console.error(`lfm2: unknown command "${command}"\n\n${HELP}`);
        return 2;
    }
  } catch (err) {
    const e = err as { code?: string; message?: string };
    console.error(`lfm2 ${command}: ${e.code ? `${e.code}: ` : ""}${e.message ?? String(err)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
