"""Reconnect timing: exponential backoff with full jitter, and what each close code means for retrying."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

RetryDecision = Literal["stop", "backoff", "now"]
RetryPolicy = Callable[[int, str], RetryDecision]

# Refusals: retrying would be refused again (a policy violation, a bad credential, bad data).
STOP_CODES = frozenset({1002, 1003, 1007, 1008, 1009, 1010})
# "Go elsewhere": the server is leaving (1001), restarting (1012) or overloaded for this client (1013).
ELSEWHERE_CODES = frozenset({1001, 1012, 1013})


def default_retry_policy(code: int, reason: str) -> RetryDecision:
    """ "stop" for refusals, "now" (within the first window, jittered) for go-elsewhere codes, else "backoff"."""
    if code in STOP_CODES:
        return "stop"
    if code in ELSEWHERE_CODES:
        return "now"
    return "backoff"


class Backoff:
    """Delays uniform in [0, window) ("full jitter"); the window starts at `initial` seconds and grows by `factor`
    per failed attempt up to `max`. A connection that stayed open for `max` seconds resets it."""

    def __init__(self, initial: float = 0.5, max: float = 10.0, factor: float = 2.0) -> None:
        if not (initial > 0 and max >= initial and factor >= 1):
            raise ValueError("backoff needs initial > 0, max >= initial and factor >= 1")
        self.initial = initial
        self.max = max
        self.factor = factor
        self.attempt = 0

    def window(self) -> float:
        return float(min(self.max, self.initial * self.factor**self.attempt))

    def next(self) -> float:
        """The delay before the next attempt; the window then grows."""
        delay = random.random() * self.window()
        self.attempt += 1
        return delay

    def soon(self) -> float:
        """A delay within the first window, without counting an attempt (for go-elsewhere closes)."""
        return random.random() * self.initial

    def reset(self) -> None:
        self.attempt = 0
