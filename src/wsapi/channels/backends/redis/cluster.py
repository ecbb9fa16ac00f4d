"""`RedisClusterBackend`: channels on a Redis Cluster (or a managed clustered Redis), with sharded pub/sub.

The key layout and scripts are `RedisBackend`'s. A channel's keys and its pub/sub name share the hash tag `{C}`,
so they live in one slot: the publish script (which numbers, stores and SPUBLISHes) runs on the one primary that
owns it, atomically, and live delivery reads only the primaries that own subscribed channels (see `sharded`).
Presence and heartbeat keys are spread over the cluster like any others.

A primary's failover or a slot's move interrupts live delivery on the channels it served: the live connection
reloads the slot map, subscribes again on the new owners, and every channel fills the gap from history (or tells
its subscribers `recovered: false` if the history was lost, e.g. a replica promoted before it had the last writes).
Commands ride out the failover with retries within `timeout`; past it, `ChannelsUnavailable`.
"""

from __future__ import annotations

from typing import Unpack
from urllib.parse import urlsplit

from redis.asyncio.cluster import RedisCluster

from wsapi.channels.backends.base import Receiver
from wsapi.channels.backends.redis.backend import DEFAULT_TIMEOUT, RedisBackend, RedisOptions
from wsapi.channels.backends.redis.commands import Commands, client_options
from wsapi.channels.backends.redis.live import LiveConnection
from wsapi.channels.backends.redis.sharded import ShardedLiveConnection


class RedisClusterBackend(RedisBackend):
    """`RedisBackend` on a Redis Cluster (Redis 7 or later, for sharded pub/sub): `url` names any of its nodes
    (`redis://host:port`); the other nodes are discovered from it. The options are `RedisBackend`'s."""

    def __init__(self, url: str = "redis://127.0.0.1:7000", **options: Unpack[RedisOptions]) -> None:
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        client = client_options(timeout)
        where = f"the cluster of {urlsplit(url).netloc}"
        self._configure(Commands(RedisCluster.from_url(url, **client), timeout, where), sharded=True, **options)
        # Its own client: its slot map is reloaded when the live connection reconnects, apart from the commands'.
        self._live_redis = RedisCluster.from_url(url, **client)

    def _live_connection(self, receiver: Receiver) -> LiveConnection | ShardedLiveConnection:
        assert isinstance(self._live_redis, RedisCluster)
        return ShardedLiveConnection(
            self._live_redis, self.timeout, self._deliver, receiver.on_resubscribed, self._commands.unavailable
        )
