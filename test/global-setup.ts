// Runs once in the main vitest process: one temporary folder for the whole run, under which
// each test process makes its own (test/helpers/models.ts), removed when the run ends. Test
// processes can be stopped without their exit handlers running, so they do not remove their
// folders themselves reliably.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "lfm2-test-run-"));
  process.env.LFM2_TEST_TMP = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
