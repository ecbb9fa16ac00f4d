"""The command connections to Redis: a bounded pool, timeouts on every socket, health checks, deadline retries.

Every call gets at most `timeout` seconds in all, retries included: a Redis that is frozen, cut off or answering
`BUSY` / `LOADING` / `READONLY` makes the call raise `ChannelsUnavailable` within that time, never hang. The
retries are this module's, not redis-py's, so that a call that must not happen twice (a publish) knows it is being
retried and can check whether its first attempt went through.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, ClusterError, ReadOnlyError, RedisClusterException, ResponseError

from wsapi.channels.backends.redis.live import DOWN
from wsapi.channels.errors import ChannelsUnavailable
from wsapi.channels.supervisor import backoff

T = TypeVar("T")

MAX_CONNECTIONS = 64  # per process; a call waits (within its timeout) for a free one
HEALTH_CHECK_INTERVAL = 10  # seconds a pooled connection may sit idle before it is pinged on its next use
# Replies that mean "not now" rather than "never": the call is retried within its time.
_TRANSIENT = (BusyLoadingError, ReadOnlyError)
_TRANSIENT_PREFIXES = ("BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")
# A cluster between two states (a failover, a slot moving): its client gave up on redirections, or a slot is not
# covered yet. Retried like a lost connection.
CLUSTER_IN_FLUX = (ClusterError, RedisClusterException)


def client_options(timeout: float) -> dict[str, object]:
    """Options for every connection to Redis: socket timeouts, and no retries hidden inside redis-py."""
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": Retry(NoBackoff(), 0)}


def transient(exc: ResponseError) -> bool:
    return isinstance(exc, _TRANSIENT) or str(exc).startswith(_TRANSIENT_PREFIXES)


class Commands:
    """A Redis client whose calls finish within `timeout`; `healthy` says whether the last one reached Redis."""

    def __init__(self, redis: Redis | RedisCluster, timeout: float, where: str) -> None:
        self.redis = redis
        self.timeout = timeout
        self.where = where  # for messages: "Redis at <where> is unreachable"
        self.healthy = True
        self._skew_ms = 0.0  # Redis's clock minus ours

    @classmethod
    def from_url(cls, url: str, timeout: float) -> Commands:
        """Commands to one Redis server, through a bounded pool of health-checked connections."""
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout,
            health_check_interval=HEALTH_CHECK_INTERVAL,
            **client_options(timeout),
        )
        kwargs = pool.connection_kwargs
        return cls(Redis.from_pool(pool), timeout, f"{kwargs.get('host', 'unix socket')}:{kwargs.get('port', '')}")

    def unavailable(self, what: str, exc: BaseException | None) -> ChannelsUnavailable:
        cause = f" ({exc})" if exc is not None and str(exc) else f" ({type(exc).__name__})" if exc else ""
        return ChannelsUnavailable(f"Redis at {self.where} is unreachable: {what} failed{cause}")

    async def call(self, what: str, attempt: Callable[[int], Awaitable[T]]) -> T:
        """`await attempt(n)` for n = 0, 1, ... until one succeeds, within `timeout` in all."""
        last: BaseException | None = None
        delay = 0.01
        tries = 0
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    try:
                        result = await attempt(tries)
                    except (*DOWN, *CLUSTER_IN_FLUX) as exc:
                        last = exc
                    except ResponseError as exc:
                        if not transient(exc):
                            raise ChannelsUnavailable(f"Redis at {self.where} refused {what}: {exc}") from exc
                        last = exc
                    else:
                        self.healthy = True
                        return result
                    tries += 1
                    await asyncio.sleep(backoff(delay))
                    delay = min(delay * 2, 0.2)
        except TimeoutError as exc:
            self.healthy = False
            raise self.unavailable(what, last or exc) from exc

    async def run(self, what: str, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """`await function(*args)`, retried like `call`."""
        return await self.call(what, lambda _: function(*args))

    async def sync_clock(self) -> None:
        """Measure Redis's clock against ours, for deadlines the publish script checks."""
        before = time.time()
        seconds, microseconds = await self.redis.time()
        after = time.time()
        self._skew_ms = seconds * 1000 + microseconds / 1000 - (before + after) * 500

    def deadline_ms(self, margin: float) -> int:
        """The time, on Redis's clock, `timeout - margin` seconds from now."""
        return int((time.time() + self.timeout - margin) * 1000 + self._skew_ms)

    async def aclose(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self.redis.aclose()
        except (*DOWN, TimeoutError):
            pass  # sockets to a frozen Redis are dropped with the process
