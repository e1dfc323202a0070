// The package as users get it: `npm pack` (with the prebuilt addon for this platform, made by
// `npm run prebuild`, which .ci/run does first; skipped when there is none), installed into an empty folder by npm with no compiler, make
// or Python reachable, then used to generate text. Also the addon loader's diagnostics when
// nothing loadable is there.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { addonLoadError } from "../../lib/native.js";
import { scratchDir, tinyModel } from "../helpers/models.js";

/** A fresh folder of this test process's scratch space. */
const freshDir = () => mkdtempSync(join(scratchDir(), "pack-"));

const repo = join(import.meta.dirname, "../..");
const linux = process.platform === "linux";
const tag = `${process.platform}-${process.arch}`;
const npmCli = join(dirname(process.execPath), "../lib/node_modules/npm/bin/npm-cli.js");

const hasPrebuild = existsSync(join(repo, "prebuilds", tag));

describe.skipIf(!linux || !existsSync(npmCli) || !hasPrebuild)("npm pack, then npm install without a compiler", () => {
  let tarball = "";
  let app = "";
  let installSeconds = 0;
  beforeAll(() => {
    const dir = freshDir();
    const pack = spawnSync(process.execPath, [npmCli, "pack", "--json", "--pack-destination", dir], { cwd: repo, encoding: "utf8" });
    expect(pack.status, pack.stderr).toBe(0);
    tarball = join(dir, (JSON.parse(pack.stdout) as { filename: string }[])[0]!.filename);

    // A PATH with node and the shell npm runs scripts with, nothing else: no c++, g++,
    // clang++, make or python.
    const bin = join(dir, "bin");
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, "node"));
    symlinkSync("/bin/sh", join(bin, "sh"));
    app = join(dir, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    const t0 = performance.now();
    const install = spawnSync(process.execPath, [npmCli, "install", tarball, "--no-audit", "--no-fund", "--prefer-offline", "--foreground-scripts"], {
      cwd: app,
      encoding: "utf8",
      env: { HOME: process.env.HOME ?? dir, PATH: bin, CXX: "/nonexistent/c++", npm_config_cache: process.env.npm_config_cache ?? "" },
      timeout: 240_000,
    });
    installSeconds = (performance.now() - t0) / 1000;
    expect(install.status, install.stdout + install.stderr).toBe(0);
  }, 600_000);

  it("the tarball is under 10 MB and holds the prebuilt addon, the compiled API and the sources, no tests", () => {
    expect(statSync(tarball).size).toBeLessThan(10 * 2 ** 20);
    const pkg = join(app, "node_modules", "lfm2");
    expect(readdirSync(join(pkg, "prebuilds", tag)).some((f) => f.endsWith(".node"))).toBe(true);
    expect(existsSync(join(pkg, "dist", "index.js"))).toBe(true);
    expect(existsSync(join(pkg, "native", "models", "lfm2.cpp"))).toBe(true);
    expect(existsSync(join(pkg, "test"))).toBe(false);
    expect(existsSync(join(pkg, "build"))).toBe(false); // nothing was compiled
    expect(installSeconds).toBeLessThan(240);
  });

  it("generates text with the installed package", () => {
    const model = tinyModel("lfm2", "Q4_0");
    const script = `
      import { loadModel, runtimeInfo } from "lfm2";
      const m = await loadModel(${JSON.stringify(model)});
      const seq = m.createSequence();
      const tokens = [];
      let text = "";
      for await (const t of seq.generate(m.tokenize("Hello"), { maxTokens: 8, temperature: 0, ignoreEog: true })) { tokens.push(t.token); text += t.text; }
      m.dispose();
      console.log(JSON.stringify({ isa: runtimeInfo().cpu.isa, tokens, text }));`;
    writeFileSync(join(app, "gen.mjs"), script);
    const r = spawnSync(process.execPath, ["gen.mjs"], { cwd: app, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as { isa: string; tokens: number[]; text: string };
    expect(out.tokens).toHaveLength(8);
    expect(["scalar", "avx2", "avx512"]).toContain(out.isa);
  });

  it.skipIf(spawnSync("cc", ["--version"]).status !== 0)("finds the CUDA backend in the optional lfm2-cuda-<platform>-<arch> package when a GPU exists", () => {
    // Stand-ins for the driver and the backend (test/fixtures/fake-cuda), the backend installed
    // as the optional package would be.
    const fake = join(repo, "test", "fixtures", "fake-cuda");
    const drv = freshDir();
    const pkg = join(app, "node_modules", `lfm2-cuda-${tag}`);
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: `lfm2-cuda-${tag}`, version: "0.0.0" }));
    for (const [out, src] of [[join(drv, "libcuda.so.1"), "fake_driver.c"], [join(pkg, "liblfm2_cuda.so"), "fake_backend.c"]] as const) {
      const r = spawnSync("cc", ["-shared", "-fPIC", "-o", out, join(fake, src)], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
    }
    writeFileSync(join(app, "cuda.mjs"), `import { runtimeInfo } from "lfm2"; console.log(JSON.stringify(runtimeInfo().cuda));`);
    const r = spawnSync(process.execPath, ["cuda.mjs"], { cwd: app, encoding: "utf8", env: { ...process.env, LD_LIBRARY_PATH: drv } });
    expect(r.status, r.stderr).toBe(0);
    const cuda = JSON.parse(r.stdout.trim()) as { available: boolean; backendPath: string; device: { name: string } };
    expect(cuda.available).toBe(true);
    expect(cuda.backendPath).toBe(join(pkg, "liblfm2_cuda.so"));
    expect(cuda.device.name).toBe("Fake GPU");
  });
});

describe.skipIf(!linux)("install without a prebuilt addon for the platform", () => {
  it("and without a compiler: one clear message naming the platform and what to install, exit 1", () => {
    const dir = freshDir();
    mkdirSync(join(dir, "scripts"));
    cpSync(join(repo, "scripts", "install.mjs"), join(dir, "scripts", "install.mjs"));
    symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, "node"));
    const r = spawnSync(process.execPath, [join(dir, "scripts", "install.mjs")], {
      encoding: "utf8",
      env: { PATH: bin, CXX: "/nonexistent/c++" },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`no prebuilt binary for ${tag}`);
    expect(r.stderr).toContain("a C++17 compiler");
    expect(r.stderr).toContain("make");
    expect(r.stderr).toContain("Python 3");
    expect(r.stderr).toContain("npm rebuild lfm2");
  });
});

describe("the addon loader's diagnostics", () => {
  it("names the platform, what was looked for, the cause and what to do", () => {
    const dir = freshDir();
    mkdirSync(join(dir, "prebuilds", "linux-riscv64"), { recursive: true });
    const e = addonLoadError(new Error(`No native build was found for platform=${process.platform} arch=${process.arch}`), dir);
    expect(e.code).toBe("ERR_LFM_ADDON_LOAD");
    expect(e.message).toContain(`${process.platform}-${process.arch}`);
    expect(e.message).toContain(`Node ${process.versions.node}, Node-API ${process.versions.napi}`);
    expect(e.message).toContain(join(dir, "prebuilds", tag));
    expect(e.message).toContain("prebuilds here: linux-riscv64");
    expect(e.message).toContain(join(dir, "build", "Release"));
    expect(e.message).toMatch(/npm (rebuild|install) lfm2/);
    if (linux) expect(e.message).toMatch(/glibc|musl/);
  });

  it("a package copy without any addon fails to load with ERR_LFM_ADDON_LOAD, not a crash", () => {
    const dir = freshDir();
    cpSync(join(repo, "dist"), join(dir, "dist"), { recursive: true });
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "lfm2", type: "module" }));
    symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
    const r = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", `import { runtimeInfo } from ${JSON.stringify(join(dir, "dist", "index.js"))}; try { runtimeInfo(); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as { code: string; message: string };
    expect(out.code).toBe("ERR_LFM_ADDON_LOAD");
    expect(out.message).toContain("No native build was found");
    expect(out.message).toContain(join(dir, "prebuilds"));
  });
});
