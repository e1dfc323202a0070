// SPDX-License-Identifier: MIT
// Small GGUF reader for tests, written independently of lib/gguf/writer.ts so that a round trip
// checks the writer: typed metadata, tensor infos, raw tensor bytes and dequantized Float64Arrays.

import * as fs from "node:fs";
import { dequantize } from "../../lib/gguf/quant.js";
import { findGgmlType } from "../../lib/gguf/types.js";

/** One metadata value with its GGUF type. u64/i64 are bigints; arrays hold plain values. */
export type ReadValue =
  | { type: "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64"; value: number }
  | { type: "u64" | "i64"; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; elementType: string; value: unknown[] };

export interface ReadTensorInfo {
  name: string;
  /** ggml dims, ne0 first. */
  dims: number[];
  /** ggml type id. */
  type: number;
  /** Offset relative to the data section. */
  offset: number;
  byteSize: number;
}

export interface GgufFile {
  path: string;
  version: number;
  alignment: number;
  /** Metadata in file order. */
  metadata: Map<string, ReadValue>;
  tensors: Map<string, ReadTensorInfo>;
  /** Absolute offset of the data section. */
  dataOffset: number;
  fileSize: number;
}

const TYPE_NAMES = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"];

/** Sequential little-endian reader over a file, fetching 1 MiB windows on demand. */
class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  constructor(private readonly fd: number, private readonly size: number) {}

  private need(n: number): Buffer {
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      if (this.pos + n > this.size) throw new Error(`GGUF truncated: need ${n} bytes at ${this.pos}, file has ${this.size}`);
      const len = Math.min(this.size - this.pos, Math.max(n, 1 << 20));
      this.buf = Buffer.alloc(len);
      fs.readSync(this.fd, this.buf, 0, len, this.pos);
      this.bufStart = this.pos;
    }
    const off = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(off, off + n);
  }
  u8(): number { return this.need(1).readUInt8(0); }
  i8(): number { return this.need(1).readInt8(0); }
  u16(): number { return this.need(2).readUInt16LE(0); }
  i16(): number { return this.need(2).readInt16LE(0); }
  u32(): number { return this.need(4).readUInt32LE(0); }
  i32(): number { return this.need(4).readInt32LE(0); }
  u64(): bigint { return this.need(8).readBigUInt64LE(0); }
  i64(): bigint { return this.need(8).readBigInt64LE(0); }
  f32(): number { return this.need(4).readFloatLE(0); }
  f64(): number { return this.need(8).readDoubleLE(0); }
  /** u64 used as a length or offset; must fit a JS number. */
  size64(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`GGUF value ${v} too large`);
    return Number(v);
  }
  str(): string {
    const n = this.size64();
    return this.need(n).toString("utf8");
  }
}

function readScalar(c: Cursor, type: string): unknown {
  switch (type) {
    case "u8": return c.u8();
    case "i8": return c.i8();
    case "u16": return c.u16();
    case "i16": return c.i16();
    case "u32": return c.u32();
    case "i32": return c.i32();
    case "f32": return c.f32();
    case "f64": return c.f64();
    case "u64": return c.u64();
    case "i64": return c.i64();
    case "bool": {
      const b = c.u8();
      if (b > 1) throw new Error(`GGUF bool with value ${b}`);
      return b === 1;
    }
    case "string": return c.str();
    default: throw new Error(`GGUF scalar type ${type}?`);
  }
}

function readValue(c: Cursor, typeId: number): ReadValue {
  const type = TYPE_NAMES[typeId];
  if (!type) throw new Error(`unknown GGUF value type ${typeId} at ${c.pos}`);
  if (type !== "array") return { type, value: readScalar(c, type) } as ReadValue;
  const elemId = c.u32();
  const elementType = TYPE_NAMES[elemId];
  if (!elementType) throw new Error(`unknown GGUF array element type ${elemId}`);
  const n = c.size64();
  const value: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) value[i] = elementType === "array" ? readValue(c, 9) : readScalar(c, elementType);
  return { type: "array", elementType, value };
}

/** Reads the header, metadata and tensor infos of a GGUF file (not the tensor data). */
export function readGguf(path: string): GgufFile {
  const fd = fs.openSync(path, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const c = new Cursor(fd, size);
    const magic = c.u32();
    if (magic !== 0x46554747) throw new Error(`${path}: not a GGUF file (magic 0x${magic.toString(16)})`);
    const version = c.u32();
    if (version !== 2 && version !== 3) throw new Error(`${path}: GGUF version ${version} not supported`);
    const nTensors = c.size64();
    const nKv = c.size64();
    const metadata = new Map<string, ReadValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.str();
      if (metadata.has(key)) throw new Error(`${path}: duplicate key ${key}`);
      metadata.set(key, readValue(c, c.u32()));
    }
    const al = metadata.get("general.alignment");
    const alignment = al ? Number(al.value) : 32;
    const tensors = new Map<string, ReadTensorInfo>();
    for (let i = 0; i < nTensors; i++) {
      const name = c.str();
      const nDims = c.u32();
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(c.size64());
      const type = c.u32();
      const offset = c.size64();
      const t = findGgmlType(type);
      if (!t) throw new Error(`${path}: tensor ${name} has unknown type ${type}`);
      if (dims[0]! % t.blockSize !== 0) throw new Error(`${path}: tensor ${name} ne0 not a multiple of ${t.blockSize}`);
      const byteSize = (dims.reduce((a, b) => a * b, 1) / t.blockSize) * t.typeSize;
      if (offset % alignment !== 0) throw new Error(`${path}: tensor ${name} offset ${offset} not aligned`);
      tensors.set(name, { name, dims, type, offset, byteSize });
    }
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    for (const t of tensors.values()) {
      if (dataOffset + t.offset + t.byteSize > size) throw new Error(`${path}: tensor ${t.name} runs past the end of the file`);
    }
    return { path, version, alignment, metadata, tensors, dataOffset, fileSize: size };
  } finally {
    fs.closeSync(fd);
  }
}

/** Metadata value (untyped) or `fallback` when absent. */
export function meta<T = unknown>(f: GgufFile, key: string, fallback?: T): T {
  const v = f.metadata.get(key);
  if (v === undefined) {
    if (fallback === undefined) throw new Error(`${f.path}: missing metadata ${key}`);
    return fallback;
  }
  return v.value as T;
}

/** Raw bytes of a tensor. */
export function readTensorBytes(f: GgufFile, name: string): Uint8Array {
  const t = f.tensors.get(name);
  if (!t) throw new Error(`${f.path}: no tensor ${name}`);
  const fd = fs.openSync(f.path, "r");
  try {
    const buf = new Uint8Array(t.byteSize);
    let done = 0;
    while (done < t.byteSize) done += fs.readSync(fd, buf, done, t.byteSize - done, f.dataOffset + t.offset + done);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/** A tensor dequantized to float64, flat in ggml order (ne0 fastest). */
export function readTensorF64(f: GgufFile, name: string): Float64Array {
  const t = f.tensors.get(name);
  if (!t) throw new Error(`${f.path}: no tensor ${name}`);
  return dequantize(t.type, readTensorBytes(f, name), t.dims.reduce((a, b) => a * b, 1));
}
