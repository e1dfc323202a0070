// SPDX-License-Identifier: MIT
// `lfm2 tokenize`: the token ids of a text and the piece of text each one stands for.
import type { Tokenizer } from "../tokenizer.js";
import { BYTE_TO_CHAR, TokenType } from "../tokenizer.js";
import { parseCommand, positionalArgs, shortUsage } from "./args.js";
import { escapeBytes } from "./format.js";
import { loadForCli } from "./load.js";

export const TOKENIZE_HELP = `usage: lfm2 tokenize MODEL.gguf TEXT [options]

Tokenizes TEXT with the model's byte-level BPE vocabulary and prints the ids, then one line per
token with its id and the text piece it stands for (escaped: \\n, \\t, \\", and \\xNN for bytes
that are part of a character split across tokens), then the count.

options:
  --no-bos      do not prepend the BOS token
  --no-special  treat control-token texts such as <|im_start|> as plain text
  --json        print { count, ids, tokens: [{ id, piece, bytes }] } as JSON (piece: the text,
                U+FFFD for a partial character; bytes: hex)
  -h, --help    this help

example:
  lfm2 tokenize LFM2-1.2B-Q4_0.gguf "<|im_start|>user\\nHello world"`;

const USAGE = shortUsage(TOKENIZE_HELP, "tokenize");

const CHAR_TO_BYTE = new Map<number, number>(BYTE_TO_CHAR.map((c, b) => [c.codePointAt(0)!, b]));
const utf8 = new TextEncoder();
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });

/** The bytes a token stands for (control and user-defined tokens: their text). */
export function tokenBytes(tokenizer: Tokenizer, id: number): Uint8Array {
  const text = tokenizer.tokenText(id);
  const type = tokenizer.tokenType(id);
  if (type !== TokenType.NORMAL && type !== TokenType.UNDEFINED) return utf8.encode(text);
  const out: number[] = [];
  for (const ch of text) {
    const b = CHAR_TO_BYTE.get(ch.codePointAt(0)!);
    if (b !== undefined) out.push(b);
    else out.push(...utf8.encode(ch));
  }
  return Uint8Array.from(out);
}

export async function tokenizeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    {
      help: { type: "boolean", short: "h" },
      "no-bos": { type: "boolean" },
      "no-special": { type: "boolean" },
      json: { type: "boolean" },
    },
    USAGE,
  );
  if (values.help) {
    console.log(TOKENIZE_HELP);
    return 0;
  }
  const [path, text] = positionalArgs(positionals, ["MODEL", "TEXT"], USAGE) as [string, string];
  const { model } = await loadForCli(path, { device: "cpu", useMmap: true, threads: 1 }, false);
  try {
    const ids = model.tokenize(text, { addBos: !values["no-bos"], special: !values["no-special"] });
    const bytes = ids.map((id) => tokenBytes(model.tokenizer, id));
    if (values.json) {
      const tokens = ids.map((id, i) => ({ id, piece: lossy.decode(bytes[i]!), bytes: Buffer.from(bytes[i]!).toString("hex") }));
      console.log(JSON.stringify({ count: ids.length, ids, tokens }));
    } else {
      const width = Math.max(1, ...ids.map((id) => String(id).length));
      const pieces = ids.map((id, i) => `${String(id).padStart(width)}  ${escapeBytes(bytes[i]!)}`);
      const lines = [`[${ids.join(", ")}]`, ...pieces, `${ids.length} token${ids.length === 1 ? "" : "s"}`];
      console.log(lines.join("\n"));
    }
    return 0;
  } finally {
    model.dispose();
  }
}
