"""A bounded soak: 20,000 distinct channels joined and left, 2,000 connections with presence opened and closed,
against uvicorn and Redis; the server's memory and Redis's key count come back near where they started."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from tests.channels.support import RedisServer, ServerProcess

pytestmark = pytest.mark.anyio

CHANNELS, CONNECTIONS, BATCH = 20_000, 2_000, 100  # a batch stays under the 128 subscriptions cap


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def join_and_leave(url: str, first: int, count: int) -> None:
    async with connect(url + "/multi", proxy=None, max_queue=None) as ws:
        for start in range(first, first + count, BATCH):
            names = [f"soak.{n}" for n in range(start, min(start + BATCH, first + count))]
            for name in names:
                await ws.send("+" + name)
            for _ in range(2 * len(names)):  # subscribed, ack
                await ws.recv()
            for name in names:
                await ws.send("-" + name)
            for _ in names:
                assert json.loads(await ws.recv())["type"] == "ack"


async def come_and_go(url: str, count: int) -> None:
    async def one(n: int) -> None:
        async with connect(f"{url}/ws/room{n % 50}?name=u{n}", proxy=None) as ws:
            while json.loads(await ws.recv()).get("type") != "join":
                pass

    for start in range(0, count, 20):
        await asyncio.gather(*(one(n) for n in range(start, start + 20)))


async def test_state_returns_near_its_baseline(redis_server: RedisServer) -> None:
    env = {
        "CHANNELS_APP_REDIS_URL": redis_server.url,
        "CHANNELS_APP_UNLIMITED": "1",
        "CHANNELS_APP_HISTORY_TTL": "1",  # a channel's keys expire 1 s after it was last used
    }
    server = ServerProcess(env)
    redis = Redis.from_url(redis_server.url)
    try:
        server.wait()
        await join_and_leave(server.ws, 0, 2 * BATCH)  # warm-up: code paths and allocator pools in use once
        await come_and_go(server.ws, 100)
        await asyncio.sleep(2.5)
        rss, keys = rss_mib(server.proc.pid), await redis.dbsize()

        await join_and_leave(server.ws, 2 * BATCH, CHANNELS)
        await come_and_go(server.ws, CONNECTIONS)

        deadline = time.monotonic() + 20
        while (now := await redis.dbsize()) > keys + 5:
            assert time.monotonic() < deadline, f"{now} keys in Redis, {keys} before the soak"
            await asyncio.sleep(0.5)
        grown = rss_mib(server.proc.pid) - rss
        # 20,000 channels kept would be tens of MiB; what remains is the allocator's slack.
        assert grown < 15, f"server RSS grew by {grown:.1f} MiB"
    finally:
        await redis.aclose()
        server.kill()
