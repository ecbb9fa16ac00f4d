"""`RedisSentinelBackend`: channels on a Redis primary with replicas, watched by Redis Sentinel.

Every connection asks the sentinels which server is the primary when it connects, so after a failover the
commands (retried within `timeout`) and the live connection (reconnected by the hub's supervisor) reach the new
primary; each channel then fills the gap from history, or tells its subscribers `recovered: false` if the promoted
replica lacked the last writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

from redis.asyncio.sentinel import Sentinel

from wsapi.channels.backends.redis.backend import DEFAULT_TIMEOUT, RedisBackend, RedisOptions
from wsapi.channels.backends.redis.commands import HEALTH_CHECK_INTERVAL, Commands, client_options


class RedisSentinelBackend(RedisBackend):
    """`RedisBackend` on the primary that `sentinels` (`[(host, port), ...]`) know as `service`. `password` (and
    `username`) are the Redis servers'; `sentinel_password` the sentinels', if they need one. The other options are
    `RedisBackend`'s."""

    def __init__(
        self,
        sentinels: Sequence[tuple[str, int]],
        service: str,
        *,
        username: str | None = None,
        password: str | None = None,
        sentinel_password: str | None = None,
        **options: Unpack[RedisOptions],
    ) -> None:
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        client: dict[str, Any] = {**client_options(timeout), "username": username, "password": password}
        watch: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if sentinel_password is not None:
            watch["password"] = sentinel_password
        sentinel = Sentinel(list(sentinels), sentinel_kwargs=watch, **watch)  # type: ignore[no-untyped-call]
        commands = sentinel.master_for(service, health_check_interval=HEALTH_CHECK_INTERVAL, **client)
        where = f"the primary of {service!r} (sentinels {', '.join(f'{h}:{p}' for h, p in sentinels)})"
        self._configure(Commands(commands, timeout, where), sharded=False, **options)
        self._live_redis = sentinel.master_for(service, **client)
