// loadModel's onProgress: rising fractions on the JavaScript thread while the file is read,
// 1 before the promise resolves and nothing after; errors in the callback or the load.
import { truncateSync, copyFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel } from "../../lib/index.js";
import { scratchDir, tinyModel } from "../helpers/models.js";

/** A model of about 60 MiB (F32 weights), several of the 16 MiB chunks the load reads. */
const bigModel = () => tinyModel("lfm2", "F32", { config: { hidden: 512, ffn: 1536, nLayers: 5 } });

describe("loadModel onProgress", () => {
  it("reports rising fractions while reading, then 1 before the promise resolves", async () => {
    const path = bigModel();
    expect(statSync(path).size).toBeGreaterThan(48 << 20);
    const seen: number[] = [];
    let resolved = false;
    const model = await loadModel(path, { threads: 1, device: "cpu", onProgress: (p) => seen.push(resolved ? -1 : p) });
    resolved = true;
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.at(-1)).toBe(1);
    expect(seen.filter((p) => p > 0 && p < 1).length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(seen.every((p) => p >= 0 && p <= 1)).toBe(true);
    // Nothing arrives after the load settled.
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).not.toContain(-1);
    model.dispose();
  });

  it("with useMmap nothing is copied: only 1", async () => {
    const seen: number[] = [];
    const model = await loadModel(bigModel(), { threads: 1, device: "cpu", useMmap: true, onProgress: (p) => seen.push(p) });
    expect(seen).toEqual([1]);
    model.dispose();
  });

  it("a callback that throws fails the load with its error, without crashing", async () => {
    const boom = new Error("progress callback failed");
    await expect(loadModel(bigModel(), { threads: 1, device: "cpu", onProgress: () => { throw boom; } })).rejects.toBe(boom);
    // The process and the addon are fine: the next load works.
    const model = await loadModel(bigModel(), { threads: 1, device: "cpu" });
    expect(model.info.layerCount).toBe(5);
    model.dispose();
  });

  it("a failed load rejects with its own error and calls back no more", async () => {
    const cut = join(scratchDir(), "progress-truncated.gguf");
    copyFileSync(bigModel(), cut);
    truncateSync(cut, 40 << 20);
    const seen: number[] = [];
    await expect(loadModel(cut, { threads: 1, device: "cpu", onProgress: (p) => seen.push(p) })).rejects.toMatchObject({ code: "ERR_LFM_MODEL_FORMAT" });
    const after = seen.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.length).toBe(after);
    expect(seen).not.toContain(1);
  });

  it("a non-function is refused", async () => {
    await expect(loadModel(bigModel(), { onProgress: 5 as unknown as () => void })).rejects.toMatchObject({ code: "ERR_LFM_INVALID_ARG" });
  });
});
