// Sequence state operations of NativeSequence (native/models/lfm2_state.cpp): the conv-state
// copy and rewind, exportState / importState, on tiny dense and MoE models (CPU). A restored
// state must give the very logits (bit for bit) of the sequence it was taken from; the errors
// must leave the sequence as it was. With a CUDA device, the same on the GPU and across devices.
import { afterAll, describe, expect, it } from "vitest";
import { native, type NativeModel, type NativeSequence } from "../../lib/native.js";
import { maxRelError, promptTokens } from "../helpers/compare.js";
import { hasCuda } from "../helpers/gpu.js";
import type { SyntheticConfig } from "../../lib/synthetic/model.js";
import { ARCHS, tinyConfig, tinyModel } from "../helpers/models.js";

const models: NativeModel[] = [];
afterAll(() => models.forEach((m) => m.dispose()));

async function open(path: string, device: "cpu" | "cuda" = "cpu"): Promise<NativeModel> {
  const activations = device === "cpu" ? "q16" : "f32";
  const m = await native().loadModel(path, { threads: 2, useMmap: false, activations, device });
  models.push(m);
  return m;
}

/** Evaluates tokens on seq; logits of every token. */
async function evaluate(m: NativeModel, seq: NativeSequence, tokens: number[]): Promise<Float32Array> {
  const [out] = await m.evaluateBatch([{ seq, tokens: Int32Array.from(tokens), allLogits: true }]);
  return out!;
}

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Bitwise equality of two float rows (toEqual would accept -0 for 0 and ignore NaN payloads). */
function expectBitEqual(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  expect(bytesOf(a).equals(bytesOf(b)), `max rel diff ${maxRelError([a], [b]).toExponential(2)}`).toBe(true);
}

/** The code and message of a synchronous throw or a rejection. */
async function failure(f: () => unknown): Promise<{ code?: string; message: string } | undefined> {
  try {
    await f();
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message };
  }
  return undefined;
}

// Tiny models: D 64, 5 layers (attention at 2 and 4), 2 KV heads of 16, conv width 3.
const cfg = tinyConfig("lfm2");
const HEAD_DIM = cfg.hidden / cfg.nHeads;
const CONV_FLOATS = (cfg.nLayers - cfg.attnLayers.length) * 2 * cfg.hidden;
const KV_BYTES_PER_TOKEN = cfg.attnLayers.length * 2 * cfg.nKvHeads * HEAD_DIM * 4;
const HEADER_BYTES = 64;
/** exportState() size of a sequence of n tokens. */
const stateBytes = (n: number) => HEADER_BYTES + CONV_FLOATS * 4 + n * KV_BYTES_PER_TOKEN;

describe.each(ARCHS)("%s on the CPU", (arch) => {
  const path = () => tinyModel(arch, "Q4_0");
  const V = cfg.vocabSize;
  const A = promptTokens(23, V, 3);
  const B = promptTokens(9, V, 4).slice(1);

  /** A model and a sequence of context `ctx` that has evaluated A, with its conv state and export. */
  async function afterA(ctx: number) {
    const m = await open(path());
    const seq = m.createSequence(ctx);
    await evaluate(m, seq, A);
    return { m, seq, conv: seq.convState(), state: await seq.exportState() };
  }

  it("convState has every conv layer's rows; rewind with it replays B bit for bit", async () => {
    const m = await open(path());
    const seq = m.createSequence(64);
    expect(seq.convState()).toEqual(new Float32Array(CONV_FLOATS)); // zero at the start
    await evaluate(m, seq, A);
    const conv = seq.convState();
    expect(conv.length).toBe(CONV_FLOATS);
    expect(conv.some((x) => x !== 0)).toBe(true);
    const first = await evaluate(m, seq, B);
    expect(seq.length).toBe(A.length + B.length);
    seq.rewind(A.length, conv);
    expect(seq.length).toBe(A.length);
    expectBitEqual(seq.convState(), conv);
    expectBitEqual(await evaluate(m, seq, B), first);
    // Rewinding to 0 with a zero conv state is a reset.
    seq.rewind(0, new Float32Array(CONV_FLOATS));
    const fresh = m.createSequence(64);
    expectBitEqual(await evaluate(m, seq, A), await evaluate(m, fresh, A));
  });

  it("the conv state matters: rewinding with another one changes the logits", async () => {
    const m = await open(path());
    const seq = m.createSequence(64);
    await evaluate(m, seq, A);
    const first = await evaluate(m, seq, B);
    const after = seq.convState(); // taken at |A| + |B|, not at |A|
    seq.rewind(A.length, after);
    const wrong = await evaluate(m, seq, B);
    expect(maxRelError([wrong], [first])).toBeGreaterThan(1e-3);
    seq.rewind(A.length, new Float32Array(CONV_FLOATS));
    expect(maxRelError([await evaluate(m, seq, B)], [first])).toBeGreaterThan(1e-3);
  });

  it("exportState after A, importState into a fresh sequence (other context size) and into the model reloaded: B bit for bit", async () => {
    const m = await open(path());
    const seq = m.createSequence(64);
    await evaluate(m, seq, A);
    const state = await seq.exportState();
    expect(state.byteLength).toBe(stateBytes(A.length));
    const want = await evaluate(m, seq, B);

    const other = m.createSequence(200);
    await other.importState(state);
    expect(other.length).toBe(A.length);
    expectBitEqual(await evaluate(m, other, B), want);

    const reloaded = await open(path());
    const again = reloaded.createSequence(A.length + B.length);
    await again.importState(state);
    expectBitEqual(await evaluate(reloaded, again, B), want);

    // A sequence that had evaluated something else is replaced entirely.
    const used = m.createSequence(64);
    await evaluate(m, used, promptTokens(40, V, 9));
    await used.importState(state);
    expect(used.length).toBe(A.length);
    expectBitEqual(await evaluate(m, used, B), want);
  });

  it("the exported size grows with the length (by the K and V rows of a token), not with the context", async () => {
    const m = await open(path());
    const sizes: number[] = [];
    for (const [n, ctx] of [[0, 16], [1, 16], [5, 4096], [17, 32]] as const) {
      const seq = m.createSequence(ctx);
      if (n > 0) await evaluate(m, seq, promptTokens(n, V, 5));
      sizes.push((await seq.exportState()).byteLength);
    }
    expect(sizes).toEqual([0, 1, 5, 17].map(stateBytes));
    // An empty state imports to an empty sequence.
    const empty = await m.createSequence(8).exportState();
    const seq = m.createSequence(8);
    await evaluate(m, seq, [1, 2, 3]);
    await seq.importState(empty);
    expect(seq.length).toBe(0);
    expect(seq.convState()).toEqual(new Float32Array(CONV_FLOATS));
  });

  it("errors leave the sequence as it was", async () => {
    const { m, seq, conv, state } = await afterA(32);
    const check = async (f: () => unknown, code: string, msg: RegExp) => {
      const e = await failure(f);
      expect(e?.code, e?.message).toBe(code);
      expect(e?.message).toMatch(msg);
      expect(seq.length).toBe(A.length);
      expectBitEqual(seq.convState(), conv);
    };
    // rewind
    await check(() => seq.rewind(A.length + 1, conv), "ERR_LFM_INVALID_ARG", /length 24 is outside \[0, 23\]/);
    await check(() => seq.rewind(-1, conv), "ERR_LFM_INVALID_ARG", /outside/);
    await check(() => seq.rewind(2.5, conv), "ERR_LFM_INVALID_ARG", /integer/);
    await check(() => seq.rewind(5, conv.subarray(1)), "ERR_LFM_INVALID_ARG", new RegExp(`has ${CONV_FLOATS - 1} floats, expected ${CONV_FLOATS}`));
    await check(() => seq.rewind(5, new Float64Array(CONV_FLOATS) as unknown as Float32Array), "ERR_LFM_INVALID_ARG", /Float32Array/);
    // importState: not a state, truncated, trailing bytes, a header that lies, another version
    const bytes = new Uint8Array(state);
    const copy = (edit: (b: Uint8Array, v: DataView) => void, length = bytes.length) => {
      const b = new Uint8Array(length);
      b.set(bytes.subarray(0, Math.min(length, bytes.length)));
      edit(b, new DataView(b.buffer));
      return b.buffer;
    };
    await check(() => seq.importState(new ArrayBuffer(10)), "ERR_LFM_INVALID_ARG", /fewer than a state header/);
    await check(() => seq.importState(new ArrayBuffer(state.byteLength)), "ERR_LFM_INVALID_ARG", /not an exported sequence state/);
    await check(() => seq.importState(state.slice(0, state.byteLength - 4)), "ERR_LFM_INVALID_ARG", /truncated/);
    await check(() => seq.importState(copy(() => {}, bytes.length + 8)), "ERR_LFM_INVALID_ARG", /trailing bytes/);
    await check(() => seq.importState(copy((_b, v) => v.setBigInt64(48, 5n, true))), "ERR_LFM_INVALID_ARG", /does not match its length/);
    await check(() => seq.importState(copy((_b, v) => v.setBigInt64(48, -1n, true))), "ERR_LFM_INVALID_ARG", /length -1 is impossible/);
    await check(() => seq.importState(copy((_b, v) => v.setBigInt64(48, 2n ** 62n, true))), "ERR_LFM_INVALID_ARG", /impossible/);
    await check(() => seq.importState(copy((_b, v) => v.setUint32(8, 2, true))), "ERR_LFM_INVALID_ARG", /format version 2/);
    await check(() => seq.importState(new Uint8Array(state) as unknown as ArrayBuffer), "ERR_LFM_INVALID_ARG", /ArrayBuffer/);
    // longer than the context
    const small = m.createSequence(A.length - 1);
    const e = await failure(() => small.importState(state));
    expect(e?.code).toBe("ERR_LFM_CONTEXT_OVERFLOW");
    expect(e?.message).toMatch(/holds 23 tokens, more than the sequence's context size 22/);
    expect(small.length).toBe(0);
  });

  it("a state of another model shape: ERR_LFM_SHAPE_MISMATCH naming the shapes", async () => {
    const { seq } = await afterA(32);
    const shapes: [Partial<SyntheticConfig>, RegExp][] = [
      [{ hidden: 128 }, /embedding 128.*this model has 5 layers, embedding 64/],
      [{ attnLayers: [1, 4] }, /layer kinds \/ heads fingerprint differs/],
      [{ nLayers: 6 }, /6 layers/],
    ];
    for (const [config, msg] of shapes) {
      const other = await open(tinyModel(arch, "Q4_0", { config }));
      const s = other.createSequence(32);
      await evaluate(other, s, A.slice(0, 5));
      const e = await failure(async () => seq.importState(await s.exportState()));
      expect(e?.code, e?.message).toBe("ERR_LFM_SHAPE_MISMATCH");
      expect(e?.message).toMatch(msg);
      expect(seq.length).toBe(A.length);
    }
  });

  it("busy while an evaluation or a state operation of the sequence runs", async () => {
    const { m, seq, conv, state } = await afterA(600);
    const busy = async (f: () => unknown) => {
      const e = await failure(f);
      expect(e?.code, e?.message).toBe("ERR_LFM_INVALID_ARG");
      expect(e?.message).toMatch(/busy/);
    };
    const running = m.evaluateBatch([{ seq, tokens: Int32Array.from(promptTokens(500, V, 6)), allLogits: false }]);
    await busy(() => seq.rewind(A.length, conv));
    await busy(() => seq.convState());
    await busy(() => seq.exportState());
    await busy(() => seq.importState(state));
    await running;
    expect(seq.length).toBe(A.length + 500);
    const exporting = seq.exportState();
    await busy(() => m.evaluateBatch([{ seq, tokens: Int32Array.of(1), allLogits: false }]));
    await busy(() => seq.rewind(0, conv));
    expect((await exporting).byteLength).toBe(stateBytes(A.length + 500));
    const importing = seq.importState(state);
    await busy(() => seq.exportState());
    await importing;
    expect(seq.length).toBe(A.length);
  });

  it("after dispose: ERR_LFM_DISPOSED; an export in flight still completes", async () => {
    const { seq, conv, state } = await afterA(32);
    const pending = seq.exportState();
    seq.dispose();
    expect((await pending).byteLength).toBe(state.byteLength);
    for (const f of [() => seq.convState(), () => seq.rewind(0, conv), () => seq.exportState(), () => seq.importState(state)]) {
      expect((await failure(f))?.code).toBe("ERR_LFM_DISPOSED");
    }
    const m2 = await open(path());
    const s2 = m2.createSequence(32);
    m2.dispose();
    expect((await failure(() => s2.importState(state)))?.code).toBe("ERR_LFM_DISPOSED");
    expect((await failure(() => s2.convState()))?.code).toBe("ERR_LFM_DISPOSED");
  });
});

// The same bytes on both devices: a GPU state continues on the CPU and the other way round,
// within the GPU's tolerance against the CPU (test/gpu/model.test.ts), and on the GPU itself
// rewind / import replay B as the first time (same passes, same kernels).
describe.skipIf(!hasCuda)("on the GPU and across devices", () => {
  const GPU_REL_TOL = 1e-4;
  it.each(ARCHS)("%s", async (arch) => {
    const path = tinyModel(arch, "Q4_0");
    const gpu = await open(path, "cuda");
    const cpu = await native().loadModel(path, { threads: 2, useMmap: false, activations: "f32", device: "cpu" });
    models.push(cpu);
    const V = cfg.vocabSize;
    const A = promptTokens(23, V, 3);
    const B = promptTokens(9, V, 4).slice(1);
    const g = gpu.createSequence(64);
    await evaluate(gpu, g, A);
    const conv = g.convState();
    const state = await g.exportState();
    const first = await evaluate(gpu, g, B);
    g.rewind(A.length, conv);
    expect(maxRelError([await evaluate(gpu, g, B)], [first])).toBeLessThan(GPU_REL_TOL);
    const g2 = gpu.createSequence(64);
    await g2.importState(state);
    expect(maxRelError([await evaluate(gpu, g2, B)], [first])).toBeLessThan(GPU_REL_TOL);
    // GPU state -> CPU, CPU state -> GPU
    const c = cpu.createSequence(64);
    await c.importState(state);
    expect(maxRelError([await evaluate(cpu, c, B)], [first])).toBeLessThan(GPU_REL_TOL);
    const c2 = cpu.createSequence(64);
    await evaluate(cpu, c2, A);
    const g3 = gpu.createSequence(64);
    await g3.importState(await c2.exportState());
    expect(maxRelError([await evaluate(gpu, g3, B)], [first])).toBeLessThan(GPU_REL_TOL);
    expect(maxRelError([g3.convState()], [conv])).toBeLessThan(GPU_REL_TOL);
  });
});
