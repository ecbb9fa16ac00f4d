"""The live connection to a Redis Cluster: sharded pub/sub (SSUBSCRIBE), one reader per primary that serves a
subscribed channel's slot.

redis-py's `ClusterPubSub` routes each SSUBSCRIBE to the node that owns the name's slot; this reads every such node
in its own task, pings a node that has been quiet for `timeout` seconds (a frozen node is given up after `timeout`
more), and treats a lost node, an uncovered slot or a slot that moved away (Redis then unsubscribes its shard
channels) as the end of the connection: `run()` raises, the hub's supervisor runs it again, which reloads the
cluster's slot map, subscribes everything again on the new owners and tells the receiver to fill the gap from
history.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, ClusterPubSub, RedisCluster
from redis.exceptions import RedisClusterException, ResponseError, SlotNotCoveredError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wsapi.channels.backends.redis.live import DOWN, Subscriptions
from wsapi.channels.errors import ChannelsUnavailable


class SlotMoved(RedisClusterException):
    """Redis unsubscribed a shard channel this process still wants: its slot moved to another node."""


class ShardedLiveConnection(Subscriptions):
    """`LiveConnection`'s interface over a cluster's sharded pub/sub (see the module's docstring)."""

    unreachable = (*DOWN, TimeoutError, RedisClusterException, ResponseError)

    def __init__(
        self,
        cluster: RedisCluster,
        timeout: float,
        on_payload: Callable[[bytes, bytes], None],
        on_resubscribed: Callable[[], None],
        describe: Callable[[str, BaseException | None], ChannelsUnavailable],
    ) -> None:
        super().__init__(timeout, on_payload, on_resubscribed, describe)
        self._cluster = cluster
        self._unconfirmed: set[bytes] = set()  # wanted names not confirmed since the last (re)connection
        self._group: asyncio.TaskGroup | None = None
        self._reading: set[str] = set()  # names of the nodes a reader task reads

    @property
    def up(self) -> bool:
        return self._pubsub is not None and not self._unconfirmed

    async def _send_subscribe(self, pubsub: PubSub, name: str) -> None:
        assert isinstance(pubsub, ClusterPubSub)
        await pubsub.ssubscribe(name)
        self._read_node_of(pubsub, name)

    async def _send_unsubscribe(self, pubsub: PubSub, name: str) -> None:
        await pubsub.sunsubscribe(name)

    async def run(self) -> None:
        cluster = self._cluster
        pubsub: ClusterPubSub | None = None
        try:
            async with asyncio.timeout(self._timeout):
                await cluster.nodes_manager.initialize()  # the slot map as it is now: after a failover or a move
                pubsub = cluster.pubsub()
                async with self._lock:
                    wanted = sorted(self._wanted)
                    self._unconfirmed = {name.encode() for name in wanted}
                    for name in wanted:
                        await pubsub.ssubscribe(name)
            try:
                async with asyncio.TaskGroup() as group:
                    self._group = group
                    self._reading = set()
                    self._pubsub = pubsub
                    for name in wanted:
                        self._read_node_of(pubsub, name)
                    if not wanted:
                        self._live()
                    await asyncio.get_running_loop().create_future()  # until a reader fails, or cancellation
            except ExceptionGroup as failed:
                raise failed.exceptions[0] from None  # the first node that failed says why
        except TimeoutError as exc:  # the (re)subscription was not confirmed in time
            raise RedisTimeoutError(f"subscribing took more than {self._timeout} s") from exc
        finally:
            self._pubsub = None
            self._group = None
            self._fail_confirmations()
            if pubsub is not None:
                with contextlib.suppress(*DOWN, TimeoutError, RedisClusterException):
                    async with asyncio.timeout(self._timeout):
                        await pubsub.aclose()

    def _read_node_of(self, pubsub: ClusterPubSub, name: str) -> None:
        node = self._cluster.get_node_from_key(name)
        if node is None:
            raise SlotNotCoveredError(f"no node serves {name!r}'s slot")
        if node.name not in self._reading and self._group is not None:
            self._reading.add(node.name)
            self._group.create_task(self._read(pubsub, node))

    async def _read(self, pubsub: ClusterPubSub, node: ClusterNode) -> None:
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged: float | None = None
        try:
            while node.name in pubsub.node_pubsub_mapping:
                item = await pubsub.get_sharded_message(timeout=min(self._timeout, 0.5), target_node=node)
                now = loop.time()
                if item is None:
                    if pinged is not None and now - pinged > self._timeout:
                        raise ConnectionError(f"{node.name}: no answer to PING within {self._timeout} s")
                    if pinged is None and now - heard > self._timeout and node.name in pubsub.node_pubsub_mapping:
                        pinged = now
                        await pubsub.node_pubsub_mapping[node.name].ping()
                    continue
                heard, pinged = now, None
                kind, channel = item["type"], item["channel"]
                if kind == "smessage":
                    self._on_payload(channel, item["data"])
                elif kind == "ssubscribe":
                    self._confirm(channel)
                elif kind == "sunsubscribe" and channel.decode() in self._wanted:
                    raise SlotMoved(f"{node.name} unsubscribed {channel.decode()!r}: its slot moved")
        finally:
            self._reading.discard(node.name)

    def _confirm(self, name: bytes) -> None:
        super()._confirm(name)
        if self._unconfirmed:
            self._unconfirmed.discard(name)
            if not self._unconfirmed:
                self._live()

    def _live(self) -> None:
        """Every wanted channel is subscribed on its node: live delivery is whole again."""
        if self.connected.done():
            self._on_resubscribed()
        else:
            self.connected.set_result(None)
