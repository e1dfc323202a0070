#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Writes a random-weight LFM2 / LFM2-MoE GGUF of a preset shape (lib/synthetic/model.ts).
//   node scripts/make-model.mjs PRESET TYPE OUT.gguf [--seed N] [--exact]
//   PRESET: tiny | tinyMoe | lfm2-1.2b | lfm2-8b-a1b | lfm2-24b-a2b
//   TYPE:   F32 | F16 | BF16 | Q8_0 | Q4_0 | Q6_K | Q4_K_M | Q5_K_M (llama.cpp mixes)
// Full-size presets use the fast path (random quant blocks) unless --exact is given, which
// encodes random floats with the bit-exact ggml encoders (much slower). Needs the compiled
// package: npm run build:ts.
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { PRESETS, syntheticModelSize, writeSyntheticModel } from "../dist/synthetic/model.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: "string", default: "1" },
    exact: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
const [preset, type, out] = positionals;
const TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q6_K", "Q4_K_M", "Q5_K_M"];
if (values.help || !preset || !type || !out || !(preset in PRESETS) || !TYPES.includes(type)) {
  console.error(`usage: node scripts/make-model.mjs PRESET TYPE OUT.gguf [--seed N] [--exact]
  PRESET: ${Object.keys(PRESETS).join(" | ")}
  TYPE:   ${TYPES.join(" | ")}`);
  process.exit(values.help ? 0 : 2);
}
const seed = Number(values.seed);
if (!Number.isInteger(seed)) {
  console.error(`--seed must be an integer, got ${values.seed}`);
  process.exit(2);
}

const cfg = PRESETS[preset];
const fast = !values.exact && cfg.hidden >= 1024;
const { parameters, fileBytes } = syntheticModelSize(cfg, type);
console.log(`${preset} ${type}: ${(parameters / 1e9).toFixed(3)} B parameters, ${(fileBytes / 2 ** 30).toFixed(2)} GiB, ${fast ? "fast" : "exact"} weights, seed ${seed}`);
const t0 = performance.now();
await writeSyntheticModel(out, cfg, { type, seed, fast });
const s = (performance.now() - t0) / 1000;
const size = statSync(out).size;
console.log(`wrote ${out}: ${size} bytes in ${s.toFixed(1)} s (${(size / 2 ** 20 / s).toFixed(0)} MiB/s)`);
