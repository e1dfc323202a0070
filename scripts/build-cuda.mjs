#!/usr/bin/env node
// npm run build:cuda — builds the optional CUDA backend (liblfm2_cuda.so / lfm2_cuda.dll) with
// CMake into build-cuda/, where the addon looks for it in a development checkout. Without a CUDA
// toolkit it prints one line and exits 0, so CPU-only machines build and test everything else.
// Options: --arch "90" (CMAKE_CUDA_ARCHITECTURES), -j N. Environment: CUDACXX (nvcc path).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { delimiter, join } from "node:path";

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

function findNvcc() {
  const exe = process.platform === "win32" ? "nvcc.exe" : "nvcc";
  const dirs = [];
  if (process.env.CUDACXX) return existsSync(process.env.CUDACXX) ? process.env.CUDACXX : undefined;
  for (const d of (process.env.PATH ?? "").split(delimiter)) if (d) dirs.push(d);
  for (const v of ["CUDA_PATH", "CUDA_HOME"]) if (process.env[v]) dirs.push(join(process.env[v], "bin"));
  if (process.platform !== "win32") dirs.push("/usr/local/cuda/bin");
  for (const d of dirs) if (existsSync(join(d, exe))) return join(d, exe);
  return undefined;
}

const nvcc = findNvcc();
if (!nvcc) {
  console.log("lfm2: no CUDA toolkit (nvcc) found; the CUDA backend is skipped and the CPU build is unaffected");
  process.exit(0);
}
const cmake = process.env.CMAKE ?? "cmake";
if (spawnSync(cmake, ["--version"], { stdio: "ignore" }).status !== 0) {
  console.log("lfm2: CMake not found; the CUDA backend is skipped (install cmake to build it)");
  process.exit(0);
}
const configure = ["-S", ".", "-B", "build-cuda", "-DLFM_CUDA=ON", "-DCMAKE_BUILD_TYPE=Release", `-DCMAKE_CUDA_COMPILER=${nvcc}`];
const arch = opt("--arch");
if (arch) configure.push(`-DCMAKE_CUDA_ARCHITECTURES=${arch}`);
const jobs = opt("-j") ?? String(Math.max(1, cpus().length));
for (const cmd of [configure, ["--build", "build-cuda", "--target", "lfm2_cuda", "-j", jobs]]) {
  const r = spawnSync(cmake, cmd, { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`lfm2: the CUDA backend build failed (${cmake} ${cmd.join(" ")})`);
    process.exit(r.status ?? 1);
  }
}
console.log("lfm2: CUDA backend built: build-cuda/" + (process.platform === "win32" ? "lfm2_cuda.dll" : "liblfm2_cuda.so"));
