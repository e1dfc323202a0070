#!/usr/bin/env node
// Packs what a session with a lent GPU machine needs that the machine lacks (it has nvcc, CMake
// and Python but maybe no Node.js, and no network): this Node binary, the compiled package
// (dist/, the addon), and the modules the GPU test suites run with (vitest and its
// dependencies, node-gyp-build). Writes .gpu-carry/bundle.tar.xz (ignored by git, about 35 MB);
// name `.gpu-carry` in the device tool's `carry` and run `bash scripts/gpu-run.sh` there.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, ".gpu-carry");

// The installed packages a module needs, resolved as Node does (nearest node_modules upwards).
function closure(names) {
  const seen = new Set();
  const walk = (name, from) => {
    for (let dir = from; ; dir = dirname(dir)) {
      const p = join(dir, "node_modules", name);
      if (existsSync(join(p, "package.json"))) {
        if (seen.has(p)) return;
        seen.add(p);
        const pj = JSON.parse(readFileSync(join(p, "package.json"), "utf8"));
        for (const d of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies })) walk(d, p);
        return;
      }
      if (dirname(dir) === dir) return; // not installed (an optional dependency for another platform)
    }
  };
  for (const n of names) walk(n, root);
  return [...seen].map((p) => relative(root, p));
}

for (const need of ["dist/index.js", "build/Release/lfm2.node"]) {
  if (!existsSync(join(root, need))) {
    console.error(`gpu-carry: ${need} is missing: run npm install (or npm run build:all) first`);
    process.exit(1);
  }
}
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "stage", ".gpu-bin"), { recursive: true });
const list = [...closure(["vitest", "node-gyp-build", "node-addon-api"]), "dist", "build/Release/lfm2.node", "package.json"];
writeFileSync(join(out, "files.txt"), list.join("\n") + "\n");
const nodeCopy = join(out, "stage", ".gpu-bin", "node");
spawnSync("cp", [process.execPath, nodeCopy], { stdio: "inherit" });
const tar = spawnSync(
  "tar",
  ["-cJf", join(out, "bundle.tar.xz"), "-C", root, "-T", join(out, "files.txt"), "-C", join(out, "stage"), ".gpu-bin"],
  { stdio: "inherit", env: { ...process.env, XZ_OPT: "-6 -T0" } },
);
rmSync(join(out, "stage"), { recursive: true, force: true });
if (tar.status !== 0) process.exit(tar.status ?? 1);
console.log(`gpu-carry: .gpu-carry/bundle.tar.xz, ${(statSync(join(out, "bundle.tar.xz")).size / 2 ** 20).toFixed(1)} MiB (${list.length} paths + node ${process.version})`);
