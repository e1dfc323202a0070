#!/usr/bin/env node
// npm run demo [-- MODEL.gguf] : streams a short generation. Without a model path it writes a
// tiny random LFM2-MoE model first, so the text is random but every layer kind runs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel, runtimeInfo } from "../dist/index.js";
import { PRESETS, writeSyntheticModel } from "../dist/synthetic/model.js";

let path = process.argv[2];
let cleanup = () => {};
if (!path) {
  const dir = mkdtempSync(join(tmpdir(), "lfm2-demo-"));
  path = join(dir, "tiny-moe-q8_0.gguf");
  await writeSyntheticModel(path, PRESETS.tinyMoe, { type: "Q8_0", seed: 1 });
  cleanup = () => rmSync(dir, { recursive: true, force: true });
}
const model = await loadModel(path);
const { info } = model;
console.log(`${info.architecture}: ${info.layerCount} layers (${info.attentionLayers.length} attention), ` +
  `${info.expertCount ? `${info.expertCount} experts top-${info.expertUsedCount}, ` : ""}vocab ${info.vocabSize}, kernels ${runtimeInfo().cpu.isa}, ${info.threads} threads`);
const seq = model.createSequence({ contextSize: 512 });
const prompt = model.tokenize("<|im_start|>user\nTell me about liquid neural networks.<|im_end|>\n<|im_start|>assistant\n");
const t0 = performance.now();
let n = 0;
for await (const { text } of seq.generate(prompt, { maxTokens: 48, temperature: 0.8, seed: 7 })) {
  process.stdout.write(text);
  n++;
}
const s = (performance.now() - t0) / 1000;
console.log(`\n\n${prompt.length} prompt tokens, ${n} generated in ${s.toFixed(2)} s (${(n / s).toFixed(1)} tokens/s)`);
model.dispose();
cleanup();
