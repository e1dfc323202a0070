// SPDX-License-Identifier: MIT
// Argument parsing for the `lfm2` subcommands: node:util parseArgs in strict mode, with its
// errors (unknown option, missing value, stray argument) turned into one-line usage errors.
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { SamplingDefaults } from "../sampling.js";
import type { SamplingOptions } from "../types.js";

/** Bad command-line usage: reported as one line plus the command's usage, exit code 2. */
export class UsageError extends Error {
  /** The usage text of the command the error belongs to. */
  readonly usage: string;
  constructor(message: string, usage: string) {
    super(message);
    this.name = "UsageError";
    this.usage = usage;
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses `argv` against `options` (strict); any parse failure becomes a {@link UsageError}. */
export function parseCommand<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (typeof e.code === "string" && e.code.startsWith("ERR_PARSE_ARGS_")) {
      // Node's messages span several lines and add advice on "--"; the first sentence says what is wrong.
      const first = (e.message ?? "").split("\n")[0]!.split(". To specify")[0]!.trim();
      throw new UsageError(first.replace(/\.$/, ""), usage);
    }
    throw err;
  }
}

/** The first line of a help text ("usage: lfm2 run MODEL ...") plus the pointer to --help. */
export function shortUsage(help: string, command: string): string {
  return `${help.split("\n")[0]}\nrun "lfm2 ${command} --help" for the options`;
}

/** A number option: finite, within [min, max], an integer when `integer`. */
export function numberArg(
  name: string,
  value: string | undefined,
  usage: string,
  { min = -Infinity, max = Infinity, integer = false }: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === "" ? NaN : Number(value);
  const ok = Number.isFinite(n) && n >= min && n <= max && (!integer || Number.isInteger(n));
  if (!ok) {
    const kind = integer ? "an integer" : "a number";
    const range =
      min > -Infinity && max < Infinity ? ` in [${min}, ${max}]` : min > -Infinity ? ` >= ${min}` : max < Infinity ? ` <= ${max}` : "";
    throw new UsageError(`${name} expects ${kind}${range}, got "${value}"`, usage);
  }
  return n;
}

/** One of a fixed set of words. */
export function choiceArg<T extends string>(name: string, value: string | undefined, choices: readonly T[], usage: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${name} expects ${choices.join(" | ")}, got "${value}"`, usage);
  }
  return value as T;
}

/** The positional arguments, exactly `names.length` of them. */
export function positionalArgs(positionals: string[], names: string[], usage: string): string[] {
  if (positionals.length < names.length) {
    throw new UsageError(`missing ${names.slice(positionals.length).join(" and ")}`, usage);
  }
  if (positionals.length > names.length) {
    const extra = positionals.slice(names.length).map((p) => JSON.stringify(p)).join(" ");
    throw new UsageError(`unexpected argument${positionals.length - names.length > 1 ? "s" : ""} ${extra} (quote text that has spaces)`, usage);
  }
  return positionals;
}

/** The sampling options of `lfm2 run` and `lfm2 chat` (parseArgs definitions). */
export const SAMPLING_ARGS = {
  temp: { type: "string" },
  "top-k": { type: "string" },
  "top-p": { type: "string" },
  "min-p": { type: "string" },
  "repeat-penalty": { type: "string" },
  "repeat-last-n": { type: "string" },
  "presence-penalty": { type: "string" },
  "frequency-penalty": { type: "string" },
  seed: { type: "string" },
} as const;

/** The sampling options given on the command line (absent ones are left out, for the defaults). */
export function samplingArgs(values: Partial<Record<keyof typeof SAMPLING_ARGS, string>>, usage: string): SamplingOptions {
  const o: SamplingOptions = {};
  const set = <K extends keyof SamplingOptions>(key: K, v: SamplingOptions[K] | undefined) => {
    if (v !== undefined) o[key] = v;
  };
  set("temperature", numberArg("--temp", values.temp, usage, { min: 0, max: 100 }));
  set("topK", numberArg("--top-k", values["top-k"], usage, { min: 0, integer: true }));
  set("topP", numberArg("--top-p", values["top-p"], usage, { min: 0, max: 1 }));
  set("minP", numberArg("--min-p", values["min-p"], usage, { min: 0, max: 1 }));
  set("repeatPenalty", numberArg("--repeat-penalty", values["repeat-penalty"], usage, { min: 0.001, max: 100 }));
  set("penaltyLastN", numberArg("--repeat-last-n", values["repeat-last-n"], usage, { min: 0, max: 1 << 20, integer: true }));
  set("presencePenalty", numberArg("--presence-penalty", values["presence-penalty"], usage, { min: -100, max: 100 }));
  set("frequencyPenalty", numberArg("--frequency-penalty", values["frequency-penalty"], usage, { min: -100, max: 100 }));
  set("seed", numberArg("--seed", values.seed, usage, { min: 0, max: 2 ** 32 - 1, integer: true }));
  return o;
}

/** The help lines of {@link SAMPLING_ARGS}, with `defaults`. */
export function samplingHelp(d: SamplingDefaults, seed: string): string {
  return `  --temp T           temperature, 0 = greedy (default ${d.temperature})
  --top-k K          keep the K most likely tokens, 0 = off (default ${d.topK})
  --top-p P          nucleus sampling, 1 = off (default ${d.topP})
  --min-p P          drop tokens below P x the top probability, 0 = off (default ${d.minP})
  --repeat-penalty R penalise recent tokens, llama.cpp style (positive logits / R, negative x R),
                     1 = off (default ${d.repeatPenalty})
  --repeat-last-n N  how many recent tokens the penalties look at, 0 = off (default ${d.penaltyLastN})
  --presence-penalty P
                     subtract P once from the logit of every recent token (default ${d.presencePenalty})
  --frequency-penalty F
                     subtract F per occurrence from the logit of a recent token (default ${d.frequencyPenalty})
  --seed S           sampler seed, 0..4294967295 (default: random, ${seed})`;
}
