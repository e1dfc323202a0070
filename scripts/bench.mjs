#!/usr/bin/env node
// npm run bench -- [MODEL.gguf | --preset lfm2-8b-a1b --type Q4_0] [options]: the same as
// `lfm2 bench` (see `lfm2 bench --help`). Needs the compiled package (npm install).
process.argv.splice(2, 0, "bench");
await import("../dist/cli.js");
