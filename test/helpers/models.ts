// Test model files: tiny random LFM2 / LFM2-MoE GGUFs written by the project's own writer,
// cached per process in a temporary folder.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PRESETS, writeSyntheticModelSync, type SyntheticConfig, type SyntheticOptions, type WeightType } from "../../lib/synthetic/model.js";

export const WEIGHT_TYPES: readonly WeightType[] = ["F32", "F16", "BF16", "Q8_0", "Q4_0"];
/** Types added later: the legacy blocks, and the K-quants (which need rows of 256-multiples). */
export const LEGACY_TYPES: readonly WeightType[] = ["Q4_1", "Q5_0", "Q5_1"];
export const K_TYPES: readonly WeightType[] = ["Q4_K", "Q5_K", "Q6_K", "Q4_K_M", "Q5_K_M"];
/** Widths that are multiples of the K-quant super-block (256) for the tiny shapes. */
export const K_QUANT_CONFIG = { hidden: 256, ffn: 512, expertFfn: 256 } as const;
export const ARCHS = ["lfm2", "lfm2moe"] as const;
export type Arch = (typeof ARCHS)[number];

let dir: string | undefined;

/**
 * A per-process scratch folder, removed at exit and, with the rest of the run's folder
 * (LFM2_TEST_TMP, test/global-setup.ts), when the run ends.
 */
export function scratchDir(): string {
  if (!dir) {
    const base = process.env.LFM2_TEST_TMP ?? tmpdir();
    mkdirSync(base, { recursive: true });
    dir = mkdtempSync(join(base, "lfm2-test-"));
    const d = dir;
    process.on("exit", () => rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}

const cache = new Map<string, string>();

/** The config of the tiny test model of an architecture. */
export function tinyConfig(arch: Arch): SyntheticConfig {
  return arch === "lfm2" ? PRESETS.tiny : PRESETS.tinyMoe;
}

/** Path of a tiny random model of `arch` in `type` (written on first use). */
export function tinyModel(arch: Arch, type: WeightType, opts: Partial<SyntheticOptions> & { config?: Partial<SyntheticConfig> } = {}): string {
  const key = JSON.stringify([arch, type, opts]);
  const hit = cache.get(key);
  if (hit) return hit;
  const path = join(scratchDir(), `model-${cache.size}-${arch}-${type}.gguf`);
  const { config, ...rest } = opts;
  writeSyntheticModelSync(path, { ...tinyConfig(arch), ...config }, { seed: 1, ...rest, type });
  cache.set(key, path);
  return path;
}
