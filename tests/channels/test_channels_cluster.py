"""Channels on a real Redis Cluster (3 primaries, 3 replicas) and a real Sentinel set: delivery across slots, and
delivery that continues through a primary's death and a slot's move, with nothing lost unnoticed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from itertools import count
from typing import Any

import pytest

from tests.channels.support import RedisClusterNodes, RedisSentinelSet
from wsapi.channels import Backend, Channels, ChannelsUnavailable, Position, RedisClusterBackend, RedisSentinelBackend

pytestmark = pytest.mark.anyio

_prefixes = count(1)
CHANNELS = [f"room-{n}" for n in range(12)]  # spread over the three primaries' slots


def unique_prefix() -> str:
    """Tests share one cluster per session: each gets keys and pub/sub names of its own."""
    return f"t{next(_prefixes)}-{time.monotonic_ns()}"


@pytest.fixture
def cluster(redis_cluster: RedisClusterNodes) -> RedisClusterNodes:
    redis_cluster.heal()  # a test before may have killed a node
    return redis_cluster


@pytest.fixture
def sentinels(redis_sentinels: RedisSentinelSet) -> RedisSentinelSet:
    redis_sentinels.heal()
    return redis_sentinels


def cluster_backend(cluster: RedisClusterNodes, prefix: str) -> Backend:
    return RedisClusterBackend(cluster.url, prefix=prefix, timeout=1.0, history_size=1000)


def sentinel_backend(sentinels: RedisSentinelSet, prefix: str) -> Backend:
    return RedisSentinelBackend(sentinels.addresses, sentinels.NAME, prefix=prefix, timeout=1.0, history_size=1000)


async def collect(hub: Channels, channel: str, into: list[dict[str, Any]], ready: asyncio.Event) -> None:
    async with hub.listen(channel, queue_size=10_000) as frames:
        ready.set()
        async for frame in frames:
            into.append(frame)


@contextlib.asynccontextmanager
async def listening(hub: Channels, channels: list[str]) -> AsyncIterator[dict[str, list[dict[str, Any]]]]:
    received: dict[str, list[dict[str, Any]]] = {channel: [] for channel in channels}
    readies = [asyncio.Event() for _ in channels]
    tasks = [asyncio.create_task(collect(hub, c, received[c], r)) for c, r in zip(channels, readies, strict=True)]
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 10)
        yield received
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def check_stream(frames: list[dict[str, Any]], published: list[Position]) -> None:
    """What a subscriber got is every published message in order, once; or where it was told `recovered: false`, a
    fresh start from which it is again complete. No message is lost or doubled without it knowing."""
    messages = [f for f in frames if f["type"] == "message"]
    resets = [f for f in frames if f["type"] == "subscribed"]
    assert all(not f["recovered"] for f in resets[1:])
    offsets = [(m["epoch"], m["offset"]) for m in messages]
    assert len(set(offsets)) == len(offsets), "a message was delivered twice"
    if len(resets) == 1:  # nothing was lost: every published message, in order
        assert offsets == [(p.epoch, p.offset) for p in published]
    else:  # after each reset, what follows is in order without gaps
        last = resets[-1]
        tail = [o for o in offsets if o[0] == last["epoch"] and o[1] > last["offset"]]
        assert [o[1] for o in tail] == list(range(last["offset"] + 1, last["offset"] + 1 + len(tail)))
        expected_tail = [
            (p.epoch, p.offset) for p in published if p.epoch == last["epoch"] and p.offset > last["offset"]
        ]
        assert tail == expected_tail


async def publish_through(hub: Channels, channel: str, n: int, published: list[Position], deadline: float) -> None:
    """Publish message n, retrying while the backend is unavailable (a failover); the position goes in `published`."""
    while True:
        try:
            published.append(await hub.publish(channel, n))
            return
        except ChannelsUnavailable:
            assert time.monotonic() < deadline, "the backend stayed unavailable"
            await asyncio.sleep(0.05)


async def test_messages_reach_subscribers_on_every_slot(cluster: RedisClusterNodes) -> None:
    prefix = unique_prefix()
    async with Channels(cluster_backend(cluster, prefix)) as a, Channels(cluster_backend(cluster, prefix)) as b:
        async with listening(b, CHANNELS) as received:
            positions = {channel: [await a.publish(channel, n) for n in range(3)] for channel in CHANNELS}
            await wait_for(lambda: all(len(r) == 4 for r in received.values()), 10, "not every message arrived")
        for channel in CHANNELS:
            check_stream(received[channel], positions[channel])
            assert [f["data"] for f in received[channel][1:]] == [0, 1, 2]
        # History and resume come from the channel's own slot.
        snapshot = await a.history(CHANNELS[0])
        assert [offset for offset, _ in snapshot.frames or ()] == [1, 2, 3]
        async with b.listen(CHANNELS[1], since=positions[CHANNELS[1]][0]) as frames:
            assert (await anext(frames))["recovered"] is True
            assert [(await anext(frames))["data"] for _ in range(2)] == [1, 2]


async def test_presence_across_processes(cluster: RedisClusterNodes) -> None:
    from wsapi.channels import Member

    prefix = unique_prefix()
    async with Channels(cluster_backend(cluster, prefix)) as a, Channels(cluster_backend(cluster, prefix)) as b:
        member = Member(f"{a.node}.1", {"name": "ada"})
        await a.enter("lobby", member)
        assert [m.info for m in await b.presence("lobby")] == [{"name": "ada"}]
        await a.exit("lobby", member)
        assert await b.presence("lobby") == []


async def stream_through(
    publisher: Channels, subscriber: Channels, channel: str, fault: Callable[[], None], when: int = 30
) -> tuple[list[dict[str, Any]], list[Position]]:
    """Publish 80 messages, 20 ms apart; `fault()` after `when`; the subscriber's frames once all have arrived."""
    published: list[Position] = []
    async with listening(subscriber, [channel]) as received:
        deadline = time.monotonic() + 30
        for n in range(80):
            if n == when:
                fault()
            await publish_through(publisher, channel, n, published, deadline)
            await asyncio.sleep(0.02)

        def complete() -> bool:
            got = {(f["epoch"], f["offset"]) for f in received[channel] if f["type"] == "message"}
            return bool(published) and (published[-1].epoch, published[-1].offset) in got

        await wait_for(complete, 15, "the last message never arrived")
        return received[channel], published


async def test_delivery_continues_through_a_primary_failover(cluster: RedisClusterNodes) -> None:
    prefix = unique_prefix()
    channel = "failover"
    primary = cluster.primary_of(f"{prefix}:{{{channel}}}:meta")
    async with Channels(cluster_backend(cluster, prefix)) as a, Channels(cluster_backend(cluster, prefix)) as b:
        killed = time.monotonic()
        frames, published = await stream_through(a, b, channel, primary.kill)
        assert time.monotonic() - killed < 25
    assert cluster.primary_of(f"{prefix}:{{{channel}}}:meta") is not primary  # a replica took over
    check_stream(frames, published)
    assert len(published) == 80


async def test_delivery_continues_when_the_channels_slot_moves(cluster: RedisClusterNodes) -> None:
    prefix = unique_prefix()
    channel = "moving"
    key = f"{prefix}:{{{channel}}}:meta"
    before = cluster.primary_of(key)
    async with Channels(cluster_backend(cluster, prefix)) as a, Channels(cluster_backend(cluster, prefix)) as b:
        frames, published = await stream_through(a, b, channel, lambda: cluster.move_slot_of(key))
    assert cluster.primary_of(key) is not before
    check_stream(frames, published)
    assert len(published) == 80


async def test_sentinel_delivery_continues_through_a_failover(sentinels: RedisSentinelSet) -> None:
    prefix = unique_prefix()
    primary = sentinels.current_primary()
    async with Channels(sentinel_backend(sentinels, prefix)) as a, Channels(sentinel_backend(sentinels, prefix)) as b:
        async with listening(b, ["s"]) as received:
            before = await a.publish("s", "before")
            await wait_for(lambda: len(received["s"]) == 2, 10, "not delivered before the failover")
        frames, published = await stream_through(a, b, "sentinel", primary.kill)
    assert sentinels.current_primary() is not primary
    assert before.offset == 1
    check_stream(frames, published)
