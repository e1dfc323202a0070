// CPU ISA selection: parse_isa names and ceilings, LFM2_CPU_ISA through default_isa, and the
// kernel hook refusing an ISA above what this CPU supports.
import { afterEach, describe, expect, it } from "vitest";
import { ISA_ORDER, runKernel, supportedIsas } from "../helpers/kernels.js";

const level = (r: Float32Array) => ISA_ORDER[r[0]!];
const parse = (name: string, ceiling?: string) => level(runKernel("scalar", "parse_isa", { name, ceiling }));

describe("parse_isa", () => {
  it("accepts every name up to the ceiling, case-insensitively", () => {
    expect(parse("scalar", "scalar")).toBe("scalar");
    expect(parse("avx2", "avx512")).toBe("avx2");
    expect(parse("AVX512", "avx512")).toBe("avx512");
    expect(parse("Avx2", "avx2")).toBe("avx2");
  });

  it("refuses a level above the ceiling, naming both", () => {
    for (const [name, ceiling] of [["avx2", "scalar"], ["avx512", "avx2"], ["avx512", "scalar"]]) {
      expect(() => parse(name!, ceiling)).toThrow(
        expect.objectContaining({
          code: "ERR_LFM_UNSUPPORTED_CPU",
          message: expect.stringMatching(new RegExp(`'${name}'.*at most '${ceiling}'`)),
        }),
      );
    }
  });

  it("refuses unknown names with ERR_LFM_INVALID_ARG", () => {
    for (const name of ["", "avx", "sse4", "avx512f", "scalar "]) {
      expect(() => parse(name, "avx512")).toThrow(expect.objectContaining({ code: "ERR_LFM_INVALID_ARG" }));
    }
  });

  it("uses the detected level as the ceiling by default", () => {
    const isas = supportedIsas();
    for (const isa of isas) expect(parse(isa)).toBe(isa);
    for (const isa of ISA_ORDER.slice(isas.length)) {
      expect(() => parse(isa)).toThrow(expect.objectContaining({ code: "ERR_LFM_UNSUPPORTED_CPU" }));
    }
  });
});

describe("LFM2_CPU_ISA", () => {
  const saved = process.env.LFM2_CPU_ISA;
  afterEach(() => {
    if (saved === undefined) delete process.env.LFM2_CPU_ISA;
    else process.env.LFM2_CPU_ISA = saved;
  });
  const defaultIsa = () => level(runKernel("scalar", "default_isa", {}));

  it("unset or empty gives the best level", () => {
    const best = supportedIsas().at(-1);
    delete process.env.LFM2_CPU_ISA;
    expect(defaultIsa()).toBe(best);
    process.env.LFM2_CPU_ISA = "";
    expect(defaultIsa()).toBe(best);
  });

  it("lowers the level", () => {
    for (const isa of supportedIsas()) {
      process.env.LFM2_CPU_ISA = isa;
      expect(defaultIsa()).toBe(isa);
    }
  });

  it("names the variable in its errors", () => {
    process.env.LFM2_CPU_ISA = "turbo";
    expect(defaultIsa).toThrow(expect.objectContaining({
      code: "ERR_LFM_INVALID_ARG", message: expect.stringMatching(/turbo.*LFM2_CPU_ISA/),
    }));
  });
});

describe("_runKernel", () => {
  it("refuses an ISA this CPU lacks and unknown ops", () => {
    for (const isa of ISA_ORDER.slice(supportedIsas().length)) {
      expect(() => runKernel(isa, "axpy_f32", { y: new Float32Array(1), a: 1, x: new Float32Array(1) }))
        .toThrow(expect.objectContaining({ code: "ERR_LFM_UNSUPPORTED_CPU" }));
    }
    expect(() => runKernel("scalar", "nope", {})).toThrow(TypeError);
  });
});
