// SPDX-License-Identifier: MIT
// LfmError: every failure the package reports carries a stable ERR_LFM_* code.

/** The codes an {@link LfmError} can carry. */
export type LfmErrorCode =
  | "ERR_LFM_INVALID_ARG"
  | "ERR_LFM_FILE_NOT_FOUND"
  | "ERR_LFM_IO"
  | "ERR_LFM_MODEL_FORMAT"
  | "ERR_LFM_UNSUPPORTED_ARCH"
  | "ERR_LFM_UNSUPPORTED_TYPE"
  | "ERR_LFM_SHAPE_MISMATCH"
  | "ERR_LFM_TOKEN_RANGE"
  | "ERR_LFM_CONTEXT_OVERFLOW"
  | "ERR_LFM_DISPOSED"
  | "ERR_LFM_OOM"
  | "ERR_LFM_UNSUPPORTED_CPU"
  | "ERR_LFM_ABORTED"
  | "ERR_LFM_ADDON_LOAD"
  | "ERR_LFM_DEVICE"
  | "ERR_LFM_DEVICE_UNAVAILABLE"
  | "ERR_LFM_INTERNAL";

/**
 * The error type of this package. `code` is stable and machine-readable; `message` names the
 * operation and the problem (for example `[load] tensor blk.3.ffn_up.weight has shape ...`).
 */
export class LfmError extends Error {
  readonly code: LfmErrorCode;
  constructor(code: LfmErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LfmError";
    this.code = code;
  }
}

/** Creates an {@link LfmError}. */
export function lfmError(code: LfmErrorCode | string, message: string): LfmError {
  return new LfmError(code as LfmErrorCode, message);
}

const KNOWN = new Set<string>([
  "ERR_LFM_INVALID_ARG", "ERR_LFM_FILE_NOT_FOUND", "ERR_LFM_IO", "ERR_LFM_MODEL_FORMAT",
  "ERR_LFM_UNSUPPORTED_ARCH", "ERR_LFM_UNSUPPORTED_TYPE", "ERR_LFM_SHAPE_MISMATCH",
  "ERR_LFM_TOKEN_RANGE", "ERR_LFM_CONTEXT_OVERFLOW", "ERR_LFM_DISPOSED", "ERR_LFM_OOM",
  "ERR_LFM_UNSUPPORTED_CPU", "ERR_LFM_ABORTED", "ERR_LFM_ADDON_LOAD", "ERR_LFM_INTERNAL",
  "ERR_LFM_DEVICE", "ERR_LFM_DEVICE_UNAVAILABLE",
]);

/**
 * Turns an error thrown or rejected by the addon into an LfmError, keeping the caller's stack
 * (captured before the native call was scheduled, as sharp does).
 */
export function wrapNativeError(err: unknown, callerStack?: Error): LfmError {
  if (err instanceof LfmError) return err;
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === "string" && KNOWN.has(e.code) ? (e.code as LfmErrorCode) : "ERR_LFM_INTERNAL";
  const message = typeof e?.message === "string" ? e.message : String(err);
  const out = new LfmError(code, message, { cause: err });
  if (callerStack?.stack) {
    out.stack = `LfmError: ${message}\n${callerStack.stack.split("\n").slice(1).join("\n")}`;
  }
  return out;
}
