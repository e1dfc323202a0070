// Every tolerance the kernel and model tests use, each with the reason for its size.
// u = 2^-24 is the unit roundoff of f32 (half an ulp at 1.0); "scale" below means the sum of the
// absolute values of the terms a result is made of (sum |w*x| for a dot product): the standard
// worst-case bound for a floating-point sum is (number of roundings on the longest path) * u *
// scale (Higham, Accuracy and Stability of Numerical Algorithms, ch. 3), independent of
// cancellation in the result itself.
import type { ModelInfo } from "../../lib/types.js";

/** Unit roundoff of f32. */
export const U32 = 2 ** -24;

/** One f32 ulp relative to the value (2u): results that may differ by one rounding. */
export const ONE_ULP_REL = 2 * U32;

/**
 * Scalar kernels that compute in double and round once (matmul, short_conv, attention, swiglu,
 * axpy) against the float64 TypeScript reference: the final rounding gives u*|ref| (with a hair
 * of margin for a double rounding), and the double-precision sums contribute about n * 2^-53 *
 * scale, far below 1e-12 * scale for every size tested.
 */
export const SCALAR_REL = 1.01 * U32;
export const SCALAR_SCALE = 1e-12;

/**
 * SIMD matmul against the scalar (double) reference, relative to sum_c |W[r,c] * x[c]|.
 * Longest rounding path in the AVX2/AVX-512 kernels: 4 in a block product + up to 16 FMAs in an
 * inner accumulator + n/256 flushes into the outer accumulator + 4 levels of the horizontal sum
 * + the final rounding, about 25 + n/256. Doubled for margin; still ~1e-5 or less for every
 * tested size, while a wrong element, block or row costs O(1) of the scale.
 */
export function matmulScaleTol(nCols: number): number {
  return (50 + nCols / 128) * U32;
}

/**
 * Dequantization is exact in every ISA (f16/bf16 -> f32, and (q - 8) * d or q * d, which need
 * at most 4 + 11 or 8 + 11 significant bits), so rows must match bit for bit.
 */
export const DEQUANT_EXACT = 0;

/**
 * rmsnorm: SIMD sums the squares in double like scalar, only in another order, so the scale s
 * may differ by one rounding in rare cases; y = (x * s) * w adds two roundings on each side:
 * 4 ulp relative. Scalar vs the float64 reference follows the same operation sequence: 1 ulp.
 */
export const RMSNORM_SIMD_REL = 8 * U32;
export const RMSNORM_SCALAR_REL = ONE_ULP_REL;

/**
 * swiglu in f32: own exp (<= 2 ulp), 1 + e (1 rounding), the division (1) and the product (1):
 * at most ~5 roundings relative to the value; 8u covers it. ATOL covers results below the
 * normal range (silu(g) for g < -87 underflows differently in f32 and double).
 */
export const SWIGLU_SIMD_REL = 10 * U32;
export const SWIGLU_ATOL = 1e-37;

/** axpy: one FMA (SIMD) against double-then-round (scalar): equal except in double-rounding ties. */
export const AXPY_REL = ONE_ULP_REL;

/**
 * short_conv y = C * sum_k w_k * win_k: the SIMD tap sum is L roundings (mul + L-1 FMAs) plus one
 * for the C product; relative to |C| * sum_k |w_k * win_k|, doubled for margin. The state holds
 * bx = B * x, one f32 product in every ISA: it must match exactly.
 */
export function shortConvScaleTol(L: number): number {
  return 2 * (L + 2) * U32;
}

/**
 * attention, SIMD (f32) vs scalar (double), relative to sum_j p_j |v_j[d]| (a convex combination
 * of |v|). Two sources: a score error ds (dot product over head_dim in f32: about
 * (head_dim/16 + 8) roundings of scale * sum |q*k|) perturbs every p_j by a factor exp(ds), and
 * it enters twice (numerator and the normaliser l); then each output accumulates n_keys FMAs
 * per lane, rescales once per block and is divided by l: (n_keys + 32) roundings.
 */
export function attentionScaleTol(maxScoreError: number, nKeys: number): number {
  return 2 * maxScoreError + (nKeys + 32) * U32;
}
export function attentionScoreRoundings(headDim: number): number {
  return headDim / 8 + 16;
}

/**
 * Whole-model logits, any ISA vs scalar (test/model/isa.test.ts): max |diff| / max |logit|.
 * Each layer's kernels agree to ~1e-6 relative (the bounds above for 2048-wide sums); a few
 * layers, the attention softmax and the final 2048 x vocab product keep the total well under
 * 1e-4, while a wrong kernel moves logits by O(1).
 */
export const ISA_MODEL_REL_TOL = 1e-4;

/**
 * Whole-model logits against the float64 reference (test/model/forward.test.ts), max |diff| /
 * max |logit| per position. The bar is 1e-4 with F32 weights. The engine keeps
 * activations and the KV cache in f32 for every weight type and dequantizes exactly, so the
 * same bar holds for F16/BF16/Q8_0/Q4_0 against the reference run on the dequantized weights
 * (measured: ~1e-6). llama.cpp, which rounds activations to the weight type, is 2e-3 to 1e-1.
 */
export const MODEL_REL_TOL = 1e-4;

/**
 * The same comparison with the default activations ("q16": rounded to 16 bits per 128-value
 * group before the integer matrix products of quantized weights; zero points and minimums see
 * the same rounded values, so each product is exactly sum w * x_rounded up to f32 rounding).
 * Each activation moves by at most 2^-16 of its group's largest magnitude
 * (test/kernels/matmul-q16.test.ts bounds every product); through the layers of the tiny random
 * test models, which amplify errors, this measures 2.3e-4 to 3.6e-4 for Q4_0, Q4_K, Q6_K and
 * Q4_K_M, where llama.cpp's 8-bit activations give 7.6e-2 to 1.8e-1 on the same files.
 */
export const Q16_MODEL_REL_TOL = 2e-3;

/**
 * The same with 8-bit activations ("q8", opt-in; llama.cpp's precision, 256 times coarser steps
 * than q16): measured 4.9e-2 to 2.0e-1 on the same files and prompts where llama.cpp gives
 * 7.4e-2 to 1.9e-1. The bar is twice llama.cpp's worst: it catches a broken kernel (O(1)), not
 * precision, which the kernel tests bound per product.
 */
export const Q8_MODEL_REL_TOL = 0.4;

/**
 * MoE routing picks the top K of the experts' scores: a step function, so comparing two engines
 * (or one with the reference) within the tolerances above is only meaningful where no routing
 * decision is close to a tie. The 16-bit activations move the router's input, and with it the
 * scores, a little; a decision closer to a tie than that can go either way in correct engines,
 * and the logits of the following tokens then move by ~0.1. Measured on the tiny MoE models
 * (Q4_0, Q8_0, Q4_K, Q6_K, Q4_K_M; 30 prompts each; q16 scalar and AVX-512 against the
 * reference): of the prompts whose closest decision was within 2.5e-4 of a tie (relative gap
 * between the K-th and (K+1)-th score), 4 of 9 flipped it; none of the 141 others flipped any
 * decision (logits within 1.4e-3 of the reference). Whole-model comparisons
 * therefore use prompts whose reference routing keeps every decision at least this far from a
 * tie (helpers/reference.ts, promptAwayFromRoutingTies); for a dense model the prompt is as given.
 */
export const ROUTING_MARGIN = 4e-4;

/** The bar for a model's logits against the reference in the activation mode it reports. */
export function modelRelTol(activations: ModelInfo["activations"]): number {
  return activations === "q16" ? Q16_MODEL_REL_TOL : activations === "q8" ? Q8_MODEL_REL_TOL : MODEL_REL_TOL;
}

/**
 * Decode after prefill vs one prefill over the same tokens: the same kernels see different
 * token counts (tiles of one vs many rows), which may change the f32 summation order in a few
 * places; each product still agrees to ~1e-6 relative, so 1e-5 over the logits.
 */
export const STEP_REL_TOL = 1e-5;

/**
 * The f32 floor of whole-model logits: with F32 weights both engines keep every value in f32,
 * and their distance to the float64 reference (~5e-7 to 1e-6 on the test models) is rounding
 * noise whose order between the two engines is a coin flip. "At least as close as llama.cpp"
 * is therefore judged as ours <= max(theirs, this floor); above the floor (every quantized and
 * half-precision type, where llama.cpp is 1e-3 to 1e-1 off) the comparison is strict.
 */
export const F32_LOGITS_FLOOR = 2e-6;
