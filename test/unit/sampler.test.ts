// The native sampler (createSampler, native/core/sampler.cpp) against the float64 reference of
// test/helpers/sampling-ref.ts: the same tokens, row after row, for every stage (bias, bans,
// penalties and their window, greedy, top-k, top-p, min-p, the seeded draw), on vocabularies of
// odd sizes; the random stream bit for bit that of lib/util/random.ts; and the option checks.
import { describe, expect, it } from "vitest";
import { native, type NativeSampler, type NativeSamplerOptions } from "../../lib/native.js";
import { createRng } from "../../lib/util/random.js";
import { Rng } from "../helpers/kernels.js";
import { AllBannedError, ReferenceSampler } from "../helpers/sampling-ref.js";

const OFF = {
  temperature: 0, topK: 0, topP: 1, minP: 0,
  repeatPenalty: 1, presencePenalty: 0, frequencyPenalty: 0, penaltyLastN: 0, seed: 1,
} as const;
type Options = Omit<NativeSamplerOptions, "vocabSize">;

function sampler(vocabSize: number, opts: Partial<NativeSamplerOptions> = {}): NativeSampler {
  return native().createSampler({ ...OFF, vocabSize, ...opts });
}

/** The code a call throws with (undefined when it does not throw). */
function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

// --- rows

type RowKind = "uniform" | "peaked" | "ties" | "wide";
const KINDS: RowKind[] = ["uniform", "peaked", "ties", "wide"];

/** A logits row of a kind: spread evenly, a few likely tokens over a low floor, many ties, or a span of hundreds. */
function row(rng: Rng, V: number, kind: RowKind): Float32Array {
  const a = new Float32Array(V);
  for (let i = 0; i < V; i++) {
    switch (kind) {
      case "uniform": a[i] = rng.uniform(-8, 8); break;
      case "peaked": a[i] = rng.next() < 0.01 ? rng.uniform(0, 6) : rng.uniform(-14, -6); break;
      case "ties": a[i] = Math.round(rng.uniform(-4, 4) * 2) / 2; break;
      case "wide": a[i] = rng.uniform(-300, 300); break;
    }
  }
  return a;
}

/** A bias with some boosts, some cuts and some bans (never every token). */
function someBias(rng: Rng, V: number, n: number): { ids: Int32Array; values: Float32Array } {
  const ids = new Int32Array(n);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    ids[i] = rng.int(0, V - 1);
    values[i] = i % 3 === 0 ? -Infinity : rng.uniform(-5, 5);
  }
  // Token 0 stays allowed: drop its bans.
  for (let i = 0; i < n; i++) if (ids[i] === 0) values[i] = 1;
  return { ids, values };
}

// --- native vs reference

interface Case {
  name: string;
  opts: (rng: Rng, V: number) => Options;
  /** Tokens recorded before each sample (besides the one sampled before). */
  history?: number;
  /** clearHistory() before every this many samples. */
  clearEvery?: number;
}

const CASES: Case[] = [
  { name: "greedy", opts: () => ({ ...OFF }) },
  {
    name: "greedy + penalties",
    opts: () => ({ ...OFF, repeatPenalty: 1.3, presencePenalty: 0.4, frequencyPenalty: 0.25, penaltyLastN: 64 }),
    history: 5,
  },
  { name: "top-k only", opts: () => ({ ...OFF, temperature: 0.8, topK: 5, seed: 11 }) },
  { name: "top-k larger than the vocabulary", opts: (_r, V) => ({ ...OFF, temperature: 1.2, topK: V + 3, seed: 12 }) },
  { name: "top-p", opts: () => ({ ...OFF, temperature: 1, topP: 0.9, seed: 13 }) },
  { name: "top-p just below 1", opts: () => ({ ...OFF, temperature: 1, topP: 1 - 2 ** -53, seed: 14 }) },
  { name: "min-p", opts: () => ({ ...OFF, temperature: 1, minP: 0.1, seed: 15 }) },
  { name: "min-p below 2^-53", opts: () => ({ ...OFF, temperature: 0.5, minP: 1e-30, seed: 16 }) },
  { name: "low temperature", opts: () => ({ ...OFF, temperature: 0.05, seed: 17 }) },
  {
    name: "all together",
    opts: (rng, V) => ({
      temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.1, presencePenalty: 0.2,
      frequencyPenalty: 0.1, penaltyLastN: 16, logitBias: someBias(rng, V, Math.min(V - 1, 9)), seed: 18,
    }),
    history: 3,
  },
  { name: "logit bias with bans (greedy)", opts: (rng, V) => ({ ...OFF, logitBias: someBias(rng, V, Math.min(V - 1, 30)) }) },
  {
    name: "logit bias with bans (sampled)",
    opts: (rng, V) => ({ ...OFF, temperature: 1.5, logitBias: someBias(rng, V, Math.min(V - 1, 30)), seed: 19 }),
  },
  {
    name: "penalties over a window shorter than the history",
    opts: () => ({ ...OFF, temperature: 0.9, topK: 20, repeatPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 1, penaltyLastN: 4, seed: 20 }),
    history: 7,
  },
  {
    name: "clearHistory between samples",
    opts: () => ({ ...OFF, temperature: 1, repeatPenalty: 1.5, presencePenalty: 0.5, penaltyLastN: 32, seed: 21 }),
    history: 4,
    clearEvery: 3,
  },
];

describe("native sampler vs the float64 reference", () => {
  describe.each([1, 7, 1000, 65537])("vocabulary of %i", (V) => {
    it.each(CASES.map((c) => [c.name, c] as const))("%s", (_name, c) => {
      const rng = new Rng(1000 + V);
      const opts = c.opts(rng, V);
      const nat = sampler(V, opts);
      const ref = new ReferenceSampler(opts);
      const n = V > 10_000 ? 4 : 40; // one row of each kind for the largest (the reference sorts it all)
      const got: number[] = [];
      const want: number[] = [];
      for (let i = 0; i < n; i++) {
        if (c.clearEvery && i % c.clearEvery === 0) {
          nat.clearHistory();
          ref.clearHistory();
        }
        const recent = Int32Array.from({ length: c.history ?? 0 }, () => rng.int(0, V - 1));
        nat.accept(recent);
        ref.accept(recent);
        const logits = row(rng, V, KINDS[i % KINDS.length]!);
        const before = logits.slice();
        const t = nat.sample(logits);
        expect(logits).toEqual(before); // the row is not modified
        got.push(t);
        want.push(ref.sample(logits));
        nat.accept(Int32Array.of(t));
        ref.accept([t]);
      }
      expect(got).toEqual(want);
    });
  });
});

describe("the random stream", () => {
  it("is lib/util/random.ts createRng(seed), bit for bit (uniform row of 2^16 tokens: token = floor(u * 2^16))", () => {
    const V = 65536;
    for (const seed of [0, 1, 42, 0xffffffff]) {
      const s = sampler(V, { temperature: 1, seed });
      const rng = createRng(seed);
      const zeros = new Float32Array(V);
      for (let i = 0; i < 50; i++) expect(s.sample(zeros)).toBe(Math.floor(rng() * V));
    }
  });

  it("ties are ordered by id, +0 and -0 alike (small and large pools)", () => {
    for (const V of [1000, 65536]) {
      const signed = Float32Array.from({ length: V }, (_, i) => (i % 2 ? -0 : 0));
      const s = sampler(V, { temperature: 1, seed: 77 });
      const rng = createRng(77);
      for (let i = 0; i < 50; i++) expect(s.sample(signed)).toBe(Math.floor(rng() * V));
    }
  });

  it("same seed, same tokens; another seed, other tokens", () => {
    const V = 1000;
    const rows = Array.from({ length: 60 }, (_, i) => row(new Rng(i), V, "uniform"));
    const run = (seed: number) => {
      const s = sampler(V, { temperature: 1, topK: 100, seed });
      return rows.map((r) => s.sample(r));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(8)).not.toEqual(run(7));
  });

  it("greedy picks take no draw; clearHistory does not restart the stream", () => {
    const V = 4096;
    const zeros = new Float32Array(V);
    const a = sampler(V, { temperature: 1, seed: 5, penaltyLastN: 8 });
    const rng = createRng(5);
    expect(a.sample(zeros)).toBe(Math.floor(rng() * V));
    a.clearHistory();
    expect(a.sample(zeros)).toBe(Math.floor(rng() * V));
    // A greedy sampler with the same seed: its picks never depend on the stream.
    const g = sampler(V, { seed: 5 });
    expect([g.sample(zeros), g.sample(zeros)]).toEqual([0, 0]);
  });
});

describe("what each stage does (constructed rows)", () => {
  it("greedy: the largest logit, the lowest id on ties", () => {
    expect(sampler(5).sample(Float32Array.of(1, 3, 3, 2, 0))).toBe(1);
    expect(sampler(3).sample(Float32Array.of(-0, 0, -1))).toBe(0);
  });

  it("repeat penalty divides a positive logit and multiplies a negative one", () => {
    const pos = Float32Array.of(1, 0.9, 0);
    expect(sampler(3, { repeatPenalty: 1.5, penaltyLastN: 4 }).sample(pos)).toBe(0); // empty window
    const s = sampler(3, { repeatPenalty: 1.5, penaltyLastN: 4 });
    s.accept(Int32Array.of(0));
    expect(s.sample(pos)).toBe(1); // 1 / 1.5 < 0.9
    const neg = Float32Array.of(-1, -1.2, -5);
    const t = sampler(3, { repeatPenalty: 1.5, penaltyLastN: 4 });
    t.accept(Int32Array.of(0));
    expect(t.sample(neg)).toBe(1); // -1 * 1.5 < -1.2
  });

  it("frequency penalty counts occurrences; presence penalty does not", () => {
    const r = Float32Array.of(2, 1.5);
    const freq = (n: number) => {
      const s = sampler(2, { frequencyPenalty: 0.2, penaltyLastN: 8 });
      s.accept(new Int32Array(n)); // n times token 0
      return s.sample(r);
    };
    expect([freq(2), freq(3)]).toEqual([0, 1]); // 2 - 0.4 > 1.5 > 2 - 0.6
    const pres = (n: number) => {
      const s = sampler(2, { presencePenalty: 0.4, penaltyLastN: 8 });
      s.accept(new Int32Array(n));
      return s.sample(r);
    };
    expect([pres(1), pres(5)]).toEqual([0, 0]); // 2 - 0.4 = 1.6 whatever the count
    const s = sampler(2, { presencePenalty: 0.6, penaltyLastN: 8 });
    s.accept(Int32Array.of(0));
    expect(s.sample(r)).toBe(1);
  });

  it("the window keeps the last penaltyLastN tokens; 0 turns penalties off; clearHistory empties it", () => {
    const r = Float32Array.of(2, 1.5, 0, 0, 0, 0, 0);
    const s = sampler(7, { presencePenalty: 1, penaltyLastN: 2 });
    s.accept(Int32Array.of(0, 0, 0, 5));
    expect(s.sample(r)).toBe(1); // window [0, 5]
    s.accept(Int32Array.of(6));
    expect(s.sample(r)).toBe(0); // window [5, 6]
    s.accept(Int32Array.of(0));
    expect(s.sample(r)).toBe(1);
    s.clearHistory();
    expect(s.sample(r)).toBe(0);
    const off = sampler(7, { presencePenalty: 1, penaltyLastN: 0 });
    off.accept(Int32Array.of(0, 0));
    expect(off.sample(r)).toBe(0);
  });

  it("logit bias is added first; -Infinity bans, even the only likely token at a high temperature", () => {
    const r = Float32Array.of(5, 1, 0.5, 0);
    expect(sampler(4, { logitBias: { ids: Int32Array.of(3), values: Float32Array.of(6) } }).sample(r)).toBe(3);
    expect(sampler(4, { logitBias: { ids: Int32Array.of(0), values: Float32Array.of(-Infinity) } }).sample(r)).toBe(1);
    const ban = { ids: Int32Array.of(0, 1, 3), values: Float32Array.of(-Infinity, -Infinity, -Infinity) };
    const s = sampler(4, { temperature: 100, logitBias: ban, seed: 3 });
    for (let i = 0; i < 50; i++) expect(s.sample(r)).toBe(2);
  });

  it("every token banned: ERR_LFM_INVALID_ARG, greedy or not", () => {
    const all = { ids: Int32Array.of(0, 1, 2), values: Float32Array.of(-Infinity, -Infinity, -Infinity) };
    for (const temperature of [0, 1]) {
      const s = sampler(3, { temperature, logitBias: all });
      expect(() => s.sample(Float32Array.of(1, 2, 3))).toThrow(/every token is banned/);
      expect(codeOf(() => s.sample(Float32Array.of(1, 2, 3)))).toBe("ERR_LFM_INVALID_ARG");
    }
  });

  it("top-k 1 is greedy at any temperature; top-p 0 and min-p 1 keep the top token only", () => {
    const rng = new Rng(3);
    const r = row(rng, 500, "uniform");
    const top = sampler(500).sample(r);
    for (const opts of [{ topK: 1 }, { topP: 0 }, { minP: 1 }]) {
      const s = sampler(500, { temperature: 50, seed: 9, ...opts });
      for (let i = 0; i < 20; i++) expect(s.sample(r)).toBe(top);
    }
    // Without them a temperature of 50 spreads the picks.
    const s = sampler(500, { temperature: 50, seed: 9 });
    expect(new Set(Array.from({ length: 20 }, () => s.sample(r))).size).toBeGreaterThan(5);
  });

  it("a large vocabulary with every token a candidate samples quickly", () => {
    const V = 262144;
    const r = row(new Rng(4), V, "peaked");
    const s = sampler(V, { temperature: 0.8, minP: 0.05, seed: 2 });
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) s.sample(r);
    const ms = (performance.now() - t0) / 50;
    expect(ms, `${ms.toFixed(3)} ms per sample`).toBeLessThan(20);
  });
});

describe("option checks", () => {
  it.each<[string, Partial<Record<keyof NativeSamplerOptions, unknown>>]>([
    ["vocabSize 0", { vocabSize: 0 }],
    ["vocabSize -1", { vocabSize: -1 }],
    ["vocabSize 1.5", { vocabSize: 1.5 }],
    ["temperature NaN", { temperature: NaN }],
    ["temperature Infinity", { temperature: Infinity }],
    ["topK -1", { topK: -1 }],
    ["topK 2.5", { topK: 2.5 }],
    ["topP 1.5", { topP: 1.5 }],
    ["topP -0.1", { topP: -0.1 }],
    ["topP NaN", { topP: NaN }],
    ["minP 2", { minP: 2 }],
    ["repeatPenalty 0", { repeatPenalty: 0 }],
    ["repeatPenalty -1", { repeatPenalty: -1 }],
    ["presencePenalty Infinity", { presencePenalty: Infinity }],
    ["frequencyPenalty NaN", { frequencyPenalty: NaN }],
    ["penaltyLastN -1", { penaltyLastN: -1 }],
    ["seed -1", { seed: -1 }],
    ["seed 2^32", { seed: 2 ** 32 }],
    ["seed 0.5", { seed: 0.5 }],
    ["topK missing", { topK: undefined }],
    ["temperature a string", { temperature: "1" }],
    ["logitBias id out of range", { logitBias: { ids: Int32Array.of(10), values: Float32Array.of(1) } }],
    ["logitBias id negative", { logitBias: { ids: Int32Array.of(-1), values: Float32Array.of(1) } }],
    ["logitBias lengths differ", { logitBias: { ids: Int32Array.of(1, 2), values: Float32Array.of(1) } }],
    ["logitBias value NaN", { logitBias: { ids: Int32Array.of(1), values: Float32Array.of(NaN) } }],
    ["logitBias value +Infinity", { logitBias: { ids: Int32Array.of(1), values: Float32Array.of(Infinity) } }],
    ["logitBias ids not an Int32Array", { logitBias: { ids: [1], values: Float32Array.of(1) } }],
    ["logitBias not an object", { logitBias: 3 }],
  ])("%s: ERR_LFM_INVALID_ARG", (_name, bad) => {
    const opts = { ...OFF, vocabSize: 10, ...bad } as unknown as NativeSamplerOptions;
    expect(codeOf(() => native().createSampler(opts))).toBe("ERR_LFM_INVALID_ARG");
  });

  it("accepts the edges: greedy by a negative temperature, topK above V, topP 0 and 1, seed 2^32 - 1, no logitBias", () => {
    for (const o of [{ temperature: -1 }, { topK: 11 }, { topP: 0 }, { topP: 1 }, { minP: 1 }, { seed: 2 ** 32 - 1 }, { logitBias: undefined }]) {
      expect(codeOf(() => sampler(10, o))).toBeUndefined();
    }
  });

  it("sample wants a Float32Array of vocabSize; accept an Int32Array of ids in range", () => {
    const s = sampler(10);
    expect(codeOf(() => s.sample(new Float32Array(9)))).toBe("ERR_LFM_INVALID_ARG");
    expect(codeOf(() => s.sample(new Float64Array(10) as unknown as Float32Array))).toBe("ERR_LFM_INVALID_ARG");
    expect(codeOf(() => s.accept([1, 2] as unknown as Int32Array))).toBe("ERR_LFM_INVALID_ARG");
    const p = sampler(3, { presencePenalty: 5, penaltyLastN: 4 });
    expect(codeOf(() => p.accept(Int32Array.of(0, 3)))).toBe("ERR_LFM_TOKEN_RANGE");
    expect(p.sample(Float32Array.of(1, 0, 0))).toBe(0); // nothing of the bad call was recorded
  });
});

describe("the reference helper itself", () => {
  it("throws AllBannedError where the native sampler throws", () => {
    const r = new ReferenceSampler({ ...OFF, logitBias: { ids: [0], values: [-Infinity] } });
    expect(() => r.sample([1])).toThrow(AllBannedError);
  });
});
