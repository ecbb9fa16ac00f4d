/** Why a call (or a subscribe) did not get its reply. */

/**
 * The codes the client gives on its own; any other `code` is the server's (its `error` frame):
 * wsapi's (`validation_error`, `unknown_type`, `channel_refused`, `unavailable`, ...) or the app's own.
 */
export type ClientErrorCode = "timeout" | "offline" | "disconnected" | "closed";

export class CallError extends Error {
  override readonly name = "CallError";

  constructor(
    /** The error frame's `code`, or one of `ClientErrorCode`. */
    readonly code: string,
    message: string,
    /** Validation errors, as the server reports them (`loc`, `msg`, `type`). */
    readonly errors?: unknown[] | null,
  ) {
    super(message || code);
  }
}
