#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The `lfm2` command. Subcommands: chat, run, info, tokenize (lib/cli/) and bench. Exit codes:
// 0 done, 1 an engine error (LfmError: "lfm2: ERR_LFM_...: message"), 2 bad usage (one line
// and the command's usage), 130 interrupted by Ctrl-C.
import { bench, formatBench, syntheticBenchModel, type BenchOptions } from "./bench.js";
import { parseCommand, shortUsage, UsageError } from "./cli/args.js";
import { chatCommand } from "./cli/chat.js";
import { infoCommand } from "./cli/info.js";
import { runCommand } from "./cli/run.js";
import { tokenizeCommand } from "./cli/tokenize.js";
import { LfmError } from "./errors.js";
import { PRESETS, type WeightType } from "./synthetic/model.js";

const HELP = `usage: lfm2 <command> [options]

commands:
  chat MODEL.gguf            a conversation in the terminal: replies stream as they are generated,
                             each turn evaluates only the new text; /help at the prompt for commands
  run MODEL.gguf -p PROMPT   generate a reply to a prompt, streamed to stdout, speeds on stderr
  info MODEL.gguf            shape, layer pattern, experts, tensor types and memory of a model
  tokenize MODEL.gguf TEXT   token ids and pieces of a text
  bench [MODEL.gguf]         prefill and decode tokens/s (llama-bench style), beside llama.cpp
                             when node-llama-cpp is installed
  help                       this help

run "lfm2 <command> --help" for the options of a command

examples:
  lfm2 chat LFM2-1.2B-Q4_0.gguf --system "You are a terse assistant."
  lfm2 run LFM2-1.2B-Q4_0.gguf -p "What is C. elegans?"
  lfm2 info LFM2-8B-A1B-Q4_0.gguf --ctx 32768
  lfm2 tokenize LFM2-1.2B-Q4_0.gguf "Hello world"`;

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
  --dir DIR        where synthetic models are kept (default .cache/models)

examples:
  lfm2 bench LFM2-1.2B-Q4_0.gguf --threads 2
  lfm2 bench --preset lfm2-8b-a1b --type Q4_0 --reps 5`;

async function benchCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(
    argv,
    {
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
    shortUsage(BENCH_HELP, "bench"),
  );
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

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  chat: chatCommand,
  run: runCommand,
  info: infoCommand,
  tokenize: tokenizeCommand,
};

/** One line for an error: "ERR_LFM_...: message" for engine errors, the message otherwise. */
function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === "string" ? e.message : String(err);
  return typeof e?.code === "string" ? `${e.code}: ${message}` : message;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "bench") {
    try {
      await benchCommand(rest);
      return 0;
    } catch (err) {
      if (err instanceof UsageError) {
        console.error(`lfm2 bench: ${err.message}\n${err.usage}`);
        return 2;
      }
      console.error(`lfm2 bench: ${describeError(err)}`);
      return 1;
    }
  }
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    // "lfm2 help run" shows the help of run.
    if (command === "help" && rest[0] !== undefined && (rest[0] in COMMANDS || rest[0] === "bench")) return main([rest[0], "--help"]);
    if (command === undefined) {
      console.error(HELP);
      return 2;
    }
    console.log(HELP);
    return 0;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) {
    console.error(`lfm2: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`lfm2 ${command}: ${err.message}\n${err.usage}`);
      return 2;
    }
    if (err instanceof LfmError) {
      console.error(`lfm2: ${err.code}: ${err.message}`);
      return 1;
    }
    // Not an engine error (a bug): one line; LFM2_DEBUG=1 adds the stack.
    console.error(`lfm2: ${describeError(err)}`);
    if (process.env.LFM2_DEBUG && err instanceof Error && err.stack) console.error(err.stack);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
