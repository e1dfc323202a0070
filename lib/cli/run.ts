// SPDX-License-Identifier: MIT
// `lfm2 run`: one prompt, streamed continuation on stdout, token counts and speeds on stderr.
import { renderChatPrompt } from "../chat/template.js";
import type { Model } from "../model.js";
import { CHAT_DEFAULTS, randomSeed } from "../sampling.js";
import type { Sequence } from "../sequence.js";
import type { GenerateOptions } from "../types.js";
import { numberArg, parseCommand, positionalArgs, SAMPLING_ARGS, samplingArgs, samplingHelp, shortUsage, UsageError } from "./args.js";
import { formatRate } from "./format.js";
import { loadFromArgs, MODEL_ARGS, modelArgs } from "./load.js";

/** LiquidAI's recommended sampling for LFM2 chat, as `lfm2 chat` and ChatSession use it. */
export const RUN_DEFAULTS = CHAT_DEFAULTS;

export const RUN_HELP = `usage: lfm2 run MODEL.gguf -p PROMPT [options]

Generates a reply to PROMPT and prints it to stdout as it streams; token counts and speeds go
to stderr. The prompt is sent as one user turn of the LFM2 chat format, BOS first:
  <|im_start|>user\\n{PROMPT}<|im_end|>\\n<|im_start|>assistant\\n
Generation stops at an end-of-generation token, after -n tokens, when the context is full, or
on Ctrl-C (the text so far stays; exit code 130). For a conversation, use lfm2 chat.

options:
  -p, --prompt TEXT  the prompt (required)
  -n, --max-tokens N most tokens to generate (default: until end of generation or full context)
  --raw              evaluate the prompt text as it is (BOS first), without the chat format;
                     control tokens written in it (<|im_start|>) are still recognised
${samplingHelp(RUN_DEFAULTS, "printed with the stats")}
  --threads N        CPU threads (default: physical cores)
  --ctx N            context size in tokens (default: min(4096, the model's context length))
  --device D         auto | cpu | cuda (default auto: the GPU when one is usable)
  --mmap             serve the weights from the file mapping instead of reading them in
  -h, --help         this help

Defaults follow LiquidAI's recommendation for LFM2 chat: temperature ${RUN_DEFAULTS.temperature}, top-k ${RUN_DEFAULTS.topK},
repetition penalty ${RUN_DEFAULTS.repeatPenalty} over the last ${RUN_DEFAULTS.penaltyLastN} tokens (chat markup tokens are never penalised).

example:
  lfm2 run LFM2-1.2B-Q4_0.gguf -p "What is C. elegans?" -n 200`;

const USAGE = shortUsage(RUN_HELP, "run");


type StopReason = "end of generation" | "token limit" | "context full" | "interrupted" | "output closed";

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    {
      help: { type: "boolean", short: "h" },
      prompt: { type: "string", short: "p" },
      "max-tokens": { type: "string", short: "n" },
      ...SAMPLING_ARGS,
      ...MODEL_ARGS,
      raw: { type: "boolean" },
    },
    USAGE,
  );
  if (values.help) {
    console.log(RUN_HELP);
    return 0;
  }
  const [path] = positionalArgs(positionals, ["MODEL"], USAGE) as [string];
  const prompt = values.prompt;
  if (prompt === undefined) throw new UsageError("missing -p PROMPT", USAGE);
  const maxTokens = numberArg("-n", values["max-tokens"], USAGE, { min: 0, integer: true });
  const sampling = { ...RUN_DEFAULTS, ...samplingArgs(values, USAGE) };
  const seed = sampling.seed ?? randomSeed();
  const loadArgs = modelArgs(values, USAGE);
  const ctx = loadArgs.ctx;

  // Ctrl-C: the first one stops the generation between two tokens (the text so far and the
  // stats stay); a second one, or one while loading, ends the process at once.
  const controller = new AbortController();
  let generating = false;
  const onSigint = () => {
    if (generating && !controller.signal.aborted) {
      controller.abort();
      return;
    }
    process.stderr.write("\n");
    process.exit(130);
  };
  process.on("SIGINT", onSigint);
  // A reader that goes away (lfm2 run ... | head: EPIPE) ends the generation quietly.
  let outputClosed = false;
  process.stdout.on("error", () => {
    outputClosed = true;
    controller.abort();
  });

  let model: Model | undefined;
  let seq: Sequence | undefined;
  try {
    model = await loadFromArgs(path, loadArgs);
    seq = model.createSequence(ctx !== undefined ? { contextSize: ctx } : undefined);
    // One user turn of the built-in LFM2 chat template, which starts with the BOS text itself.
    const chat = values.raw ? undefined : renderChatPrompt([{ role: "user", content: prompt }]);
    const tokens = chat ? model.tokenize(chat.text, { addBos: !chat.hasBos }) : model.tokenize(prompt);
    const options: GenerateOptions = { ...sampling, seed, signal: controller.signal };
    if (maxTokens !== undefined) options.maxTokens = maxTokens;

    let generated = 0;
    let lastChar = "\n";
    const t0 = performance.now();
    let tFirst: number | undefined;
    let tLast = t0;
    generating = true;
    for await (const { text } of seq.generate(tokens, options)) {
      tLast = performance.now();
      tFirst ??= tLast;
      generated++;
      if (text && !outputClosed) {
        process.stdout.write(text);
        lastChar = text[text.length - 1]!;
      }
    }
    generating = false;
    const tEnd = performance.now();
    const reason: StopReason = outputClosed
      ? "output closed"
      : controller.signal.aborted
        ? "interrupted"
        : maxTokens !== undefined && generated >= maxTokens
          ? "token limit"
          : seq.length >= seq.contextSize
            ? "context full"
            : "end of generation";
    // On a terminal the stats start on a line of their own; piped output stays exactly the text.
    if (process.stdout.isTTY && lastChar !== "\n" && !outputClosed) process.stdout.write("\n");
    // Prefill: the prompt's evaluation and the first sample. Decode: one evaluation and sample
    // between consecutive tokens.
    const prefillSeconds = ((tFirst ?? tEnd) - t0) / 1000;
    const decodeSeconds = (tLast - (tFirst ?? tLast)) / 1000;
    const parts = [
      `prompt ${tokens.length} tokens, ${formatRate(tokens.length, prefillSeconds)} t/s`,
      `generated ${generated} token${generated === 1 ? "" : "s"}, ${formatRate(generated - 1, decodeSeconds)} t/s`,
      `stopped: ${reason}`,
    ];
    if (sampling.temperature > 0) parts.push(`seed ${seed}`);
    process.stderr.write(parts.join(" | ") + "\n");
    return reason === "interrupted" ? 130 : 0;
  } finally {
    generating = false;
    process.off("SIGINT", onSigint);
    seq?.dispose();
    model?.dispose();
  }
}
