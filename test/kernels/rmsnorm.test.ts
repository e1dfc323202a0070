// rmsnorm_f32: y = (x * s) * w with s = f32(1 / sqrt(mean(x^2) + eps)). Scalar follows the
// same operation sequence as the float64 reference below; SIMD ISAs within a few ulp of scalar;
// y may alias x.
import { describe, it } from "vitest";
import { expectAllClose, Rng, runKernel, simdIsas } from "../helpers/kernels.js";
import { RMSNORM_SCALAR_REL, RMSNORM_SIMD_REL } from "../helpers/tolerance.js";

const SIZES = [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 100, 1024, 2048];
const EPS = 1e-5;

function reference(x: Float32Array, w: Float32Array, eps: number): Float64Array {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]! * x[i]!;
  const s = Math.fround(1 / Math.sqrt(sum / x.length + Math.fround(eps)));
  return Float64Array.from(x, (v, i) => Math.fround(Math.fround(v * s) * w[i]!));
}

describe.each(SIZES)("rmsnorm_f32 n=%i", (n) => {
  const rng = new Rng(300 + n);
  // Mixed magnitudes so the sum of squares is not dominated by one scale.
  const x = Float32Array.from({ length: n }, () => rng.uniform(-3, 3) * 2 ** rng.int(-4, 4));
  const w = rng.f32Array(n, 0.5, 1.5);
  const ref = reference(x, w, EPS);
  const scalar = runKernel("scalar", "rmsnorm_f32", { x, w, eps: EPS });

  it("scalar matches the float64 reference", () => {
    expectAllClose(scalar, ref, "scalar rmsnorm", { rtol: RMSNORM_SCALAR_REL });
  });

  it.each(simdIsas())("%s matches scalar (also in place)", (isa) => {
    expectAllClose(runKernel(isa, "rmsnorm_f32", { x, w, eps: EPS }), scalar, `${isa} rmsnorm`, { rtol: RMSNORM_SIMD_REL });
    expectAllClose(runKernel(isa, "rmsnorm_f32", { x, w, eps: EPS, inPlace: true }), scalar, `${isa} rmsnorm in place`,
      { rtol: RMSNORM_SIMD_REL });
  });
});

describe("rmsnorm_f32 eps", () => {
  it("an all-zero row gives zeros and a tiny row is dominated by eps", () => {
    const n = 33;
    const w = new Float32Array(n).fill(1);
    for (const isa of ["scalar", ...simdIsas()]) {
      expectAllClose(runKernel(isa, "rmsnorm_f32", { x: new Float32Array(n), w, eps: EPS }), new Float64Array(n), `${isa} zeros`);
      const x = new Float32Array(n).fill(1e-4);
      expectAllClose(runKernel(isa, "rmsnorm_f32", { x, w, eps: EPS }), reference(x, w, EPS), `${isa} tiny`,
        { rtol: RMSNORM_SIMD_REL });
    }
  });
});
