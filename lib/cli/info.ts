// SPDX-License-Identifier: MIT
// `lfm2 info`: what a GGUF model is (shape, layer pattern, experts, tensor types) and the memory
// it takes for a given context.
import type { Model } from "../model.js";
import type { ModelInfo } from "../types.js";
import { numberArg, parseCommand, positionalArgs, shortUsage } from "./args.js";
import { formatBytes, formatCount, formatRanges } from "./format.js";
import { loadForCli } from "./load.js";

export const INFO_HELP = `usage: lfm2 info MODEL.gguf [options]

Prints the model's architecture, name, parameter count, file size, layer pattern (C = gated
short convolution, A = grouped-query attention), attention heads, FFN widths, experts (MoE),
vocabulary, trained context length, tensor types, and the memory it needs: the weights plus,
for a context of --ctx tokens, the f32 KV cache (2 x ctx x KV heads x head dim x 4 bytes per
attention layer) and the convolution state ((L-1) x width x 4 bytes per conv layer).

options:
  --ctx N     context size for the memory estimate (default: min(4096, the model's context length))
  --json      print the same as one JSON object
  -h, --help  this help

example:
  lfm2 info LFM2-8B-A1B-Q4_0.gguf --ctx 32768`;

const USAGE = shortUsage(INFO_HELP, "info");

/** The JSON form of `lfm2 info`. */
export interface ModelReport {
  file: string;
  fileSize: number;
  architecture: ModelInfo["architecture"];
  name: string;
  parameters: number;
  ggufVersion: number;
  vocabSize: number;
  contextLength: number;
  embeddingLength: number;
  layers: { count: number; pattern: string; conv: number; attention: number; attentionLayers: number[] };
  attention: { heads: number; kvHeads: number[]; headDim: number };
  convLCache: number;
  /** Dense FFN width per layer (0 for MoE layers). */
  feedForwardLength: number[];
  experts: { count: number; used: number; feedForwardLength: number; leadingDenseBlocks: number } | null;
  tensorCount: number;
  tensorTypes: Record<string, number>;
  memory: {
    contextSize: number;
    /** Bytes of tensor data in the file. */
    weights: number;
    /** f32 K and V of every attention layer for contextSize tokens. */
    kvCache: number;
    /** (L-1) x width f32 of every conv layer. */
    convState: number;
    /** The sequence state: kvCache + convState, or what a sequence of this context reports. */
    state: number;
    stateSource: "sequence" | "computed";
    total: number;
  };
}

/** Sequence state bytes from the shapes (as the engine allocates them: f32 KV cache and conv state). */
export function stateFromShape(info: ModelInfo, contextSize: number): { kvCache: number; convState: number } {
  let kvCache = 0;
  let convState = 0;
  info.layerKinds.forEach((kind, l) => {
    if (kind === "attention") kvCache += 2 * contextSize * info.headCountKv[l]! * info.headDim * 4;
    else convState += (info.convLCache - 1) * info.embeddingLength * 4;
  });
  return { kvCache, convState };
}

/** Everything `lfm2 info` shows; creates (and frees) a sequence to read its state size when the API exposes it. */
export function describeModel(model: Model, contextSize: number): ModelReport {
  const i = model.info;
  const tensors = model.tensors();
  const weights = tensors.reduce((s, t) => s + t.bytes, 0);
  const { kvCache, convState } = stateFromShape(i, contextSize);
  let state = kvCache + convState;
  let stateSource: ModelReport["memory"]["stateSource"] = "computed";
  if (contextSize <= i.contextLength) {
    const seq = model.createSequence({ contextSize });
    try {
      const measured = (seq as unknown as { stateBytes?: unknown }).stateBytes;
      if (typeof measured === "number" && measured > 0) {
        state = measured;
        stateSource = "sequence";
      }
    } finally {
      seq.dispose();
    }
  }
  const attention = i.attentionLayers.length;
  return {
    file: model.path,
    fileSize: i.fileSize,
    architecture: i.architecture,
    name: i.name,
    parameters: i.parameterCount,
    ggufVersion: i.ggufVersion,
    vocabSize: i.vocabSize,
    contextLength: i.contextLength,
    embeddingLength: i.embeddingLength,
    layers: {
      count: i.layerCount,
      pattern: i.layerKinds.map((k) => (k === "attention" ? "A" : "C")).join(""),
      conv: i.layerCount - attention,
      attention,
      attentionLayers: [...i.attentionLayers],
    },
    attention: { heads: i.headCount, kvHeads: i.attentionLayers.map((l) => i.headCountKv[l]!), headDim: i.headDim },
    convLCache: i.convLCache,
    feedForwardLength: [...i.feedForwardLength],
    experts:
      i.expertCount > 0
        ? { count: i.expertCount, used: i.expertUsedCount, feedForwardLength: i.expertFeedForwardLength, leadingDenseBlocks: i.leadingDenseBlockCount }
        : null,
    tensorCount: tensors.length,
    tensorTypes: { ...i.tensorTypes },
    memory: { contextSize, weights, kvCache, convState, state, stateSource, total: weights + state },
  };
}

/** Layers grouped by value: [[96, 0], [96, 1], [0, 2]] -> "96 (layers 0-1), 0 (layer 2)". */
function groupLayers(pairs: readonly (readonly [value: number, layer: number])[]): string {
  const groups = new Map<number, number[]>();
  for (const [v, l] of pairs) {
    const g = groups.get(v);
    if (g) g.push(l);
    else groups.set(v, [l]);
  }
  return [...groups].map(([v, ls]) => `${v} (layer${ls.length > 1 ? "s" : ""} ${formatRanges(ls)})`).join(", ");
}

export function formatReport(r: ModelReport): string {
  const lines: [string, string][] = [];
  const add = (k: string, v: string) => lines.push([k, v]);
  add("file", `${r.file} (${formatBytes(r.fileSize)}, GGUF v${r.ggufVersion})`);
  add("architecture", r.architecture === "lfm2moe" ? "lfm2moe (mixture of experts)" : "lfm2 (dense)");
  add("name", r.name || "(none)");
  add("parameters", `${formatCount(r.parameters)} (${r.parameters})`);
  add("layers", `${r.layers.count}: ${r.layers.pattern} (C conv x${r.layers.conv}, A attention x${r.layers.attention})`);
  add("embedding", `${r.embeddingLength}`);
  if (r.layers.attention > 0) {
    const kv = [...new Set(r.attention.kvHeads)];
    add(
      "attention",
      `${r.attention.heads} heads, ${kv.length === 1 ? kv[0] : r.attention.kvHeads.join("/")} KV heads, head dim ${r.attention.headDim}` +
        ` (layers ${r.layers.attentionLayers.join(", ")})`,
    );
  }
  add("convolution", `L = ${r.convLCache}`);
  if (r.experts) {
    const dense = r.feedForwardLength.map((w, l) => [w, l] as const).filter(([w]) => w > 0);
    const moe = r.feedForwardLength.flatMap((w, l) => (w === 0 ? [l] : []));
    if (dense.length > 0) add("dense FFN", groupLayers(dense));
    add(
      "experts",
      `${r.experts.count} experts, ${r.experts.used} used per token, expert FFN ${r.experts.feedForwardLength}` +
        (moe.length > 0 ? ` (layers ${formatRanges(moe)})` : "") +
        `, ${r.experts.leadingDenseBlocks} leading dense layer${r.experts.leadingDenseBlocks === 1 ? "" : "s"}`,
    );
  } else {
    add("FFN", groupLayers(r.feedForwardLength.map((w, l) => [w, l] as const)));
  }
  add("vocabulary", `${r.vocabSize} tokens`);
  add("context", `${r.contextLength} tokens (trained)`);
  add(
    "tensors",
    `${r.tensorCount}: ` +
      Object.entries(r.tensorTypes)
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([t, n]) => `${t} ${n}`)
        .join(", "),
  );
  const m = r.memory;
  const beyond = m.contextSize > r.contextLength ? `, beyond the trained ${r.contextLength}` : "";
  add("memory", `for a context of ${m.contextSize} tokens${beyond}:`);
  const w = (label: string, bytes: number, detail: string) => lines.push([`  ${label}`, `${formatBytes(bytes).padStart(10)}  ${detail}`]);
  w("weights", m.weights, "tensor data");
  const kvHeads = [...new Set(r.attention.kvHeads)];
  const kvDetail = kvHeads.length === 1 ? `${r.layers.attention} attention layers x 2 x ${m.contextSize} x ${kvHeads[0]} KV heads` : `2 x ${m.contextSize} x (${r.attention.kvHeads.join(" + ")}) KV heads`;
  w("KV cache", m.kvCache, `f32, ${kvDetail} x ${r.attention.headDim} x 4 B`);
  w("conv state", m.convState, `f32, ${r.layers.conv} conv layers x ${r.convLCache - 1} x ${r.embeddingLength} x 4 B`);
  if (m.stateSource === "sequence" && m.state !== m.kvCache + m.convState) {
    w("state", m.state, `as a sequence reports it (KV cache + conv state: ${formatBytes(m.kvCache + m.convState)})`);
  }
  w("total", m.total, m.stateSource === "sequence" ? "weights + sequence state (measured)" : "weights + KV cache + conv state");
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  return lines.map(([k, v]) => `${(k + ":").padEnd(width)}${v}`).join("\n");
}

export async function infoCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    { help: { type: "boolean", short: "h" }, ctx: { type: "string" }, json: { type: "boolean" } },
    USAGE,
  );
  if (values.help) {
    console.log(INFO_HELP);
    return 0;
  }
  const [path] = positionalArgs(positionals, ["MODEL"], USAGE) as [string];
  const ctxArg = numberArg("--ctx", values.ctx, USAGE, { min: 1, integer: true });
  // The weights stay in the file mapping: nothing is read that info does not need.
  const { model } = await loadForCli(path, { device: "cpu", useMmap: true, threads: 1 }, false);
  try {
    const report = describeModel(model, ctxArg ?? Math.min(4096, model.info.contextLength));
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return 0;
  } finally {
    model.dispose();
  }
}
