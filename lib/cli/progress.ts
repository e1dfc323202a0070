// SPDX-License-Identifier: MIT
// Load progress on stderr, drawn only when stderr is a terminal (nothing at all is written
// otherwise): a spinner with the elapsed time until loadModel reports how much of the file it
// has read, then a bar with the percentage and the bytes.
import { formatBytes } from "./format.js";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const WIDTH = 24;
const EIGHTHS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

export interface Progress {
  /** The fraction done, in [0, 1] (shown at the next redraw, at most 10 a second). */
  update(fraction: number): void;
  /** Erases the line (idempotent). */
  stop(): void;
}

/** `▕█████▍      ▏` for a fraction of WIDTH cells, in eighths of a cell. */
export function progressBar(fraction: number, width = WIDTH): string {
  const eighths = Math.round(Math.min(1, Math.max(0, fraction)) * width * 8);
  const full = Math.floor(eighths / 8);
  const part = EIGHTHS[eighths % 8]!;
  return `▕${"█".repeat(full)}${part}${" ".repeat(width - full - (part ? 1 : 0))}▏`;
}

/**
 * Starts a progress line labelled `label` on `stream` when it is a TTY (a no-op otherwise).
 * `totalBytes` (optional) shows "done/total" beside the percentage.
 */
export function startProgress(label: string, totalBytes?: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, stop() {} };
  const t0 = performance.now();
  let frame = 0;
  let fraction: number | undefined;
  let active = true;
  const draw = () => {
    const s = `${((performance.now() - t0) / 1000).toFixed(1)} s`;
    if (fraction === undefined) {
      stream.write(`\r\x1b[K${FRAMES[frame++ % FRAMES.length]} ${label} ${s}`);
      return;
    }
    const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
    const bytes = totalBytes ? ` ${formatBytes(fraction * totalBytes)}/${formatBytes(totalBytes)}` : "";
    stream.write(`\r\x1b[K${label} ${progressBar(fraction)} ${pct}${bytes} ${s}`);
  };
  draw();
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    update(f) {
      if (!active) return;
      const first = fraction === undefined;
      fraction = f;
      if (first) draw(); // the bar replaces the spinner at once
    },
    stop() {
      if (!active) return;
      active = false;
      clearInterval(timer);
      stream.write("\r\x1b[K");
    },
  };
}
