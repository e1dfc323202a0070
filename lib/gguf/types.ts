// SPDX-License-Identifier: MIT
// GGUF format constants: ggml tensor types with their block layouts, and metadata value types.
// Shared by the writer (lib/gguf/writer.ts), the codecs (lib/gguf/quant.ts) and test readers.

// --- ggml tensor types ---

/** ggml type ids as stored in GGUF tensor infos (enum ggml_type). */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  BF16: 30,
} as const;

/** Name of a ggml type known to this package ("F32", "Q4_0", ...). */
export type GgmlTypeName = keyof typeof GgmlType;

/** Storage layout of one ggml type: `blockSize` elements are stored in `typeSize` bytes. */
export interface GgmlTypeTraits {
  name: GgmlTypeName;
  id: number;
  /** Elements per block (1 for plain float types). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

// Block layouts from ggml-common.h (block_q4_0 = {f16 d; u8 qs[16]} etc.).
const TRAITS: readonly GgmlTypeTraits[] = [
  { name: "F32", id: 0, blockSize: 1, typeSize: 4 },
  { name: "F16", id: 1, blockSize: 1, typeSize: 2 },
  { name: "Q4_0", id: 2, blockSize: 32, typeSize: 2 + 16 },
  { name: "Q4_1", id: 3, blockSize: 32, typeSize: 2 + 2 + 16 },
  { name: "Q5_0", id: 6, blockSize: 32, typeSize: 2 + 4 + 16 },
  { name: "Q5_1", id: 7, blockSize: 32, typeSize: 2 + 2 + 4 + 16 },
  { name: "Q8_0", id: 8, blockSize: 32, typeSize: 2 + 32 },
  { name: "Q8_1", id: 9, blockSize: 32, typeSize: 2 + 2 + 32 },
  { name: "Q2_K", id: 10, blockSize: 256, typeSize: 16 + 64 + 2 + 2 },
  { name: "Q3_K", id: 11, blockSize: 256, typeSize: 32 + 64 + 12 + 2 },
  { name: "Q4_K", id: 12, blockSize: 256, typeSize: 2 + 2 + 12 + 128 },
  { name: "Q5_K", id: 13, blockSize: 256, typeSize: 2 + 2 + 12 + 32 + 128 },
  { name: "Q6_K", id: 14, blockSize: 256, typeSize: 128 + 64 + 16 + 2 },
  { name: "Q8_K", id: 15, blockSize: 256, typeSize: 4 + 256 + 2 * 16 },
  { name: "BF16", id: 30, blockSize: 1, typeSize: 2 },
];

const BY_ID = new Map<number, GgmlTypeTraits>(TRAITS.map((t) => [t.id, t]));
const BY_NAME = new Map<string, GgmlTypeTraits>(TRAITS.map((t) => [t.name, t]));

/** Traits of a ggml type given by id or name; throws for unknown types. */
export function ggmlTypeTraits(type: number | GgmlTypeName): GgmlTypeTraits {
  const t = typeof type === "number" ? BY_ID.get(type) : BY_NAME.get(type);
  if (!t) throw new Error(`unknown ggml type ${String(type)}`);
  return t;
}

/** Traits of a ggml type id, or undefined when the id is not known here. */
export function findGgmlType(id: number): GgmlTypeTraits | undefined {
  return BY_ID.get(id);
}

/**
 * Bytes of a tensor with dims `ne` (ggml order, ne0 first) stored as `type`.
 * ne0 must be a multiple of the block size (ggml stores rows as whole blocks).
 */
export function tensorByteSize(type: number | GgmlTypeName, ne: readonly number[]): number {
  const t = ggmlTypeTraits(type);
  const ne0 = ne.length > 0 ? ne[0]! : 1;
  if (ne0 % t.blockSize !== 0) {
    throw new Error(`ne0 = ${ne0} is not a multiple of the ${t.name} block size ${t.blockSize}`);
  }
  let rows = 1;
  for (let i = 1; i < ne.length; i++) rows *= ne[i]!;
  return (ne0 / t.blockSize) * t.typeSize * rows;
}

/** Element count of a tensor with dims `ne`. */
export function elementCount(ne: readonly number[]): number {
  let n = 1;
  for (const d of ne) n *= d;
  return n;
}

// --- GGUF metadata value types ---

/** GGUF metadata value type ids (enum gguf_type). */
export const GgufValueTypeId = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

/** Name of a GGUF metadata value type. */
export type GgufValueType = keyof typeof GgufValueTypeId;
/** A non-array GGUF metadata value type. */
export type GgufScalarType = Exclude<GgufValueType, "array">;

/** Name of a GGUF value type id; throws for unknown ids. */
export function ggufValueTypeName(id: number): GgufValueType {
  for (const [k, v] of Object.entries(GgufValueTypeId)) if (v === id) return k as GgufValueType;
  throw new Error(`unknown GGUF value type id ${id}`);
}

/**
 * One explicitly typed metadata value. 64-bit integers accept a bigint or a safe-integer number;
 * array elements are given as plain JS values of `elementType`, or as nested {@link GgufArray}
 * values when `elementType` is "array".
 */
export type GgufValue =
  | { type: "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64"; value: number }
  | { type: "u64" | "i64"; value: number | bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | GgufArray;

/** A typed GGUF array (GGUF arrays are homogeneous). */
export type GgufArray = {
  type: "array";
  elementType: GgufValueType;
  value: readonly (number | bigint | boolean | string | GgufArray)[];
};

/** Metadata helpers: `gguf.u32(3)` is `{ type: "u32", value: 3 }`. */
export const gguf = {
  u8: (value: number): GgufValue => ({ type: "u8", value }),
  i8: (value: number): GgufValue => ({ type: "i8", value }),
  u16: (value: number): GgufValue => ({ type: "u16", value }),
  i16: (value: number): GgufValue => ({ type: "i16", value }),
  u32: (value: number): GgufValue => ({ type: "u32", value }),
  i32: (value: number): GgufValue => ({ type: "i32", value }),
  u64: (value: number | bigint): GgufValue => ({ type: "u64", value }),
  i64: (value: number | bigint): GgufValue => ({ type: "i64", value }),
  f32: (value: number): GgufValue => ({ type: "f32", value }),
  f64: (value: number): GgufValue => ({ type: "f64", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  str: (value: string): GgufValue => ({ type: "string", value }),
  arr: (elementType: GgufValueType, value: GgufArray["value"]): GgufArray => ({ type: "array", elementType, value }),
};

/** Default `general.alignment` of GGUF files (GGUF_DEFAULT_ALIGNMENT). */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
