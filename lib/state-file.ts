// SPDX-License-Identifier: MIT
// Sequence state files: "LFM2SEQ\0", u32 version, u32 header length, a JSON header (the model's
// shape, the tokens, metadata), the native state (conv state + KV rows, exportState), then the
// last logits (f32 x vocabSize) when the header says so. Little-endian.
import { readFile, writeFile } from "node:fs/promises";
import { LfmError } from "./errors.js";
import type { ModelInfo } from "./types.js";

const MAGIC = "LFM2SEQ\0";
const VERSION = 1;

/** What must match between the model that wrote a state and the one reading it. */
function shapeOf(info: ModelInfo) {
  return {
    architecture: info.architecture,
    vocabSize: info.vocabSize,
    layerCount: info.layerCount,
    layerKinds: info.layerKinds.join(","),
    embeddingLength: info.embeddingLength,
    headCountKv: info.headCountKv.join(","),
    headDim: info.headDim,
    parameterCount: info.parameterCount,
  };
}

interface Header {
  model: ReturnType<typeof shapeOf> & { name: string };
  tokens: number[];
  stateBytes: number;
  logits: boolean;
  metadata?: unknown;
}

export interface StateFile {
  tokens: number[];
  state: ArrayBuffer;
  logits: Float32Array | undefined;
  metadata: unknown;
}

export async function writeStateFile(
  path: string,
  s: { model: ModelInfo; tokens: readonly number[]; state: ArrayBuffer; logits: Float32Array | undefined; metadata: unknown },
): Promise<void> {
  const header: Header = {
    model: { ...shapeOf(s.model), name: s.model.name },
    tokens: [...s.tokens],
    stateBytes: s.state.byteLength,
    logits: s.logits !== undefined,
    ...(s.metadata !== undefined && { metadata: s.metadata }),
  };
  let json: Buffer;
  try {
    json = Buffer.from(JSON.stringify(header), "utf8");
  } catch (err) {
    throw new LfmError("ERR_LFM_INVALID_ARG", `[saveState] metadata is not JSON-serialisable: ${(err as Error).message}`);
  }
  const fixed = Buffer.alloc(16);
  fixed.write(MAGIC, 0, "latin1");
  fixed.writeUInt32LE(VERSION, 8);
  fixed.writeUInt32LE(json.length, 12);
  const parts: Uint8Array[] = [fixed, json, new Uint8Array(s.state)];
  if (s.logits) parts.push(new Uint8Array(s.logits.buffer, s.logits.byteOffset, s.logits.byteLength));
  try {
    await writeFile(path, Buffer.concat(parts));
  } catch (err) {
    throw new LfmError("ERR_LFM_IO", `[saveState] cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export async function readStateFile(path: string, model: ModelInfo): Promise<StateFile> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === "ENOENT" ? "ERR_LFM_FILE_NOT_FOUND" : "ERR_LFM_IO";
    throw new LfmError(code, `[loadState] cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const bad = (why: string) => new LfmError("ERR_LFM_MODEL_FORMAT", `[loadState] ${path} is not a valid lfm2 state file: ${why}`);
  if (buf.length < 16 || buf.toString("latin1", 0, 8) !== MAGIC) throw bad("no LFM2SEQ header");
  const version = buf.readUInt32LE(8);
  if (version !== VERSION) throw bad(`version ${version} (this lfm2 reads version ${VERSION})`);
  const jsonLen = buf.readUInt32LE(12);
  if (16 + jsonLen > buf.length) throw bad("truncated header");
  let header: Header;
  try {
    header = JSON.parse(buf.toString("utf8", 16, 16 + jsonLen)) as Header;
  } catch {
    throw bad("unreadable header");
  }
  if (!Array.isArray(header.tokens) || typeof header.stateBytes !== "number" || typeof header.model !== "object" || header.model === null) {
    throw bad("incomplete header");
  }
  const want = shapeOf(model);
  for (const [k, v] of Object.entries(want)) {
    const got = (header.model as Record<string, unknown>)[k];
    if (got !== v) {
      throw new LfmError(
        "ERR_LFM_SHAPE_MISMATCH",
        `[loadState] ${path} was written by another model (${header.model.name || header.model.architecture}): ${k} is ${String(got)}, this model's is ${String(v)}`,
      );
    }
  }
  const V = model.vocabSize;
  if (header.tokens.some((t) => !Number.isInteger(t) || t < 0 || t >= V)) throw bad("token ids out of range");
  const logitsBytes = header.logits ? V * 4 : 0;
  const start = 16 + jsonLen;
  if (buf.length !== start + header.stateBytes + logitsBytes) {
    throw bad(`${buf.length} bytes, expected ${start + header.stateBytes + logitsBytes} (truncated or extended)`);
  }
  const state = buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + start + header.stateBytes) as ArrayBuffer;
  let logits: Float32Array | undefined;
  if (header.logits) {
    const off = buf.byteOffset + start + header.stateBytes;
    logits = new Float32Array(buf.buffer.slice(off, off + logitsBytes) as ArrayBuffer);
  }
  return { tokens: header.tokens, state, logits, metadata: header.metadata };
}
