// SPDX-License-Identifier: MIT
// Number, size and text formatting shared by the `lfm2` subcommands.

/** Bytes as "812.3 MiB", "4.41 GiB", "96.0 KiB" or "512 B". */
export function formatBytes(n: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (n < 1024) return `${n} B`;
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

/** A parameter count as "8.34B", "354.5M", "281.6K" or "950". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** Tokens per second with one decimal, or "-" when there is nothing to divide. */
export function formatRate(tokens: number, seconds: number): string {
  return tokens > 0 && seconds > 0 ? (tokens / seconds).toFixed(1) : "-";
}

/** Integers as compact ranges: [0, 1, 2, 5, 7, 8] -> "0-2, 5, 7-8". */
export function formatRanges(values: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    out.push(j === i ? `${values[i]}` : `${values[i]}-${values[j]}`);
    i = j + 1;
  }
  return out.join(", ");
}

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A token's bytes as a double-quoted, escaped string: valid UTF-8 as text with \n, \t, \r,
 * \\, \" and other control characters escaped; bytes that are not valid UTF-8 on their own (a
 * piece of a multi-byte character) as \xNN.
 */
export function escapeBytes(bytes: Uint8Array): string {
  let text: string | undefined;
  try {
    text = fatal.decode(bytes);
  } catch {
    text = undefined;
  }
  if (text === undefined) {
    let s = "";
    for (const b of bytes) s += b >= 0x20 && b < 0x7f ? escapeChar(String.fromCharCode(b)) : `\\x${b.toString(16).padStart(2, "0")}`;
    return `"${s}"`;
  }
  let s = "";
  for (const ch of text) s += escapeChar(ch);
  return `"${s}"`;
}

function escapeChar(ch: string): string {
  switch (ch) {
    case "\n":
      return "\\n";
    case "\t":
      return "\\t";
    case "\r":
      return "\\r";
    case "\\":
      return "\\\\";
    case '"':
      return '\\"';
  }
  const c = ch.codePointAt(0)!;
  if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) return `\\x${c.toString(16).padStart(2, "0")}`;
  if (c === 0xfeff || (c >= 0x200b && c <= 0x200f) || c === 0x2028 || c === 0x2029) return `\\u${c.toString(16).padStart(4, "0")}`;
  return ch;
}
