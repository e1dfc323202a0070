// The `lfm2 bench` command, driven as a user would (spawned, on a tiny model).
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { tinyModel } from "../helpers/models.js";

function lfm2(...args: string[]) {
  return spawnSync(process.execPath, ["dist/cli.js", ...args], { encoding: "utf8", timeout: 120_000 });
}

describe("lfm2 bench", () => {
  it("prints help", () => {
    const r = lfm2("bench", "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: lfm2 bench \[MODEL\.gguf\]/);
    expect(r.stdout).toMatch(/--threads N/);
  });

  it("measures a model beside llama.cpp and prints medians and ratios", () => {
    const r = lfm2("bench", tinyModel("lfm2moe", "Q8_0"), "--pp", "16", "--tg", "8", "--reps", "2", "--threads", "1");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^lfm2\s+pp16\s+\d+\.\d+\s+\d+\.\d+\.\.\d+\.\d+$/m);
    expect(r.stdout).toMatch(/^lfm2\s+tg8\s+\d+\.\d+/m);
    expect(r.stdout).toMatch(/^llama\.cpp\s+tg8\s+\d+\.\d+/m);
    expect(r.stdout).toMatch(/ratio lfm2 \/ llama\.cpp pp: \d+\.\d+x/);
    expect(r.stdout).toMatch(/decode reads 0\.\d+ GB\/token; bandwidth floor/);
    expect(r.stdout).toMatch(/lfm2 resident memory: \d+\.\d+ GiB \(file 0\.\d+ GiB/);
  });

  it("rejects bad input with a code and a non-zero exit", () => {
    const r = lfm2("bench", "--threads", "zero", tinyModel("lfm2", "F32"));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ERR_LFM_INVALID_ARG: --threads expects a number/);
    const missing = lfm2("bench", "/nonexistent/model.gguf", "--no-llama");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/ERR_LFM_FILE_NOT_FOUND/);
    expect(lfm2("frobnicate").status).toBe(2);
  });
});
