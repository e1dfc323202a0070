// SPDX-License-Identifier: MIT
// The only file that touches the .node addon: loads it with node-gyp-build and types it.
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LfmError } from "./errors.js";
import type { ModelInfo, RuntimeInfo } from "./types.js";

export interface NativeRuntimeInfo {
  cpu: { isa: string; bestIsa: string; features: string[]; physicalCores: number };
  cuda: RuntimeInfo["cuda"];
}

/** What the addon reports of a model; lib/model.ts adds the tokenizer-derived fields. */
export type NativeModelInfo = Omit<ModelInfo, "architecture" | "attentionLayers" | "bosId" | "eosId" | "eogIds" | "device"> & {
  architecture: string;
  device: string;
};

export interface NativeVocab {
  tokens: string[];
  tokenTypes: Int32Array;
  merges: string[];
  model?: string;
  pre?: string;
  chatTemplate?: string;
  bosId?: number;
  eosId?: number;
  eotId?: number;
  padId?: number;
  addBos?: boolean;
  addEos?: boolean;
}

/** One tensor of the GGUF file: ggml shape (ne0 first), storage type and size in bytes. */
export interface TensorInfo {
  name: string;
  type: string;
  shape: number[];
  bytes: number;
}

export interface NativeSequence {
  reset(): void;
  dispose(): void;
  readonly length: number;
  readonly contextSize: number;
  readonly stateBytes: number;
}

export interface NativeModel {
  info(): NativeModelInfo;
  vocab(): NativeVocab;
  metadata(): Record<string, unknown>;
  tensors(): TensorInfo[];
  createSequence(contextSize: number): NativeSequence;
  /**
   * Evaluates several sequences of this model in one forward pass (on a worker thread); resolves
   * to each item's logits (last token, or every token with allLogits). Validation failures of
   * any item reject the whole batch before any sequence changes.
   */
  evaluateBatch(items: { seq: NativeSequence; tokens: Int32Array; allLogits: boolean }[]): Promise<Float32Array[]>;
  dispose(): void;
  readonly disposed: boolean;
}

export interface NativeBinding {
  loadModel(
    path: string,
    options: { threads: number; useMmap: boolean; activations: ModelInfo["activations"]; device: "auto" | "cuda" | "cpu" },
  ): Promise<NativeModel>;
  runtimeInfo(): NativeRuntimeInfo;
  /** Test hook: kernel table for models loaded from now on ("" = default). Returns the ISA. */
  _setCpuIsa(isa: string): string;
  /** Test hook: runs one CPU kernel of one ISA on the given inputs. */
  _runKernel(isa: string, op: string, args: Record<string, unknown>): Float32Array;
  /** Paths to try for the CUDA backend before the built-in ones; false once CUDA was probed. */
  _setCudaBackendPaths(paths: string[]): boolean;
  /** Test hook: runs one CUDA kernel on host buffers (lfm_cuda_run_kernel); throws without a device. */
  _runCudaKernel(
    op: string,
    ints: number[],
    floats: number[],
    inputs: ArrayBufferView[],
    outBytes: number,
    out2Bytes: number,
  ): { out: ArrayBuffer; out2?: ArrayBuffer };
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Platforms the package ships prebuilt addons for (.github/workflows/release.yml). */
const PREBUILT = ["linux-x64-glibc", "linux-arm64-glibc", "darwin-arm64", "darwin-x64", "win32-x64"];

/** "glibc" (with its version) or "musl" on Linux; "" elsewhere. */
function libcOf(): string {
  if (process.platform !== "linux") return "";
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : "musl";
}

/** What is in a folder, for the diagnostics ("" when it does not exist). */
function listing(dir: string): string {
  try {
    return readdirSync(dir).join(", ") || "(empty)";
  } catch {
    return "(none)";
  }
}

/**
 * The error when the addon cannot load, in the manner of sharp's: the platform seen, what was
 * looked for and found, the cause, and what to do about it.
 */
export function addonLoadError(err: unknown, dir = root): LfmError {
  const detail = err instanceof Error ? err.message : String(err);
  const libc = libcOf();
  const platform = `${process.platform}-${process.arch}${libc ? `-${libc.split(" ")[0]}` : ""}`;
  const prebuilds = join(dir, "prebuilds");
  const lines = [
    `Could not load the lfm2 native addon for ${platform}${libc ? ` (${libc})` : ""}, Node ${process.versions.node}, ` +
      `Node-API ${process.versions.napi}.`,
    `Looked for a prebuilt addon in ${join(prebuilds, `${process.platform}-${process.arch}`)} ` +
      `(prebuilds here: ${listing(prebuilds)}) and for a local build in ${join(dir, "build", "Release")} ` +
      `(${listing(join(dir, "build", "Release"))}).`,
    `Cause: ${detail}`,
  ];
  if (/No native build was found/.test(detail)) {
    lines.push(
      PREBUILT.includes(platform)
        ? "This platform has a prebuilt addon, so the package looks incomplete: reinstall it (npm install lfm2)."
        : `No prebuilt addon exists for ${platform} (prebuilt: ${PREBUILT.join(", ")}). Build one from source: ` +
            "install a C++17 compiler, make and Python 3, then run npm rebuild lfm2 (npm 11 runs a package's " +
            "install script only once allowed: npm install-scripts approve lfm2).",
    );
  } else if (/GLIBC|GLIBCXX|version .* not found/.test(detail)) {
    lines.push("The prebuilt addon needs a newer C library than this system has: run npm rebuild lfm2 to build it here.");
  } else if (/Module did not self-register|NODE_MODULE_VERSION|napi/i.test(detail)) {
    lines.push("The addon was built for another Node.js: run npm rebuild lfm2 (Node.js >= 20 is required).");
  } else {
    lines.push("Try npm rebuild lfm2 (needs a C++17 compiler, make and Python 3), or report the lines above.");
  }
  return new LfmError("ERR_LFM_ADDON_LOAD", lines.join("\n"), { cause: err });
}

/**
 * Where an installed CUDA backend could be: the optional package lfm2-cuda-<platform>-<arch>
 * (installed only by those who want the GPU), then prebuilds/<platform>-<arch>/ of this package.
 */
function cudaBackendPaths(require: NodeJS.Require): string[] {
  const file = process.platform === "win32" ? "lfm2_cuda.dll" : "liblfm2_cuda.so";
  const out: string[] = [];
  try {
    out.push(join(dirname(require.resolve(`lfm2-cuda-${process.platform}-${process.arch}/package.json`)), file));
  } catch {
    // not installed: the usual case on machines without a GPU
  }
  out.push(join(root, "prebuilds", `${process.platform}-${process.arch}`, file));
  return out;
}

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  let binding: NativeBinding;
  try {
    const nodeGypBuild = require("node-gyp-build") as (dir: string) => unknown;
    binding = nodeGypBuild(root) as NativeBinding;
  } catch (err) {
    throw addonLoadError(err);
  }
  binding._setCudaBackendPaths(cudaBackendPaths(require));
  return binding;
}

let cached: NativeBinding | undefined;

/** The addon, loaded on first use. */
export function native(): NativeBinding {
  cached ??= load();
  return cached;
}
