"""Limits on what one client may cost: token buckets for messages and handshakes, caps on open connections.

Every limit has a default a chat can live with and is turned off with `None`. Per message, a limit costs one clock
read and a few float operations on a bucket made once per connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.exceptions import WebSocketException

__all__ = ["DEFAULT_LIMITS", "FROM_APP", "Limits", "RateLimit", "RateLimited", "TokenBucket"]

FROM_APP = Literal["app"]  # a route's `rate_limit="app"`: the app's `Limits.messages`


@dataclass(frozen=True)
class RateLimit:
    """At most `rate` events per second on average, and `burst` at once after a quiet spell."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.rate > 0 and self.burst >= 1):
            raise ValueError(f"a rate limit needs rate > 0 and burst >= 1, not {self.rate} and {self.burst}")

    def bucket(self) -> TokenBucket:
        return TokenBucket(self.rate, self.burst)

    def __str__(self) -> str:
        return f"{self.rate:g}/s (burst {self.burst})"


class TokenBucket:
    """A bucket of `burst` tokens refilled at `rate` per second; every event takes one, even when none is left.

    Kept as one number, the time at which the bucket would be full again (the generic cell rate algorithm): per
    event, a clock reading, a comparison and two additions. Events beyond the limit drive it into debt, so a client
    that keeps sending while refused runs out of slack: `take` returns how far behind it is, in seconds, and
    `exhausted()` says whether it went past `burst` events more than allowed.
    """

    __slots__ = ("burst", "full_at", "interval", "rate", "tolerance")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.interval = 1.0 / rate
        self.tolerance = burst * self.interval  # how far ahead of now `full_at` may be: the burst
        self.full_at = 0.0

    def take(self, now: float) -> float:
        """Take a token at time `now` (`time.monotonic()`): 0.0 if one was there, else the seconds until one is."""
        full_at = self.full_at
        full_at = (full_at if full_at > now else now) + self.interval
        self.full_at = full_at
        behind = full_at - now - self.tolerance
        return behind if behind > 0.0 else 0.0

    def exhausted(self, now: float) -> bool:
        """True once the events refused outnumber `burst`: the client ignores the refusals."""
        return self.full_at - now > 2 * self.tolerance

    def full(self, now: float) -> bool:
        """True when the bucket is full again (nothing to remember about this client)."""
        return self.full_at <= now


@dataclass(frozen=True)
class Limits:
    """The app's limits, `WsAPI(limits=Limits(...))`; `None` turns one off. Routes may set their own message limits.

    - `messages`: inbound messages per connection. A typed route answers a message over the limit with an error
      frame `rate_limited` (the message is not handled) and closes with 1008 once the client has sent `burst` more;
      a plain route reads the connection no faster than the rate (the client's sends back up, nothing is lost).
    - `publishes`: `hub.publish` calls made while handling one connection; over it, `RateLimited` is raised.
    - `handshakes_per_ip`, `handshakes_per_user`: new connections; over it, HTTP 429 with `Retry-After`.
    - `max_connections` (per process), `max_connections_per_ip`, `max_connections_per_user`: open connections;
      over the first, HTTP 503; over the others, HTTP 429.
    - `max_message_size`: bytes, for plain routes (a `MessageRouter` has its own); larger closes with 1009.
    """

    messages: RateLimit | None = RateLimit(100, 200)
    publishes: RateLimit | None = RateLimit(20, 40)
    handshakes_per_ip: RateLimit | None = RateLimit(20, 200)
    handshakes_per_user: RateLimit | None = RateLimit(2, 20)
    max_connections: int | None = 10_000
    max_connections_per_ip: int | None = 1_000
    max_connections_per_user: int | None = 50
    max_message_size: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


class RateLimited(WebSocketException):
    """Over a rate limit the app applies inside a handler (`hub.publish` over `Limits.publishes`).

    Unhandled, it closes the connection with 1008; on a typed route it answers the message with a `rate_limited`
    error frame instead, and the connection stays open.
    """

    def __init__(self, what: str, retry_after: float) -> None:
        super().__init__(1008, f"Rate limit exceeded: {what}")
        self.what = what
        self.retry_after = retry_after
