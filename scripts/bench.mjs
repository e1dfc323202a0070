#!/usr/bin/env node
// npm run bench -- [MODEL.gguf | --preset lfm2-8b-a1b --type Q4_0] [--threads 2] [--reps 3]
//                  [--pp 512] [--tg 128] [--no-llama] [--bandwidth 76e9]
// Needs the compiled package (npm install / npm run build:ts).
import { parseArgs } from "node:util";
import { bench, formatBench, syntheticBenchModel } from "../dist/bench.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    preset: { type: "string" },
    type: { type: "string", default: "Q4_0" },
    threads: { type: "string", default: "2" },
    reps: { type: "string", default: "3" },
    pp: { type: "string", default: "512" },
    tg: { type: "string", default: "128" },
    "no-llama": { type: "boolean", default: false },
    bandwidth: { type: "string", default: "76e9" },
    dir: { type: "string", default: ".cache/models" },
  },
});
let path = positionals[0];
if (!path) {
  if (!values.preset) {
    console.error("usage: npm run bench -- MODEL.gguf | --preset lfm2-1.2b|lfm2-8b-a1b|lfm2-24b-a2b [--type Q4_0]");
    process.exit(2);
  }
  console.log(`writing synthetic ${values.preset} ${values.type} (once) ...`);
  path = await syntheticBenchModel(values.preset, values.type, values.dir);
}
const opts = {
  threads: Number(values.threads),
  promptTokens: Number(values.pp),
  genTokens: Number(values.tg),
  reps: Number(values.reps),
  llamaCpp: !values["no-llama"],
  bandwidth: Number(values.bandwidth),
  log: (l) => console.log(l),
};
const result = await bench(path, opts);
console.log("\n" + formatBench(result, opts));
