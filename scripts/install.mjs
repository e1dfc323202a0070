#!/usr/bin/env node
// npm install hook: use the prebuilt addon for this platform when the package has one
// (prebuilds/<platform>-<arch>/, picked by node-gyp-build: nothing to compile, nothing to
// download); otherwise build it from source with node-gyp, after checking that a compiler and
// Python exist so that a machine without them gets one clear message instead of a build log.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const nodeGypBuild = require("node-gyp-build");

try {
  nodeGypBuild.path(root); // throws when neither a matching prebuild nor a local build exists
  process.exit(0);
} catch {
  // build from source below
}

const where = `${process.platform}-${process.arch}` + (process.platform === "linux" ? `-${libc()}` : "");
const onPath = (names) => {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  const exts = process.platform === "win32" ? ["", ".exe", ".cmd"] : [""];
  return names.find((n) => (n.includes("/") ? existsSync(n) : dirs.some((d) => exts.some((e) => existsSync(join(d, n + e))))));
};
const missing = [];
if (process.platform !== "win32") {
  if (!onPath([process.env.CXX ?? "", "c++", "g++", "clang++"].filter(Boolean))) missing.push("a C++17 compiler (g++ or clang++)");
  if (!onPath(["make", "gmake"])) missing.push("make");
}
if (!onPath([process.env.PYTHON ?? "", "python3", "python"].filter(Boolean))) missing.push("Python 3");
if (missing.length > 0) {
  console.error(
    [
      `lfm2: no prebuilt binary for ${where} (Node ${process.version}, Node-API ${process.versions.napi}),`,
      `and building from source needs ${missing.join(", ")}, which this machine lacks.`,
      "Install them (Debian/Ubuntu: apt install build-essential python3; macOS: xcode-select --install;",
      "Windows: Visual Studio Build Tools with C++), then run: npm rebuild lfm2",
      "Prebuilt binaries exist for linux-x64 and linux-arm64 (glibc), darwin-arm64, darwin-x64 and win32-x64.",
    ].join("\n"),
  );
  process.exit(1);
}
console.error(`lfm2: no prebuilt binary for ${where}; building from source with node-gyp`);
const r = spawnSync("node-gyp", ["rebuild"], { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
if (r.error || r.status !== 0) {
  console.error(`lfm2: the source build failed (${r.error?.message ?? `node-gyp exited with ${r.status}`}); see the log above`);
  process.exit(1);
}

function libc() {
  const report = process.report?.getReport?.();
  return report?.header?.glibcVersionRuntime ? "glibc" : "musl";
}
