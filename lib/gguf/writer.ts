// SPDX-License-Identifier: MIT
// GGUF v3 (or v2) writer: typed metadata, tensor infos and aligned tensor data, streamed to disk
// chunk by chunk so multi-GB files never sit in memory. Layout per ggml docs/gguf.md.

import * as fs from "node:fs";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgufValueTypeId,
  ggmlTypeTraits,
  tensorByteSize,
  type GgmlTypeName,
  type GgufArray,
  type GgufValue,
  type GgufValueType,
} from "./types.js";

// --- Public types ---

/** Tensor bytes: ready, or produced in chunks (sync or async iterable) while the file is written. */
export type TensorData = Uint8Array | (() => Iterable<Uint8Array> | AsyncIterable<Uint8Array>);

/** One tensor to write. */
export interface GgufTensorSpec {
  /** At most 63 bytes of UTF-8 (GGML_MAX_NAME - 1). */
  name: string;
  /** ggml dims, ne0 (contiguous) first; 1 to 4 of them. A torch [out, in] matrix is [in, out]. */
  dims: readonly number[];
  /** ggml type id or name. */
  type: number | GgmlTypeName;
  /** Exactly {@link tensorByteSize}(type, dims) bytes; checked while writing. */
  data: TensorData;
}

/** A whole file. Metadata is written in the given order. */
export interface GgufFileSpec {
  /** GGUF version, 3 (default) or 2; the byte layout is the same for little-endian files. */
  version?: 2 | 3;
  /**
   * Data alignment (default 32). A value other than 32 is also written as `general.alignment`
   * unless the metadata already holds that key (which must then agree).
   */
  alignment?: number;
  metadata: ReadonlyArray<readonly [string, GgufValue]> | Readonly<Record<string, GgufValue>>;
  tensors: readonly GgufTensorSpec[];
}

/** Where everything ended up. Offsets are absolute file offsets except `relOffset`. */
export interface GgufLayout {
  version: number;
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  tensors: { name: string; dims: number[]; type: number; relOffset: number; byteSize: number }[];
  fileSize: number;
}

// --- Header encoding ---

/** Growable little-endian byte buffer. */
class ByteBuilder {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  u8(v: number): void { this.reserve(1); this.dv.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.reserve(1); this.dv.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.reserve(2); this.dv.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.reserve(2); this.dv.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.reserve(4); this.dv.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.dv.setInt32(this.length, v, true); this.length += 4; }
  u64(v: bigint): void { this.reserve(8); this.dv.setBigUint64(this.length, v, true); this.length += 8; }
  i64(v: bigint): void { this.reserve(8); this.dv.setBigInt64(this.length, v, true); this.length += 8; }
  f32(v: number): void { this.reserve(4); this.dv.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.reserve(8); this.dv.setFloat64(this.length, v, true); this.length += 8; }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.length); this.length += b.length; }
  /** gguf_string: u64 byte length, then UTF-8 bytes without terminator. */
  str(s: string): void {
    const b = utf8.encode(s);
    this.u64(BigInt(b.length));
    this.bytes(b);
  }
  zeros(n: number): void { this.reserve(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }
  result(): Uint8Array { return this.buf.slice(0, this.length); }
}

const utf8 = new TextEncoder();

const INT_RANGES: Partial<Record<GgufValueType, [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

function fail(where: string, msg: string): never {
  throw new Error(`[gguf] ${where}: ${msg}`);
}

function to64(where: string, v: unknown, signed: boolean): bigint {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
  else fail(where, `expected an integer (number or bigint), got ${String(v)}`);
  const lo = signed ? -(1n << 63n) : 0n;
  const hi = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
  if (b < lo || b > hi) fail(where, `${b} out of range for ${signed ? "i64" : "u64"}`);
  return b;
}

/** Writes one value (without its type id) of GGUF type `type`. */
function putValue(out: ByteBuilder, where: string, type: GgufValueType, v: unknown, elemType?: GgufValueType): void {
  const range = INT_RANGES[type];
  if (range) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < range[0] || v > range[1]) {
      fail(where, `expected an integer in [${range[0]}, ${range[1]}] for ${type}, got ${String(v)}`);
    }
  }
  switch (type) {
    case "u8": return out.u8(v as number);
    case "i8": return out.i8(v as number);
    case "u16": return out.u16(v as number);
    case "i16": return out.i16(v as number);
    case "u32": return out.u32(v as number);
    case "i32": return out.i32(v as number);
    case "u64": return out.u64(to64(where, v, false));
    case "i64": return out.i64(to64(where, v, true));
    case "f32":
    case "f64":
      if (typeof v !== "number") fail(where, `expected a number for ${type}, got ${typeof v}`);
      return type === "f32" ? out.f32(v) : out.f64(v);
    case "bool":
      if (typeof v !== "boolean") fail(where, `expected a boolean, got ${typeof v}`);
      return out.u8(v ? 1 : 0);
    case "string":
      if (typeof v !== "string") fail(where, `expected a string, got ${typeof v}`);
      return out.str(v);
    case "array": {
      // Elements of a nested array are GgufArray objects; others are plain JS values.
      const arr = v as GgufArray;
      const et = elemType ?? arr.elementType;
      if (!(et in GgufValueTypeId)) fail(where, `unknown array element type ${String(et)}`);
      out.u32(GgufValueTypeId[et]);
      out.u64(BigInt(arr.value.length));
      arr.value.forEach((e, i) => {
        if (et === "array") {
          const inner = e as GgufArray;
          if (inner?.type !== "array") fail(`${where}[${i}]`, "expected a nested { type: 'array' } value");
          putValue(out, `${where}[${i}]`, "array", inner);
        } else {
          putValue(out, `${where}[${i}]`, et, e);
        }
      });
      return;
    }
    default:
      fail(where, `unknown value type ${String(type)}`);
  }
}

function metadataEntries(spec: GgufFileSpec): [string, GgufValue][] {
  const md = spec.metadata;
  return Array.isArray(md) ? md.map(([k, v]) => [k, v] as [string, GgufValue]) : Object.entries(md as Record<string, GgufValue>);
}

/**
 * Encodes everything before the tensor data (header, metadata, tensor infos, padding) and plans
 * the data layout. Exported for tests and for writers with their own I/O.
 */
export function encodeGgufHeader(spec: GgufFileSpec): { header: Uint8Array; layout: GgufLayout } {
  const version = spec.version ?? 3;
  if (version !== 2 && version !== 3) fail("version", `only 2 and 3 are supported, got ${String(version)}`);
  const entries = metadataEntries(spec);
  const keys = new Set<string>();
  for (const [k] of entries) {
    if (keys.has(k)) fail(k, "duplicate metadata key");
    keys.add(k);
  }

  let alignment = spec.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const alignEntry = entries.find(([k]) => k === "general.alignment");
  if (alignEntry) {
    const v = alignEntry[1];
    if (v.type !== "u32") fail("general.alignment", "must be a u32");
    if (spec.alignment !== undefined && spec.alignment !== v.value) fail("general.alignment", "disagrees with spec.alignment");
    alignment = v.value as number;
  } else if (alignment !== GGUF_DEFAULT_ALIGNMENT) {
    entries.push(["general.alignment", { type: "u32", value: alignment }]);
  }
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    fail("general.alignment", `must be a power of two, got ${alignment}`);
  }

  const out = new ByteBuilder();
  out.u32(GGUF_MAGIC);
  out.u32(version);
  out.u64(BigInt(spec.tensors.length));
  out.u64(BigInt(entries.length));
  for (const [key, value] of entries) {
    if (!value || typeof value !== "object" || !(value.type in GgufValueTypeId)) fail(key, "value must be { type, value }");
    out.str(key);
    out.u32(GgufValueTypeId[value.type]);
    putValue(out, key, value.type, value.type === "array" ? value : value.value);
  }

  const names = new Set<string>();
  const tensors: GgufLayout["tensors"] = [];
  let rel = 0;
  for (const t of spec.tensors) {
    const where = `tensor ${t.name}`;
    if (utf8.encode(t.name).length >= 64) fail(where, "name longer than 63 bytes");
    if (names.has(t.name)) fail(where, "duplicate tensor name");
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > 4) fail(where, `needs 1..4 dims, got ${t.dims.length}`);
    for (const d of t.dims) if (!Number.isSafeInteger(d) || d < 1) fail(where, `bad dim ${d}`);
    const traits = ggmlTypeTraits(t.type);
    const byteSize = tensorByteSize(traits.id, t.dims);
    out.str(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(BigInt(d));
    out.u32(traits.id);
    out.u64(BigInt(rel));
    tensors.push({ name: t.name, dims: [...t.dims], type: traits.id, relOffset: rel, byteSize });
    rel += alignUp(byteSize, alignment);
  }
  out.zeros(alignUp(out.length, alignment) - out.length);
  const dataOffset = out.length;
  return { header: out.result(), layout: { version, alignment, dataOffset, tensors, fileSize: dataOffset + rel } };
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

// --- Streaming output ---

const COALESCE_BYTES = 8 << 20;

/** Buffers small chunks into large writes; large chunks go straight through. */
class Coalescer {
  private readonly buf = new Uint8Array(COALESCE_BYTES);
  private used = 0;
  constructor(private readonly sink: (b: Uint8Array) => void | Promise<void>) {}
  async push(b: Uint8Array): Promise<void> {
    if (this.used + b.length > this.buf.length) await this.flush();
    if (b.length >= this.buf.length) return this.sink(b);
    this.buf.set(b, this.used);
    this.used += b.length;
  }
  pushSync(b: Uint8Array): void {
    if (this.used + b.length > this.buf.length) this.flushSync();
    if (b.length >= this.buf.length) {
      this.sink(b);
      return;
    }
    this.buf.set(b, this.used);
    this.used += b.length;
  }
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const b = this.buf.slice(0, this.used);
    this.used = 0;
    await this.sink(b);
  }
  flushSync(): void {
    if (this.used === 0) return;
    const b = this.buf.subarray(0, this.used);
    this.sink(b);
    this.used = 0;
  }
}

function sizeError(name: string, expected: number, got: number): Error {
  return new Error(`[gguf] tensor ${name}: data is ${got} bytes, expected ${expected}`);
}

function writeAllSync(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
}

/**
 * Writes a GGUF file synchronously. Tensor producers must return sync iterables.
 * @example
 * writeGgufSync("m.gguf", { metadata: { "general.architecture": gguf.str("lfm2") },
 *   tensors: [{ name: "w", dims: [4], type: "F32", data: new Uint8Array(16) }] });
 */
export function writeGgufSync(path: string, spec: GgufFileSpec): GgufLayout {
  const { header, layout } = encodeGgufHeader(spec);
  const fd = fs.openSync(path, "w");
  try {
    const out = new Coalescer((b) => writeAllSync(fd, b));
    out.pushSync(header);
    spec.tensors.forEach((t, i) => {
      const { byteSize } = layout.tensors[i]!;
      let n = 0;
      const chunks = typeof t.data === "function" ? t.data() : [t.data];
      if (!(Symbol.iterator in chunks)) throw new Error(`[gguf] tensor ${t.name}: async producer given to writeGgufSync`);
      for (const c of chunks) {
        n += c.length;
        if (n > byteSize) throw sizeError(t.name, byteSize, n);
        out.pushSync(c);
      }
      if (n !== byteSize) throw sizeError(t.name, byteSize, n);
      out.pushSync(new Uint8Array(alignUp(byteSize, layout.alignment) - byteSize));
    });
    out.flushSync();
  } finally {
    fs.closeSync(fd);
  }
  return layout;
}

/** Writes a GGUF file asynchronously; tensor producers may be sync or async iterables. */
export async function writeGguf(path: string, spec: GgufFileSpec): Promise<GgufLayout> {
  const { header, layout } = encodeGgufHeader(spec);
  const fh = await fs.promises.open(path, "w");
  try {
    const out = new Coalescer(async (b) => {
      let off = 0;
      while (off < b.length) off += (await fh.write(b, off, b.length - off)).bytesWritten;
    });
    await out.push(header);
    for (let i = 0; i < spec.tensors.length; i++) {
      const t = spec.tensors[i]!;
      const { byteSize } = layout.tensors[i]!;
      let n = 0;
      const chunks = typeof t.data === "function" ? t.data() : [t.data];
      for await (const c of chunks) {
        n += c.length;
        if (n > byteSize) throw sizeError(t.name, byteSize, n);
        await out.push(c);
      }
      if (n !== byteSize) throw sizeError(t.name, byteSize, n);
      await out.push(new Uint8Array(alignUp(byteSize, layout.alignment) - byteSize));
    }
    await out.flush();
  } finally {
    await fh.close();
  }
  return layout;
}
