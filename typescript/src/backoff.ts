/** Reconnect timing: exponential backoff with full jitter, and what each close code means for retrying. */

export interface BackoffOptions {
  /** The first window, in ms (default 500): the first retry comes at a random time within it. */
  initial?: number;
  /** The largest window, in ms (default 10000). */
  max?: number;
  /** How much the window grows per failed attempt (default 2). */
  factor?: number;
}

/**
 * What to do after the connection closed with a code:
 * `"stop"` stays disconnected, `"backoff"` retries after the next backoff delay,
 * `"now"` retries at once (within the first window, with jitter: every client told at once spreads out) after
 * a connection that lasted, and is `"backoff"` after one that did not.
 */
export type RetryDecision = "stop" | "backoff" | "now";
export type RetryPolicy = (code: number, reason: string) => RetryDecision;

/** Refusals: retrying would be refused again (a policy violation, a bad credential, bad data). */
export const STOP_CODES: ReadonlySet<number> = new Set([1002, 1003, 1007, 1008, 1009, 1010]);
/** "Go elsewhere": the server is leaving (1001), restarting (1012) or overloaded for this client (1013). */
export const ELSEWHERE_CODES: ReadonlySet<number> = new Set([1001, 1012, 1013]);

export const defaultRetryPolicy: RetryPolicy = (code) => {
  if (STOP_CODES.has(code)) return "stop";
  if (ELSEWHERE_CODES.has(code)) return "now";
  return "backoff";
};

export class Backoff {
  readonly initial: number;
  readonly max: number;
  readonly factor: number;
  /** Failed attempts since the last successful connection. */
  attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initial = options.initial ?? 500;
    this.max = options.max ?? 10_000;
    this.factor = options.factor ?? 2;
    if (!(this.initial > 0 && this.max >= this.initial && this.factor >= 1)) {
      throw new RangeError("backoff needs initial > 0, max >= initial and factor >= 1");
    }
  }

  /** The window of the current attempt: initial * factor^attempt, capped at max. */
  window(): number {
    return Math.min(this.max, this.initial * this.factor ** this.attempt);
  }

  /** The delay before the next attempt: uniform in [0, window) ("full jitter"); the window then grows. */
  next(): number {
    const delay = Math.random() * this.window();
    this.attempt += 1;
    return Math.floor(delay);
  }

  /** A delay within the first window, without counting an attempt (for "go elsewhere" closes). */
  soon(): number {
    return Math.floor(Math.random() * this.initial);
  }

  reset(): void {
    this.attempt = 0;
  }
}
