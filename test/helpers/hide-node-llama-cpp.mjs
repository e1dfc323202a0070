// SPDX-License-Identifier: MIT
// Preloaded with `node --import` (through NODE_OPTIONS, so child processes inherit it): makes
// `import("node-llama-cpp")` fail as if the package were not installed.
import { register } from "node:module";

const hook = `export async function resolve(specifier, context, next) {
  if (specifier === "node-llama-cpp") throw new Error("node-llama-cpp hidden by test/helpers/hide-node-llama-cpp.mjs");
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
