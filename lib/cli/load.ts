// SPDX-License-Identifier: MIT
// Loading a model for a subcommand: a progress bar on a terminal while loadModel runs, then a
// "loaded ..." line on stderr.
import { statSync } from "node:fs";
import { basename } from "node:path";
import { loadModel, type Model } from "../model.js";
import type { LoadModelOptions } from "../types.js";
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
