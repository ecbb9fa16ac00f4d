"""The Redis backend against a real redis-server that freezes, pauses, sleeps, loses replies, refuses, is restored
from an older snapshot, or carries garbage: every call ends within its timeout, nothing is lost or numbered twice,
and delivery resumes by itself."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.channels.support import DroppingProxy, RedisServer
from wsapi.channels import Channels, ChannelsUnavailable, Listener, Position, RedisBackend

pytestmark = pytest.mark.anyio

TIMEOUT = 1.0  # the backends' timeout in these tests; every bound below is it plus slack for a loaded machine
SLACK = 1.5


async def next_frame(frames: Listener, timeout: float = 5) -> dict[str, Any]:
    return await asyncio.wait_for(anext(frames), timeout)


async def no_frame(frames: Listener, wait: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(frames), wait)


@asynccontextmanager
async def admin(url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(url)
    try:
        yield redis
    finally:
        await redis.aclose()


async def history(url: str, channel: str) -> list[str]:
    """The frames kept in `channel`'s history, read straight from Redis."""
    async with admin(url) as redis:
        entries = await redis.xrange(f"wsapi:{{{channel}}}:history")
    return [fields[b"f"].decode() for _, fields in entries]


async def test_frozen_redis_bounds_every_call_and_delivery_resumes(redis_server: RedisServer) -> None:
    """SIGSTOP: publish and subscribe fail within the timeout, leaving completes; after SIGCONT the listener that
    was subscribed all along gets what is published next, by itself, nothing lost or doubled."""
    async with (
        Channels(RedisBackend(redis_server.url, timeout=TIMEOUT)) as hub,
        hub.listen("ticks") as frames,
    ):
        await next_frame(frames)
        await hub.publish("ticks", 0)
        assert (await next_frame(frames))["data"] == 0
        redis_server.freeze()
        try:
            started = time.monotonic()
            with pytest.raises(ChannelsUnavailable, match="publish to 'ticks'"):
                await hub.publish("ticks", "lost")
            assert time.monotonic() - started < TIMEOUT + SLACK
            started = time.monotonic()
            with pytest.raises(ChannelsUnavailable):
                async with hub.listen("other"):
                    pass
            assert time.monotonic() - started < 2 * TIMEOUT + SLACK
            await asyncio.sleep(2 * TIMEOUT + 0.5)  # long enough for the live connection to notice and give up
        finally:
            redis_server.thaw()
        deadline = time.monotonic() + 10
        while True:
            try:
                await hub.publish("ticks", 1)
                break
            except ChannelsUnavailable:
                assert time.monotonic() < deadline
        await hub.publish("ticks", 2)
        received = [await next_frame(frames) for _ in range(2)]
        assert [(f["offset"], f["data"]) for f in received] == [(2, 1), (3, 2)]
        await no_frame(frames)
        assert hub.supervisor.errors["Redis live connection"] >= 1
    assert len(await history(redis_server.url, "ticks")) == 3  # the failed publish left nothing behind


async def test_a_hub_stops_within_bounds_while_redis_is_frozen(redis_server: RedisServer) -> None:
    hub = Channels(RedisBackend(redis_server.url, timeout=TIMEOUT))
    await hub.start()
    listener = hub.listen("news")
    await listener.__aenter__()
    redis_server.freeze()
    try:
        started = time.monotonic()
        await listener.__aexit__(None, None, None)
        await hub.stop()
        assert time.monotonic() - started < 3 * TIMEOUT + SLACK
    finally:
        redis_server.thaw()


@pytest.mark.parametrize("stall", ["CLIENT PAUSE", "DEBUG SLEEP"])
async def test_a_publish_reported_failed_is_not_published_later(redis_server: RedisServer, stall: str) -> None:
    """Redis takes the command but answers only after the caller gave up: the script, run late, publishes nothing."""
    async with Channels(RedisBackend(redis_server.url, timeout=TIMEOUT)) as hub, hub.listen("news") as frames:
        await next_frame(frames)
        await hub.publish("news", "first")
        await next_frame(frames)
        async with admin(redis_server.url) as redis:
            if stall == "CLIENT PAUSE":
                await redis.execute_command("CLIENT", "PAUSE", int(3 * TIMEOUT * 1000), "WRITE")
                sleeping = None
            else:
                sleeping = asyncio.ensure_future(redis.execute_command("DEBUG", "SLEEP", 3 * TIMEOUT))
                await asyncio.sleep(0.1)
            started = time.monotonic()
            with pytest.raises(ChannelsUnavailable):
                await hub.publish("news", "late")
            assert time.monotonic() - started < TIMEOUT + SLACK
            if sleeping is not None:
                await sleeping
        await asyncio.sleep(3 * TIMEOUT)  # Redis runs what it was sent
        position = await hub.publish("news", "second")
        assert position.offset == 2
        frame = await next_frame(frames, timeout=10)
        assert (frame["offset"], frame["data"]) == (2, "second")
    assert len(await history(redis_server.url, "news")) == 2


async def test_a_lost_reply_does_not_number_a_message_twice(redis_server: RedisServer) -> None:
    """The connection drops right after Redis answered a publish: the call is retried, finds its message, and
    returns its one position; subscribers get it once."""
    async with (
        DroppingProxy(redis_server.port) as proxy,
        Channels(RedisBackend(proxy.url, timeout=TIMEOUT)) as publisher,
        Channels(RedisBackend(redis_server.url, timeout=TIMEOUT)) as hub,
        hub.listen("news") as frames,
    ):
        await next_frame(frames)
        await publisher.publish("warm-up", "loads the script")
        proxy.marker = b"exactly once"
        position = await publisher.publish("news", "exactly once")
        assert proxy.dropped == 1
        assert position.offset == 1
        frame = await next_frame(frames)
        assert (frame["offset"], frame["data"]) == (1, "exactly once")
        await publisher.publish("news", "next")
        assert (await next_frame(frames))["offset"] == 2
        await no_frame(frames)
    assert len(await history(redis_server.url, "news")) == 2


async def test_garbage_on_a_channel_is_skipped_and_counted(redis_server: RedisServer) -> None:
    async with Channels(RedisBackend(redis_server.url, timeout=TIMEOUT)) as hub, hub.listen("news") as frames:
        subscribed = await next_frame(frames)
        epoch = subscribed["epoch"]
        garbage = [
            b"\xff\xfe",
            b"",
            b"m",
            b"hello",
            b"mabc:def {}",
            f"m1:{epoch} not json".encode(),
            f'm1:{epoch} {{"type":"message","channel":"other","epoch":"{epoch}","offset":1,"data":1}}'.encode(),
            f'm1:{epoch} {{"type":"message","channel":"news","epoch":"{epoch}","offset":1,"data":nope}}'.encode(),
            b"e{}",
            b"e[1]",
            b'e{"type":"join","channel":"other","client":{}}',
        ]
        async with admin(redis_server.url) as redis:
            for payload in garbage:
                await redis.publish("wsapi:news", payload)
        await hub.publish("news", "real")
        frame = await next_frame(frames)
        assert (frame["type"], frame["offset"], frame["data"]) == ("message", 1, "real")
        await no_frame(frames)
        assert hub.supervisor.errors["Redis payload skipped"] == len(garbage)


async def test_redis_restored_from_an_older_snapshot_starts_a_new_epoch(redis_server: RedisServer) -> None:
    """Offsets went back (a restore, a failover that lost writes): subscribers are told `recovered: false` with a
    new epoch, and a client resuming from a position the restore lost is not told it recovered."""
    async with Channels(RedisBackend(redis_server.url, timeout=TIMEOUT)) as hub, hub.listen("news") as frames:
        await next_frame(frames)
        for n in range(1, 6):
            await hub.publish("news", n)
        async with admin(redis_server.url) as redis:
            await redis.save()
        snapshot = redis_server.directory / "old.rdb"
        shutil.copy(redis_server.directory / "dump.rdb", snapshot)
        for n in range(6, 11):
            last = await hub.publish("news", n)
        assert [(await next_frame(frames))["offset"] for _ in range(10)] == list(range(1, 11))

        redis_server.kill()
        shutil.copy(snapshot, redis_server.directory / "dump.rdb")
        redis_server.start()
        reset = await next_frame(frames, timeout=10)
        assert (reset["type"], reset["recovered"], reset["offset"]) == ("subscribed", False, 0)
        assert reset["epoch"] != last.epoch
        position = await hub.publish("news", "after")
        assert position == Position(reset["epoch"], 1)
        assert (await next_frame(frames))["data"] == "after"

    async with Channels(RedisBackend(redis_server.url)) as hub, hub.listen("news", since=Position(last.epoch, 8)) as f:
        assert (await next_frame(f))["recovered"] is False


async def test_a_user_without_rights_is_refused_and_everything_resumes_when_rights_return(
    redis_server: RedisServer,
) -> None:
    """NOPERM: publish fails at once with Redis's reason and publishes nothing; the live connection, cut by Redis,
    keeps retrying instead of stopping; once the rights are back, delivery resumes without a gap."""
    async with admin(redis_server.url) as redis:
        await redis.acl_setuser(
            "app", enabled=True, passwords=["+secret"], keys=["*"], channels=["*"], commands=["+@all"]
        )
    url = f"redis://app:secret@127.0.0.1:{redis_server.port}/0"
    async with Channels(RedisBackend(url, timeout=TIMEOUT)) as hub, hub.listen("news") as frames:
        await next_frame(frames)
        await hub.publish("news", 1)
        assert (await next_frame(frames))["offset"] == 1
        async with admin(redis_server.url) as redis:
            await redis.acl_setuser("app", enabled=True, reset_channels=True)
            started = time.monotonic()
            with pytest.raises(ChannelsUnavailable, match=r"refused publish to 'news': .*no permissions"):
                await hub.publish("news", "refused")
            assert time.monotonic() - started < TIMEOUT
            await asyncio.sleep(1)  # the live connection is cut by Redis and retries, refused
            await redis.acl_setuser("app", enabled=True, channels=["*"])
        deadline = time.monotonic() + 10
        while hub.supervisor.errors["Redis live connection"] == 0:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.5)  # its backoff is at most 2 s
        await hub.publish("news", 2)
        frame = await next_frame(frames)
        assert (frame["offset"], frame["data"]) == (2, 2)
    assert len(await history(redis_server.url, "news")) == 2


def forged(channel: str, epoch: str, offset: int) -> bytes:
    """A payload shaped exactly like the publish script's, but published by someone else."""
    frame = f'{{"type":"message","channel":"{channel}","epoch":"{epoch}","offset":{offset},"data":"forged"}}'
    return f"m{offset}:{epoch} {frame}".encode()


async def script_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval"))


async def test_a_forged_jump_or_epoch_reaches_no_member_and_real_messages_still_do(redis_server: RedisServer) -> None:
    """A well-formed payload with an offset far ahead, or another epoch, on the channel's pub/sub name: history is
    read before it is believed, it is dropped, every member of every process gets the next real message, and the
    channel stops reading history (no read loop chasing an offset no publish made)."""
    async with (
        Channels(RedisBackend(redis_server.url, timeout=TIMEOUT)) as one,
        Channels(RedisBackend(redis_server.url, timeout=TIMEOUT)) as other,
        one.listen("news") as first,
        other.listen("news") as second,
        admin(redis_server.url) as redis,
    ):
        epoch = (await next_frame(first))["epoch"]
        await next_frame(second)
        await one.publish("news", "a")
        for payload in (forged("news", epoch, 1000), forged("news", "abc123", 1), forged("news", "abc123", 2)):
            await redis.publish("wsapi:news", payload)
        await other.publish("news", "b")
        for frames in (first, second):
            received = [await next_frame(frames), await next_frame(frames)]
            assert [(f["type"], f["epoch"], f["offset"], f["data"]) for f in received] == [
                ("message", epoch, 1, "a"),
                ("message", epoch, 2, "b"),
            ]
            await no_frame(frames)
        calls = await script_calls(redis)
        await asyncio.sleep(0.3)
        assert await script_calls(redis) == calls  # nothing reads history any more
        await one.publish("news", "c")
        for frames in (first, second):
            assert (await next_frame(frames))["data"] == "c"
