// SPDX-License-Identifier: MIT
// Loading a model for a subcommand: a progress bar on a terminal while loadModel runs, then a
// "loaded ..." line on stderr.
import { statSync } from "node:fs";
import { basename } from "node:path";
import { LfmError } from "../errors.js";
import { loadModel, type Model } from "../model.js";
import type { LoadModelOptions } from "../types.js";
import { choiceArg, numberArg } from "./args.js";
import { startProgress } from "./progress.js";

export interface CliLoad {
  model: Model;
  /** Seconds loadModel took. */
  seconds: number;
}

/**
 * Loads `path` with a progress bar (stderr TTY only). With `announce`, prints
 * "loaded NAME in X s (device, isa, threads)" to stderr, and why the GPU was not used when a
 * GPU exists but the CPU was chosen.
 */
export async function loadForCli(path: string, options: LoadModelOptions, announce: boolean): Promise<CliLoad> {
  let size: number | undefined;
  try {
    size = statSync(path).size;
  } catch {
    // loadModel reports the missing file
  }
  const progress = startProgress(`loading ${basename(path)}`, size);
  const t0 = performance.now();
  let model: Model;
  try {
    model = await loadModel(path, { ...options, onProgress: (f) => progress.update(f) });
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (announce) {
    const i = model.info;
    const where = i.device === "cuda" ? `cuda${i.deviceName ? ` ${i.deviceName}` : ""}` : "cpu";
    process.stderr.write(`loaded ${basename(path)} in ${seconds.toFixed(2)} s (${where}, ${i.isa}, ${i.threads} thread${i.threads === 1 ? "" : "s"})\n`);
    if (i.deviceFallback) process.stderr.write(`lfm2: running on the CPU: ${i.deviceFallback}\n`);
  }
  return { model, seconds };
}

/** The model options of `lfm2 run` and `lfm2 chat` (parseArgs definitions). */
export const MODEL_ARGS = {
  threads: { type: "string" },
  ctx: { type: "string" },
  device: { type: "string" },
  mmap: { type: "boolean" },
} as const;

/** What {@link MODEL_ARGS} gave: how to load, and the context size asked for. */
export interface ModelArgs {
  load: LoadModelOptions;
  ctx: number | undefined;
}

export function modelArgs(values: { threads?: string; ctx?: string; device?: string; mmap?: boolean }, usage: string): ModelArgs {
  const threads = numberArg("--threads", values.threads, usage, { min: 1, max: 1024, integer: true });
  const device = choiceArg("--device", values.device, ["auto", "cpu", "cuda"] as const, usage) ?? "auto";
  return {
    load: { device, useMmap: values.mmap ?? false, ...(threads !== undefined && { threads }) },
    ctx: numberArg("--ctx", values.ctx, usage, { min: 1, integer: true }),
  };
}

/** {@link loadForCli} with announce, then a check that --ctx fits the model. */
export async function loadFromArgs(path: string, args: ModelArgs): Promise<Model> {
  const { model } = await loadForCli(path, args.load, true);
  if (args.ctx !== undefined && args.ctx > model.info.contextLength) {
    model.dispose();
    throw new LfmError("ERR_LFM_INVALID_ARG", `--ctx ${args.ctx} exceeds the model's context length (${model.info.contextLength} tokens)`);
  }
  return model;
}
