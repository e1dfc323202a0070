// SPDX-License-Identifier: MIT
// Option validation, done once in TypeScript before anything reaches the addon.
import { LfmError } from "./errors.js";

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === "string") return `"${v.length > 40 ? v.slice(0, 40) + "..." : v}" of type string`;
  if (typeof v === "object") return "an object";
  return `${String(v)} of type ${typeof v}`;
}

/** An ERR_LFM_INVALID_ARG error in the house format. */
export function invalidParameterError(name: string, expected: string, actual: unknown): LfmError {
  return new LfmError("ERR_LFM_INVALID_ARG", `Expected ${expected} for ${name} but received ${describe(actual)}`);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Throws unless `opts` is undefined or a plain object whose keys are all in `allowed`. */
export function checkOptions(name: string, opts: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (opts === undefined) return {};
  if (!isObject(opts)) throw invalidParameterError(name, "an options object", opts);
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw new LfmError("ERR_LFM_INVALID_ARG", `Unknown option ${name}.${key} (known: ${allowed.join(", ")})`);
    }
  }
  return opts;
}

export function intOption(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `integer >= ${min}` : `integer in [${min}, ${max}]`;
    throw invalidParameterError(name, range, v);
  }
  return v;
}

export function numberOption(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw invalidParameterError(name, `number in [${min}, ${max}]`, v);
  }
  return v;
}

export function boolOption(name: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw invalidParameterError(name, "boolean", v);
  return v;
}

export function oneOf<T extends string>(name: string, v: unknown, values: readonly T[]): T {
  if (typeof v !== "string" || !values.includes(v as T)) {
    throw invalidParameterError(name, `one of ${values.map((x) => `"${x}"`).join(", ")}`, v);
  }
  return v as T;
}

/** Token ids: an array (or Int32Array/Uint32Array) of integers. Range is checked natively. */
export function tokenArray(name: string, v: unknown, allowEmpty = false): Int32Array {
  if (!(Array.isArray(v) || v instanceof Int32Array || v instanceof Uint32Array)) {
    throw invalidParameterError(name, "an array of token ids", v);
  }
  if (!allowEmpty && v.length === 0) throw invalidParameterError(name, "a non-empty array of token ids", v);
  const out = new Int32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const t = v[i] as unknown;
    if (typeof t !== "number" || !Number.isInteger(t)) {
      throw invalidParameterError(`${name}[${i}]`, "integer token id", t);
    }
    if (t < 0 || t > 0x7fffffff) {
      throw new LfmError("ERR_LFM_TOKEN_RANGE", `Token id ${t} at index ${i} of ${name} is out of range`);
    }
    out[i] = t;
  }
  return out;
}
