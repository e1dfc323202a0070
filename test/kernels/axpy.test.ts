// axpy_f32: y += a * x. Scalar rounds the exact double result once; SIMD uses one FMA.
import { describe, it } from "vitest";
import { expectAllClose, Rng, runKernel, simdIsas } from "../helpers/kernels.js";
import { AXPY_REL, SCALAR_REL } from "../helpers/tolerance.js";

const SIZES = [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 100, 2048];

describe.each(SIZES)("axpy_f32 n=%i", (n) => {
  const rng = new Rng(700 + n);
  const y = rng.f32Array(n, -4, 4);
  const x = rng.f32Array(n, -4, 4);
  const a = Math.fround(rng.uniform(-2, 2));
  const ref = Float64Array.from(y, (v, i) => v + a * x[i]!);
  const scalar = runKernel("scalar", "axpy_f32", { y, a, x });

  it("scalar matches the float64 reference", () => {
    expectAllClose(scalar, ref, "scalar axpy", { rtol: SCALAR_REL });
  });

  it.each(simdIsas())("%s matches scalar", (isa) => {
    expectAllClose(runKernel(isa, "axpy_f32", { y, a, x }), scalar, `${isa} axpy`, { rtol: AXPY_REL });
  });
});
