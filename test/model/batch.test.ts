// Batched evaluation: sequences of one model that evaluate at the same time share one native
// pass (NativeModel.evaluateBatch -> Lfm2Model::forward_batch), and each gets what it gets alone.
//
// Bit-identity and its limits (measured on AVX-512 VNNI, 2 threads, tiny Q4_0 models). The
// batch runs the same kernels as a lone sequence, but a row's products may take another kernel
// variant, because variants are picked by the number of rows in the product and by the row's
// place in the token tiles:
// - A batched pass computes its products of 2 to 4 rows row by row with the single-row (decode)
//   kernels (Lfm2Model::kRowByRowMaxRows; faster there than the panel GEMM), so decode steps of
//   2 to 4 sequences are bit-identical to each alone, dense and MoE, in every activation mode.
// - Larger products take the GEMM. Integer path (q16/q8 activations): the panel GEMM's
//   arithmetic per row does not depend on the row count or the row's place, so a row whose
//   products have several rows both alone and in the batch is bit-identical (dense model,
//   prefill items with every token's logits, including a 600-token item that the batch splits
//   at other places than 512). f32 kernels (f32 activations, or types without integer kernels):
//   tokens go in tiles of 4, and a token alone in its tile (a decode row, or the last of 4k+1
//   rows) gets two accumulators per row instead of one; a row can change tile kind with its place.
// Decode vs GEMM for the same row of one product differs by 1.5e-7 (f32) to 4.5e-7 (q16)
// relative (avx512 Q4_0, 512 columns). Over the whole model the logits then differ by at most
// 7.6e-7 relative with f32 activations; with 16-bit activations a tiny change of a value can move
// its rounding by one 2^-16 step of its group: up to 8.9e-5; with 8-bit ones by one 8-bit step:
// up to 1.4e-2 (seen once). The MoE experts see row counts that depend on the batch (all tokens
// routed to an expert form one product), so MoE rows in larger batches are not bit-identical.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, LfmError, type Model, type Sequence } from "../../lib/index.js";
import { native } from "../../lib/native.js";
import { argmaxOf, promptTokens, rowRelError, rows } from "../helpers/compare.js";
import { ARCHS, tinyModel } from "../helpers/models.js";
import { STEP_REL_TOL } from "../helpers/tolerance.js";

const ACTIVATIONS = ["q16", "q8", "f32"] as const;
type Activations = (typeof ACTIVATIONS)[number];

/**
 * Batched vs alone, max |diff| / max |logit| per row. f32: the summation order of another kernel
 * variant (7.6e-7 measured; STEP_REL_TOL is the bar for the same effect between decode and
 * prefill). 16-bit activations: a rounding moved by one step (8.9e-5 measured). 8-bit: one
 * 8-bit step (1.4e-2 measured; that mode is itself 5e-2 to 2e-1 from the exact product,
 * tolerance.ts Q8_MODEL_REL_TOL). A row of another position or sequence is off by O(1).
 */
const BATCH_REL_TOL: Record<Activations, number> = { f32: STEP_REL_TOL, q16: 1e-3, q8: 5e-2 };

/** Passes of n sequences in a stats snapshot. */
function sized(stats: Model["stats"], n: number): number {
  return stats.passSizes[n] ?? 0;
}

const models: Model[] = [];
afterAll(() => {
  for (const m of models) m.dispose();
});

async function open(path: string, activations: Activations = "q16"): Promise<Model> {
  const m = await loadModel(path, { threads: 2, activations });
  models.push(m);
  return m;
}

interface Item {
  prefix: number[]; // evaluated alone first (0 tokens: a fresh sequence)
  tokens: number[];
  all: boolean;
}

/** The n items of a test: mixed decode (1 token) and prefill segments at various positions. */
function itemsFor(n: number, V: number): Item[] {
  const lens = [1, 5, 600, 1, 2, 1, 9];
  const pres = [7, 0, 3, 12, 0, 20, 1];
  return lens.slice(0, n).map((len, i) => ({
    prefix: pres[i]! > 0 ? promptTokens(pres[i]!, V, 100 + 7 * n + i) : [],
    tokens: promptTokens(len + 1, V, 200 + 7 * n + i).slice(1),
    all: (i + n) % 2 === 0,
  }));
}

async function prepared(model: Model, items: Item[]): Promise<Sequence[]> {
  const seqs: Sequence[] = [];
  for (const it of items) {
    const s = model.createSequence({ contextSize: 700 });
    if (it.prefix.length > 0) await s.evaluate(it.prefix); // alone, before the measured pass
    seqs.push(s);
  }
  return seqs;
}

describe.each(ARCHS.flatMap((arch) => ACTIVATIONS.map((act) => [arch, act] as const)))("batched pass, %s, %s activations", (arch, act) => {
  let model: Model;
  beforeAll(async () => {
    model = await open(tinyModel(arch, "Q4_0"), act);
    // Q4_0 has the integer kernels at this level (AVX-512 VNNI, scalar) or none (AVX2, AVX-512
    // without VNNI/VBMI: f32 whatever was asked; LFM2_CPU_ISA=avx2 runs this file that way).
    expect([act, "f32"]).toContain(model.info.activations);
  });

  it.each([2, 3, 4, 5, 6, 7])("%i sequences in one pass give each sequence's logits alone", async (n) => {
    // The integer path is checked with its AVX-512 VNNI kernels; elsewhere the f32 run covers it.
    if ((model.info.isa !== "avx512" || model.info.activations !== act) && act !== "f32") return;
    const V = model.info.vocabSize;
    const items = itemsFor(n, V);
    const mode = (it: Item) => ({ logits: it.all ? ("all" as const) : ("last" as const) });
    // Alone: one sequence at a time.
    const aloneSeqs = await prepared(model, items);
    const alone: Float32Array[] = [];
    for (let i = 0; i < n; i++) alone.push(await aloneSeqs[i]!.evaluate(items[i]!.tokens, mode(items[i]!)));
    // Together: concurrent calls, one pass.
    const seqs = await prepared(model, items);
    const before = model.stats;
    const got = await Promise.all(seqs.map((s, i) => s.evaluate(items[i]!.tokens, mode(items[i]!))));
    const after = model.stats;
    expect(after.passes - before.passes).toBe(1);
    expect(sized(after, n) - sized(before, n)).toBe(1);
    expect(after.batchedTokens - before.batchedTokens).toBe(items.reduce((a, it) => a + it.tokens.length, 0));
    for (let i = 0; i < n; i++) {
      const it = items[i]!;
      expect(seqs[i]!.length).toBe(it.prefix.length + it.tokens.length);
      expect(got[i]!.length).toBe((it.all ? it.tokens.length : 1) * V);
      const a = rows(alone[i]!, V);
      const b = rows(got[i]!, V);
      let worst = 0;
      for (let r = 0; r < a.length; r++) worst = Math.max(worst, rowRelError(b[r]!, a[r]!));
      if (arch === "lfm2" && act !== "f32" && it.all && it.tokens.length >= 2) {
        expect(worst, `item ${i} (${it.tokens.length} tokens, all logits): GEMM both ways, bit-identical`).toBe(0);
      } else {
        expect(worst, `item ${i} (${it.tokens.length} tokens)`).toBeLessThan(BATCH_REL_TOL[act]);
      }
      expect(b.map(argmaxOf)).toEqual(a.map(argmaxOf));
    }
    // The states continue alike: one more decode step, again together.
    const next = await Promise.all(seqs.map((s) => s.evaluate([42])));
    for (let i = 0; i < n; i++) {
      const want = await aloneSeqs[i]!.evaluate([42]);
      expect(rowRelError(next[i]!, want)).toBeLessThan(BATCH_REL_TOL[act]);
    }
    for (const s of [...aloneSeqs, ...seqs]) s.dispose();
  });
});

describe.each(ARCHS.flatMap((arch) => ACTIVATIONS.map((act) => [arch, act] as const)))("batched decode, %s, %s activations", (arch, act) => {
  it("2 to 4 sequences decoding together get each one's logits alone, bit for bit", async () => {
    const model = await open(tinyModel(arch, "Q4_0"), act);
    const V = model.info.vocabSize;
    for (const n of [2, 3, 4]) {
      const prompts = Array.from({ length: n }, (_, i) => promptTokens(3 + 4 * i, V, 500 + 10 * n + i));
      const alone = await prepared(model, prompts.map((p) => ({ prefix: p, tokens: [], all: false })));
      const seqs = await prepared(model, prompts.map((p) => ({ prefix: p, tokens: [], all: false })));
      for (let step = 0; step < 3; step++) {
        const tok = (i: number) => [20 + 31 * i + 7 * step];
        const want: Float32Array[] = [];
        for (let i = 0; i < n; i++) want.push(await alone[i]!.evaluate(tok(i)));
        const before = model.stats;
        const got = await Promise.all(seqs.map((s, i) => s.evaluate(tok(i))));
        expect(sized(model.stats, n) - sized(before, n)).toBe(1);
        for (let i = 0; i < n; i++) expect(rowRelError(got[i]!, want[i]!), `n=${n} step ${step} sequence ${i}`).toBe(0);
      }
      for (const s of [...alone, ...seqs]) s.dispose();
    }
  });
});

async function collect(it: AsyncIterable<{ token: number; text: string }>): Promise<number[]> {
  const tokens: number[] = [];
  for await (const t of it) tokens.push(t.token);
  return tokens;
}

describe.each(ARCHS)("scheduler, %s", (arch) => {
  let model: Model;
  beforeAll(async () => {
    model = await open(tinyModel(arch, "Q4_0"));
  });

  it("4 concurrent greedy generations give each one's tokens alone, in passes of 4 sequences", async () => {
    const V = model.info.vocabSize;
    const prompts = [3, 8, 5, 12].map((len, i) => promptTokens(len, V, 300 + i));
    const opts = { maxTokens: 16, temperature: 0, ignoreEog: true };
    const alone: number[][] = [];
    let before = model.stats;
    for (const p of prompts) alone.push(await collect(model.createSequence().generate(p, opts)));
    let after = model.stats;
    expect(after.passes - before.passes).toBe(4 * 16); // the prompt + 15 steps each, alone
    expect(sized(after, 1) - sized(before, 1)).toBe(4 * 16);

    before = model.stats;
    const together = await Promise.all(prompts.map((p) => collect(model.createSequence().generate(p, opts))));
    after = model.stats;
    expect(together).toEqual(alone);
    // The four prompts in one pass, then every step of the four together.
    expect(after.passes - before.passes).toBe(16);
    expect(sized(after, 4) - sized(before, 4)).toBe(16);
    expect(after.maxSequencesInPass).toBe(4);
    expect(after.batchedTokens - before.batchedTokens).toBe(prompts.reduce((a, p) => a + p.length, 0) + 4 * 15);
  });

  it("a lone sequence runs one pass per call", async () => {
    const seq = model.createSequence();
    const before = model.stats;
    await seq.evaluate([1, 2, 3]);
    await seq.evaluate([4]);
    const after = model.stats;
    expect(after.passes - before.passes).toBe(2);
    expect(sized(after, 1) - sized(before, 1)).toBe(2);
  });

  it("a bad token or a context overflow rejects only its own call", async () => {
    const V = model.info.vocabSize;
    const good = [model.createSequence(), model.createSequence()];
    const bad = model.createSequence();
    const small = model.createSequence({ contextSize: 4 });
    await small.evaluate([1, 2, 3]);
    const before = model.stats;
    const [g0, b0, s0, g1] = await Promise.allSettled([
      good[0]!.evaluate([1, 5, 6]),
      bad.evaluate([1, V, 3]),
      small.evaluate([4, 5]),
      good[1]!.evaluate([1, 9]),
    ]);
    expect(g0.status).toBe("fulfilled");
    expect(g1.status).toBe("fulfilled");
    expect(b0.status).toBe("rejected");
    expect(s0.status).toBe("rejected");
    const be = (b0 as PromiseRejectedResult).reason as LfmError;
    const se = (s0 as PromiseRejectedResult).reason as LfmError;
    expect(be).toBeInstanceOf(LfmError);
    expect(be.code).toBe("ERR_LFM_TOKEN_RANGE");
    expect(be.message).toMatch(new RegExp(`token id ${V} at index 1`));
    expect(se.code).toBe("ERR_LFM_CONTEXT_OVERFLOW");
    expect(se.message).toMatch(/3 tokens .* \+ 2 new exceed the context size 4/);
    // The good calls shared one pass; the bad ones changed nothing.
    const after = model.stats;
    expect(after.passes - before.passes).toBe(1);
    expect(sized(after, 2) - sized(before, 2)).toBe(1);
    expect([good[0]!.length, good[1]!.length, bad.length, small.length]).toEqual([3, 2, 0, 3]);
    const alone = await model.createSequence().evaluate([1, 5, 6]);
    expect(rowRelError((g0 as PromiseFulfilledResult<Float32Array>).value, alone)).toBeLessThan(BATCH_REL_TOL.q16);
  });

  it("disposing a sequence while its request waits for a batch rejects it with ERR_LFM_DISPOSED", async () => {
    const V = model.info.vocabSize;
    const long = model.createSequence({ contextSize: 4096 });
    const waiting = model.createSequence();
    const other = model.createSequence();
    const before = model.stats;
    const first = long.evaluate(promptTokens(4000, V, 77)); // a pass that runs for a while
    await new Promise((r) => setImmediate(r)); // it has started
    const w = waiting.evaluate([1, 2, 3]);
    const o = other.evaluate([1, 2, 3]);
    await new Promise((r) => setImmediate(r)); // both are queued behind it
    waiting.dispose();
    const [rw, ro] = await Promise.allSettled([w, o]);
    await first;
    expect(rw.status).toBe("rejected");
    const err = (rw as PromiseRejectedResult).reason as LfmError;
    expect(err.code).toBe("ERR_LFM_DISPOSED");
    expect(err.message).toMatch(/disposed while waiting for its batch/);
    expect(ro.status).toBe("fulfilled");
    const after = model.stats;
    expect(after.passes - before.passes).toBe(2); // the long prompt, then `other` alone
    expect(sized(after, 1) - sized(before, 1)).toBe(2);
  });

  it("disposing a sequence while its batch runs keeps the batch's memory alive", async () => {
    const V = model.info.vocabSize;
    const a = model.createSequence({ contextSize: 2048 });
    const b = model.createSequence({ contextSize: 2048 });
    const pa = a.evaluate(promptTokens(2000, V, 5));
    const pb = b.evaluate(promptTokens(1500, V, 6));
    await new Promise((r) => setImmediate(r)); // the pass of both is running
    b.dispose();
    const [ra, rb] = await Promise.allSettled([pa, pb]);
    expect(ra.status).toBe("fulfilled");
    expect(rb.status).toBe("fulfilled"); // it was in the addon already: it completes
    expect(a.length).toBe(2000);
  });
});

describe("NativeModel.evaluateBatch", () => {
  it("validates every item before touching any sequence and names the item", async () => {
    const m = await native().loadModel(tinyModel("lfm2", "Q4_0"), { threads: 2, useMmap: false, activations: "q16", device: "cpu" });
    try {
      const V = m.info().vocabSize;
      const s = [m.createSequence(16), m.createSequence(16), m.createSequence(4)];
      const t = (...ids: number[]) => Int32Array.from(ids);
      const fail = async (p: () => Promise<unknown>, code: string, msg: RegExp) => {
        let caught: unknown;
        try {
          await p();
        } catch (e) {
          caught = e;
        }
        expect((caught as { code?: string }).code).toBe(code);
        expect((caught as Error).message).toMatch(msg);
      };
      await fail(() => m.evaluateBatch([{ seq: s[0]!, tokens: t(1, 2), allLogits: false }, { seq: s[1]!, tokens: t(1, V), allLogits: false }]),
        "ERR_LFM_TOKEN_RANGE", new RegExp(`item 1: token id ${V} at index 1`));
      await fail(() => m.evaluateBatch([{ seq: s[0]!, tokens: t(1, 2), allLogits: false }, { seq: s[2]!, tokens: t(1, 2, 3, 4, 5), allLogits: false }]),
        "ERR_LFM_CONTEXT_OVERFLOW", /item 1: context overflow/);
      await fail(() => m.evaluateBatch([{ seq: s[0]!, tokens: t(), allLogits: false }]), "ERR_LFM_INVALID_ARG", /no tokens/);
      await fail(() => m.evaluateBatch([{ seq: s[0]!, tokens: t(1), allLogits: false }, { seq: s[0]!, tokens: t(2), allLogits: false }]),
        "ERR_LFM_INVALID_ARG", /appears twice/);
      await fail(() => m.evaluateBatch([{ seq: {} as never, tokens: t(1), allLogits: false }]), "ERR_LFM_INVALID_ARG", /NativeSequence/);
      await fail(() => m.evaluateBatch([{ seq: s[0]!, tokens: [1] as never, allLogits: false }]), "ERR_LFM_INVALID_ARG", /Int32Array/);
      await fail(() => m.evaluateBatch([]), "ERR_LFM_INVALID_ARG", /at least one item/);
      expect(s.map((x) => x.length)).toEqual([0, 0, 0]);
      const out = await m.evaluateBatch([{ seq: s[0]!, tokens: t(1, 2, 3), allLogits: true }, { seq: s[1]!, tokens: t(1), allLogits: false }]);
      expect(out.map((o) => o.length)).toEqual([3 * V, V]);
      expect(s.map((x) => x.length)).toEqual([3, 1, 0]);
      s[1]!.dispose();
      await fail(() => m.evaluateBatch([{ seq: s[0]!, tokens: t(4), allLogits: false }, { seq: s[1]!, tokens: t(2), allLogits: false }]),
        "ERR_LFM_DISPOSED", /disposed/);
      expect(s[0]!.length).toBe(3);
    } finally {
      m.dispose();
    }
  });
});
