// loadModel's onProgress on the GPU: the upload reported per layer (rising fractions, 1 last).
// Skipped (not failed) without CUDA.
import { describe, expect, it } from "vitest";
import { loadModel } from "../../lib/index.js";
import { hasCuda } from "../helpers/gpu.js";
import { tinyModel } from "../helpers/models.js";

describe.skipIf(!hasCuda)("GPU load progress", () => {
  it("reports the upload layer by layer, then 1 before the promise resolves", async () => {
    const seen: number[] = [];
    let resolved = false;
    const model = await loadModel(tinyModel("lfm2", "F32"), { device: "cuda", onProgress: (p) => seen.push(resolved ? -1 : p) });
    resolved = true;
    try {
      expect(model.info.device).toBe("cuda");
      // 5 layers and the embedding: several steps below 1.
      expect(seen.filter((p) => p > 0 && p < 1).length).toBeGreaterThanOrEqual(3);
      expect(seen.at(-1)).toBe(1);
      for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
      await new Promise((r) => setTimeout(r, 50));
      expect(seen).not.toContain(-1);
    } finally {
      model.dispose();
    }
  });
});
