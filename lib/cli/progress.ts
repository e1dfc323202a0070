// SPDX-License-Identifier: MIT
// Load progress on stderr: loadModel reports no fractions, so a spinner with the elapsed time,
// drawn only when stderr is a terminal (nothing at all is written otherwise).

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export interface Spinner {
  /** Erases the spinner line (idempotent). */
  stop(): void;
}

/** Starts a spinner labelled `label` on `stream` when it is a TTY; a no-op otherwise. */
export function startSpinner(label: string, stream: NodeJS.WriteStream = process.stderr): Spinner {
  if (!stream.isTTY) return { stop() {} };
  const t0 = performance.now();
  let frame = 0;
  let active = true;
  const draw = () => {
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    stream.write(`\r\x1b[K${FRAMES[frame++ % FRAMES.length]} ${label} ${s} s`);
  };
  draw();
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    stop() {
      if (!active) return;
      active = false;
      clearInterval(timer);
      stream.write("\r\x1b[K");
    },
  };
}
