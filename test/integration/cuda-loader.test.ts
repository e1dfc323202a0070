// How the addon finds CUDA, on any machine: the real probe on this one (no GPU needed), then
// its other paths through stand-ins for the NVIDIA driver and for the backend library
// (test/fixtures/fake-cuda, compiled here with the system C compiler; skipped without one).
// Each case runs in a child process, since the probe runs once per process.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel, runtimeInfo } from "../../lib/index.js";
import { LfmError } from "../../lib/errors.js";
import { scratchDir, tinyModel } from "../helpers/models.js";

const hasCc = spawnSync("cc", ["--version"], { stdio: "ignore" }).status === 0;
/** The real backend, where `npm run build:cuda` has built it (CI does when nvcc is installed). */
const builtBackend = join(import.meta.dirname, "../../build-cuda/liblfm2_cuda.so");
const linux = process.platform === "linux";
/** The interface version the addon was built for (native/cuda/lfm_cuda.h). */
const ABI_VERSION = Number(
  /#define LFM_CUDA_ABI_VERSION (\d+)/.exec(readFileSync(join(import.meta.dirname, "../../native/cuda/lfm_cuda.h"), "utf8"))![1],
);

/** Runs `code` (an ES module body using the built package) in a child with `env`; returns its JSON output. */
function child(code: string, env: Record<string, string>): unknown {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, ...env },
    cwd: join(import.meta.dirname, "../.."),
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const INFO = `import { runtimeInfo } from "./dist/index.js"; console.log(JSON.stringify(runtimeInfo().cuda));`;

describe("runtimeInfo().cuda on this machine", () => {
  it("reports a reason whenever CUDA is not available, and the device when it is", () => {
    const c = runtimeInfo().cuda;
    expect(typeof c.available).toBe("boolean");
    if (c.available) {
      expect(c.device?.name.length).toBeGreaterThan(0);
      expect(c.device?.computeCapability).toMatch(/^\d+\.\d+$/);
      expect(c.backendPath).toBeTruthy();
    } else {
      expect(c.reason).toMatch(/driver|device|backend|LFM2_CUDA/);
      expect(c.device).toBeUndefined();
    }
  });

  it("LFM2_CUDA=0 turns the probe off", () => {
    expect(child(INFO, { LFM2_CUDA: "0" })).toEqual({ available: false, reason: "disabled by LFM2_CUDA=0", deviceCount: 0 });
  });

  it.skipIf(runtimeInfo().cuda.available)("device 'cuda' without a GPU is ERR_LFM_DEVICE_UNAVAILABLE naming the reason; 'auto' uses the CPU", async () => {
    const path = tinyModel("lfm2", "Q4_0");
    const err = await loadModel(path, { device: "cuda" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LfmError);
    expect((err as LfmError).code).toBe("ERR_LFM_DEVICE_UNAVAILABLE");
    expect((err as LfmError).message).toContain(runtimeInfo().cuda.reason!);
    const m = await loadModel(path, { device: "auto" });
    expect(m.info.device).toBe("cpu");
    expect(m.info.deviceFallback).toBeUndefined(); // no GPU to fall back from
    m.dispose();
  });

  it("rejects an unknown device name", async () => {
    const err = await loadModel(tinyModel("lfm2", "Q4_0"), { device: "gpu" as "cuda" }).catch((e: unknown) => e);
    expect((err as LfmError).code).toBe("ERR_LFM_INVALID_ARG");
  });
});

describe.skipIf(!hasCc || !linux)("the probe's paths, with a stand-in driver and backend", () => {
  let dir = "";
  let backend = "";
  let stateless = "";
  beforeAll(() => {
    dir = scratchDir();
    const src = join(import.meta.dirname, "../fixtures/fake-cuda");
    backend = join(dir, "liblfm2_cuda.so");
    stateless = join(dir, "liblfm2_cuda_stateless.so");
    for (const [out, file, flags] of [
      [join(dir, "libcuda.so.1"), "fake_driver.c", []],
      [backend, "fake_backend.c", []],
      [stateless, "fake_backend.c", ["-DFAKE_WITHOUT_STATE"]],
    ] as const) {
      const r = spawnSync("cc", ["-shared", "-fPIC", ...flags, "-o", out, join(src, file)], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
    }
  });
  const env = (extra: Record<string, string> = {}) => ({ LD_LIBRARY_PATH: dir, LFM2_CUDA_BACKEND: backend, ...extra });

  it("a driver that fails to initialise", () => {
    const c = child(INFO, env({ FAKE_CU_INIT: "100" })) as { available: boolean; reason: string };
    expect(c.available).toBe(false);
    expect(c.reason).toBe("the NVIDIA driver failed to initialise (cuInit error 100)");
  });

  it("a driver without devices", () => {
    const c = child(INFO, env({ FAKE_CU_COUNT: "0" })) as { available: boolean; reason: string; driverVersion: number };
    expect(c).toEqual({ available: false, reason: "the NVIDIA driver reports no CUDA device", driverVersion: 13000, deviceCount: 0 });
  });

  it("a device but no backend library: the paths searched and what to do", () => {
    const c = child(INFO, env({ LFM2_CUDA_BACKEND: join(dir, "missing.so") })) as { available: boolean; reason: string };
    expect(c.available).toBe(false);
    expect(c.reason).toContain("npm run build:cuda");
    expect(c.reason).toContain("missing.so");
  });

  it("a backend built for another interface version is refused", () => {
    const c = child(INFO, env({ FAKE_ABI: "999" })) as { available: boolean; reason: string };
    expect(c.available).toBe(false);
    expect(c.reason).toContain(`interface version 999, expected ${ABI_VERSION}`);
    // The previous version (whose library lacks this one's entry points) is refused too.
    const old = child(INFO, env({ FAKE_ABI: String(ABI_VERSION - 1) })) as { available: boolean; reason: string };
    expect(old.available).toBe(false);
    expect(old.reason).toContain(`interface version ${ABI_VERSION - 1}, expected ${ABI_VERSION}`);
  });

  it("a backend without every entry point of the interface (the sequence state ones) is refused", () => {
    const c = child(INFO, env({ LFM2_CUDA_BACKEND: stateless })) as { available: boolean; reason: string };
    expect(c.available).toBe(false);
    expect(c.reason).toContain(`${stateless}: missing lfm_cuda_* symbols`);
  });

  it("a device and a backend: available, with the device's name, compute capability and memory", () => {
    expect(child(INFO, env())).toEqual({
      available: true,
      driverVersion: 13000,
      deviceCount: 1,
      device: { index: 0, name: "Fake GPU", computeCapability: "9.0", totalMemory: 80 * 2 ** 30, multiprocessors: 132 },
      backendPath: backend,
    });
  });

  it("a model the device cannot take: 'cuda' fails with the backend's error, 'auto' falls back to the CPU and says why", () => {
    const path = tinyModel("lfm2", "Q4_0");
    const code = `
      import { loadModel } from "./dist/index.js";
      const out = {};
      try { await loadModel(${JSON.stringify(path)}, { device: "cuda" }); out.cuda = "loaded"; }
      catch (e) { out.cuda = { code: e.code, message: e.message }; }
      const m = await loadModel(${JSON.stringify(path)}, { device: "auto" });
      const seq = m.createSequence();
      const logits = await seq.evaluate(m.tokenize("hello"));
      out.auto = { device: m.info.device, fallback: m.info.deviceFallback, logits: logits.length === m.info.vocabSize };
      m.dispose();
      console.log(JSON.stringify(out));`;
    const r = child(code, env()) as { cuda: { code: string; message: string }; auto: { device: string; fallback: string; logits: boolean } };
    expect(r.cuda.code).toBe("ERR_LFM_OOM");
    expect(r.cuda.message).toContain("not enough device memory");
    expect(r.auto.device).toBe("cpu");
    expect(r.auto.fallback).toContain("not enough device memory");
    expect(r.auto.logits).toBe(true);
  });

  it.skipIf(!existsSync(builtBackend))("the real backend library loads, matches the interface version and asks the CUDA runtime for devices", () => {
    // The stand-in driver has none of the entry points the CUDA runtime needs, so the runtime
    // inside the backend finds no device: the loader got as far as calling into the library.
    const c = child(INFO, env({ LFM2_CUDA_BACKEND: builtBackend })) as { available: boolean; reason: string };
    expect(c.available).toBe(false);
    expect(c.reason).toBe(`the CUDA backend (${builtBackend}) sees no device: the driver may be older than the CUDA runtime it was built with`);
  });
});
