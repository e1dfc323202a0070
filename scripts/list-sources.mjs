// Prints the C++ sources of the given folders (one per line, sorted), for binding.gyp's <!@(...).
// Keeps the build description free of hand-kept file lists.
import { readdirSync, existsSync } from "node:fs";
import { join } from "node:path";

const out = [];
for (const dir of process.argv.slice(2)) {
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith(".cpp")) out.push(join(dir, f).split("\\").join("/"));
  }
}
console.log(out.join("\n"));
