"""The Redis backend when Redis fails: clear errors, reconnection, gap filling, epochs that say history was lost."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.channels.channels_app import create_app
from tests.channels.support import RedisServer
from wsapi.channels import Channels, ChannelsUnavailable, Listener, MemoryBackend, Position, RedisBackend
from wsapi.testclient import TestClient

pytestmark = pytest.mark.anyio


async def next_frame(frames: Listener, timeout: float = 5) -> dict[str, Any]:
    return await asyncio.wait_for(anext(frames), timeout)


async def test_publish_raises_a_clear_error_when_redis_is_down(redis_server: RedisServer) -> None:
    """Calls retry for at most the backend's `timeout`, then raise."""
    async with Channels(RedisBackend(redis_server.url, timeout=1.0)) as hub:
        await hub.publish("news", "before")
        redis_server.kill()
        started = time.monotonic()
        with pytest.raises(ChannelsUnavailable, match=r"Redis at 127\.0\.0\.1:\d+ is unreachable: publish to 'news'"):
            await hub.publish("news", "lost?")
        assert time.monotonic() - started < 1.0 + 1
        with pytest.raises(ChannelsUnavailable):
            async with hub.listen("other"):
                pass


async def test_a_hub_started_without_redis_connects_when_redis_comes(redis_server: RedisServer) -> None:
    """The process starts (a worker restarted during an outage must not fail), is not ready, refuses work clearly,
    and serves channels once Redis is up, by itself."""
    redis_server.kill()
    started = time.monotonic()
    async with Channels(RedisBackend(redis_server.url, timeout=1.0)) as hub:
        assert time.monotonic() - started < 1.0 + 2
        with pytest.raises(ChannelsUnavailable, match="the live connection is down"):
            await hub.check()
        with pytest.raises(ChannelsUnavailable, match=r"unreachable: publish to 'news'"):
            await hub.publish("news", "nobody can have this")
        redis_server.start()
        deadline = time.monotonic() + 15
        while True:
            try:
                await hub.check()
                break
            except ChannelsUnavailable:
                assert time.monotonic() < deadline, "not ready 15 s after Redis came up"
                await asyncio.sleep(0.1)
        async with hub.listen("news") as frames:
            assert (await next_frame(frames))["type"] == "subscribed"
            await hub.publish("news", "first")
            frame = await next_frame(frames)
            assert (frame["type"], frame["offset"], frame["data"]) == ("message", 1, "first")


async def test_frames_are_the_same_text_on_both_backends(redis_server: RedisServer) -> None:
    data = {"text": 'quotes " and \\ and ünïcode', "n": [1, 2.5, None, True]}
    texts = []
    for backend in (MemoryBackend(), RedisBackend(redis_server.url)):
        async with Channels(backend) as hub, hub.listen("same") as frames:
            subscribed = await next_frame(frames)
            await hub.publish("same", data)
            frame = await next_frame(frames)
            assert frame["data"] == data
            texts.append(json.dumps(frame).replace(subscribed["epoch"], "EPOCH"))
    assert texts[0] == texts[1]


async def test_redis_killed_and_restarted_mid_stream_loses_nothing(persistent_redis: RedisServer) -> None:
    """A publisher in another process keeps publishing (retrying what failed); the subscriber's process reconnects by
    itself and fills the gap from history, and a client that was away resumes with exactly what it missed."""
    async with (
        Channels(RedisBackend(persistent_redis.url)) as publisher_hub,
        Channels(RedisBackend(persistent_redis.url)) as hub,
        hub.listen("ticks", queue_size=1000) as frames,
    ):
        await next_frame(frames)
        total = 60
        away_at: Position | None = None

        async def publish_all() -> None:
            nonlocal away_at
            for n in range(total):
                while True:
                    try:
                        position = await publisher_hub.publish("ticks", n)
                        break
                    except ChannelsUnavailable:
                        await asyncio.sleep(0.05)
                if n == 10:
                    away_at = position
                if n == 20:
                    persistent_redis.kill()
                    await asyncio.sleep(0.3)
                    persistent_redis.start()
                await asyncio.sleep(0.005)

        publishing = asyncio.create_task(publish_all())
        received = [await next_frame(frames, timeout=10) for _ in range(total)]
        await publishing

    assert [f["type"] for f in received] == ["message"] * total
    assert [f["data"] for f in received] == list(range(total))
    assert [f["offset"] for f in received] == list(range(1, total + 1))
    assert len({f["epoch"] for f in received}) == 1

    assert away_at is not None
    async with Channels(RedisBackend(persistent_redis.url)) as hub, hub.listen("ticks", since=away_at) as frames:
        subscribed = await next_frame(frames)
        assert subscribed["recovered"] is True
        assert [(await next_frame(frames))["data"] for _ in range(total - 11)] == list(range(11, total))


async def test_redis_flushed_tells_subscribers_their_history_is_gone(redis_server: RedisServer) -> None:
    async with Channels(RedisBackend(redis_server.url)) as hub, hub.listen("news") as frames:
        first = await next_frame(frames)
        await hub.publish("news", "old")
        assert (await next_frame(frames))["offset"] == 1
        redis = Redis.from_url(redis_server.url)
        await redis.flushall()
        await redis.aclose()
        position = await hub.publish("news", "new")
        assert position.epoch != first["epoch"]
        reset = await next_frame(frames)
        assert reset == {
            "type": "subscribed",
            "channel": "news",
            "epoch": position.epoch,
            "offset": 0,
            "recovered": False,
        }
        message = await next_frame(frames)
        assert (message["epoch"], message["offset"], message["data"]) == (position.epoch, 1, "new")


async def test_one_redis_subscription_per_channel_per_process(redis_server: RedisServer) -> None:
    redis = Redis.from_url(redis_server.url)

    async def subscriptions() -> int:
        await asyncio.sleep(0.05)  # UNSUBSCRIBE is not waited for
        ((_, count),) = await redis.pubsub_numsub("wsapi:room")
        return int(count)

    try:
        async with Channels(RedisBackend(redis_server.url)) as hub:
            async with hub.listen("room") as a, hub.listen("room") as b, hub.listen("room") as c:
                assert await subscriptions() == 1
                await hub.publish("room", "to all three")
                for frames in (a, b, c):
                    await next_frame(frames)
                    assert (await next_frame(frames))["data"] == "to all three"
            assert await subscriptions() == 0
            async with hub.listen("room"):
                assert await subscriptions() == 1
    finally:
        await redis.aclose()


def test_presence_comes_back_after_redis_loses_its_data(redis_server: RedisServer) -> None:
    app = create_app(RedisBackend(redis_server.url, presence_ttl=0.6))
    with TestClient(app) as client, client.websocket_connect("/ws/room?name=ada") as ada:
        assert ada.receive_json()["type"] == "subscribed"
        joined = ada.receive_json()
        assert joined["type"] == "join"
        flushed = time.monotonic()
        ada.portal.call(flush, redis_server.url)
        assert client.get("/presence/room").json() == []
        assert ada.receive_json() == joined  # stored again by the next heartbeat, and announced
        assert time.monotonic() - flushed < 1
        assert client.get("/presence/room").json() == [joined["client"]]


async def flush(url: str) -> None:
    redis = Redis.from_url(url)
    await redis.flushall()
    await redis.aclose()
