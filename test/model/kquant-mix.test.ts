// The llama.cpp-style Q4_K_M / Q5_K_M mixes of the synthetic writer: the tensor types the mix
// rule picks, read back from the files. (Their logits, like every type's, are checked against the
// float64 reference and llama.cpp in llamacpp.test.ts.) K-quants need rows that are multiples of
// 256, hence K_QUANT_CONFIG.
import { describe, expect, it } from "vitest";
import { mixTensorType, PRESETS, type SyntheticConfig } from "../../lib/synthetic/model.js";
import { readGguf } from "../helpers/gguf-read.js";
import { ARCHS, K_QUANT_CONFIG, tinyConfig, tinyModel } from "../helpers/models.js";

const ID = { F32: 0, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14 } as const;

/**
 * The expected type of a weight matrix of the tiny configs (5 layers, attention at 2 and 4,
 * tied head) under a mix, written out by hand from llama.cpp's rules: use_more_bits(i, 5) holds
 * for i = 2 and 4 (i >= 7*5/8 = 4, (i - 0) % 3 == 2), use_more_bits(i, 2) for i = 1 only.
 */
function expectedTiny(mix: "Q4_K_M" | "Q5_K_M", name: string): number {
  const base = mix === "Q4_K_M" ? ID.Q4_K : ID.Q5_K;
  if (name === "token_embd.weight") return ID.Q6_K; // tied: token_embd is the output
  if (name === "blk.4.attn_v.weight") return ID.Q6_K; // second of two attention layers
  if (/^blk\.[24]\.ffn_down(_exps)?\.weight$/.test(name)) return ID.Q6_K;
  return base;
}

describe("mix rule", () => {
  it("LFM2-8B-A1B Q4_K_M: Q6_K for the tied head, attn_v of 2 of 6 attention layers, ffn_down of 12 of 24 layers", () => {
    const c = { ...PRESETS["lfm2-8b-a1b"], tiedOutput: true } as Required<SyntheticConfig>;
    expect(mixTensorType("Q4_K_M", "token_embd.weight", 2048, c)).toBe("Q6_K");
    const v = c.attnLayers.filter((l) => mixTensorType("Q4_K_M", `blk.${l}.attn_v.weight`, 2048, c) === "Q6_K");
    expect(v).toEqual([10, 21]); // indices 2 and 5 of 6: (i - 0) % 3 == 2, i >= 5
    const down = [...Array(24).keys()].filter((l) =>
      mixTensorType("Q4_K_M", `blk.${l}.${l < 2 ? "ffn_down" : "ffn_down_exps"}.weight`, 1792, c) === "Q6_K");
    expect(down).toEqual([0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23]);
    expect(mixTensorType("Q4_K_M", "blk.3.ffn_gate_exps.weight", 2048, c)).toBe("Q4_K");
    expect(mixTensorType("Q5_K_M", "blk.2.attn_q.weight", 2048, c)).toBe("Q5_K");
  });

  it("untied head: output.weight Q6_K, token_embd keeps the base; rows not a multiple of 256 fall back", () => {
    const c = { ...PRESETS["lfm2-1.2b"], tiedOutput: false } as Required<SyntheticConfig>;
    expect(mixTensorType("Q5_K_M", "output.weight", 2048, c)).toBe("Q6_K");
    expect(mixTensorType("Q5_K_M", "token_embd.weight", 2048, c)).toBe("Q5_K");
    expect(mixTensorType("Q4_K_M", "blk.3.attn_q.weight", 96, c)).toBe("Q5_0");
    expect(mixTensorType("Q5_K_M", "blk.3.attn_q.weight", 96, c)).toBe("Q5_1");
    expect(mixTensorType("Q4_K_M", "blk.0.ffn_down.weight", 96, c)).toBe("Q8_0");
    expect(mixTensorType("Q4_K_M", "output.weight", 96, c)).toBe("Q8_0");
  });

  describe.each(ARCHS)("%s file", (arch) => {
    it.each(["Q4_K_M", "Q5_K_M"] as const)("%s: tensor types follow the rule; small tensors stay F32", (mix) => {
      const f = readGguf(tinyModel(arch, mix, { config: K_QUANT_CONFIG }));
      expect(f.metadata.get("general.file_type")?.value).toBe(mix === "Q4_K_M" ? 15 : 17);
      let checked = 0;
      for (const t of f.tensors.values()) {
        const small = t.dims.length === 1 || /norm|shortconv\.conv\.|ffn_gate_inp|exp_probs_b/.test(t.name);
        expect(t.type, t.name).toBe(small ? ID.F32 : expectedTiny(mix, t.name));
        if (!small) checked++;
      }
      expect(checked).toBeGreaterThan(10);
      expect(tinyConfig(arch).nLayers).toBe(5);
    });
  });
});
