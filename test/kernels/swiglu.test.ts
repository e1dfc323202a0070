// swiglu_f32: y = silu(gate) * up, silu(g) = g / (1 + exp(-g)). Scalar (double, rounded once) vs
// float64; SIMD ISAs (own exp polynomial) within a few ulp of scalar, including the overflow /
// underflow ends of exp; y may alias gate or up.
import { describe, it } from "vitest";
import { expectAllClose, Rng, runKernel, simdIsas } from "../helpers/kernels.js";
import { ONE_ULP_REL, SWIGLU_ATOL, SWIGLU_SIMD_REL } from "../helpers/tolerance.js";

const SIZES = [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 100, 8192];
const EXTREMES = [0, -0, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.5, 10, -10, 20, -20, 50, -50, 80, -80,
  87, -87, 88.5, -88.5, 89, -89, 100, -100, 104, -104, 110, -110, 1e30, -1e30];

function reference(gate: Float32Array, up: Float32Array): Float64Array {
  return Float64Array.from(gate, (g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
}

function check(gate: Float32Array, up: Float32Array, label: string) {
  const ref = reference(gate, up);
  const scalar = runKernel("scalar", "swiglu_f32", { gate, up });
  expectAllClose(scalar, ref, `scalar ${label}`, { rtol: ONE_ULP_REL, atol: SWIGLU_ATOL });
  for (const isa of simdIsas()) {
    for (const inPlace of [undefined, "gate", "up"]) {
      expectAllClose(runKernel(isa, "swiglu_f32", { gate, up, inPlace }), scalar, `${isa} ${label} inPlace=${inPlace}`,
        { rtol: SWIGLU_SIMD_REL, atol: SWIGLU_ATOL });
    }
  }
}

describe("swiglu_f32", () => {
  it.each(SIZES)("n=%i", (n) => {
    const rng = new Rng(500 + n);
    check(rng.f32Array(n, -12, 12), rng.f32Array(n, -2, 2), `n=${n}`);
  });

  it("extreme gates (exp overflow and underflow)", () => {
    const gate = Float32Array.from(EXTREMES);
    check(gate, new Float32Array(gate.length).fill(1.5), "extremes");
  });

  it("a dense sweep of gates in [-90, 90]", () => {
    const n = 18001;
    const gate = Float32Array.from({ length: n }, (_, i) => -90 + i * 0.01);
    check(gate, new Float32Array(n).fill(1), "sweep");
  });
});
