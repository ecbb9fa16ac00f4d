"""Real uvicorn processes, real WebSocket clients: scale-out over Redis, resume, presence expiry, a stalled client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.channels.support import RedisServer, ServerProcess

pytestmark = pytest.mark.anyio

Serve = Callable[..., list[ServerProcess]]


def client(url: str, compression: str | None = None, **options: Any) -> connect:
    # No compression by default: payload sizes below are what crosses the socket.
    return connect(url, compression=compression, proxy=None, **options)


async def frame(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    received: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return received


async def post(url: str, data: Any = None, **params: Any) -> Any:
    async with httpx2.AsyncClient() as http:
        response = await http.post(url, json=data, params=params, timeout=10)
        response.raise_for_status()
        return response.json()


async def get(url: str) -> Any:
    async with httpx2.AsyncClient() as http:
        response = await http.get(url, timeout=10)
        response.raise_for_status()
        return response.json()


def kernel_buffer_bytes() -> int:
    """How much a connection that stops reading can absorb: the most a send buffer grows to, plus a receive buffer."""
    _, _, send_max = Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()
    _, receive_default, _ = Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()
    return int(send_max) + 2 * int(receive_default)


async def test_a_publish_on_one_process_reaches_clients_on_both(serve: Serve, redis_server: RedisServer) -> None:
    a, b = serve(2, REDIS_URL=redis_server.url)
    urls = [a.ws, a.ws, b.ws, b.ws]
    async with (
        client(urls[0] + "/ws/chat") as c1,
        client(urls[1] + "/ws/chat") as c2,
        client(urls[2] + "/ws/chat") as c3,
        client(urls[3] + "/ws/chat") as c4,
    ):
        clients = [c1, c2, c3, c4]
        epochs = {(await frame(c))["epoch"] for c in clients}
        assert len(epochs) == 1
        await post(f"{a.http}/publish/chat", "from a")
        await post(f"{b.http}/publish/chat", "from b")
        await c3.send("from a websocket on b")
        for c in clients:
            received = [await frame(c) for _ in range(3)]
            assert [(f["offset"], f["data"]) for f in received] == [
                (1, "from a"),
                (2, "from b"),
                (3, "from a websocket on b"),
            ]


async def test_resume_on_another_process_gets_exactly_the_missed_messages(
    serve: Serve, redis_server: RedisServer
) -> None:
    a, b = serve(2, REDIS_URL=redis_server.url)
    async with client(a.ws + "/ws/chat") as ws:
        await frame(ws)
        await post(f"{a.http}/publish/chat", "seen")
        last = await frame(ws)
    for text in ("missed 1", "missed 2", "missed 3"):
        await post(f"{a.http}/publish/chat", text)
    async with client(f"{b.ws}/ws/chat?since={last['epoch']}:{last['offset']}") as ws:
        subscribed = await frame(ws)
        assert (subscribed["recovered"], subscribed["offset"]) == (True, 1)
        assert [(await frame(ws))["data"] for _ in range(3)] == ["missed 1", "missed 2", "missed 3"]
        await post(f"{b.http}/publish/chat", "live")
        assert (await frame(ws))["data"] == "live"  # nothing duplicated at the switch to live


async def test_presence_entries_of_a_killed_process_expire(serve: Serve, redis_server: RedisServer) -> None:
    ttl = 1.5
    a, b = serve(2, REDIS_URL=redis_server.url, PRESENCE_TTL=ttl)
    async with client(b.ws + "/ws/room?name=bob") as bob:
        assert (await frame(bob))["type"] == "subscribed"
        assert (await frame(bob))["type"] == "join"
        ada = await client(a.ws + "/ws/room?name=ada").__aenter__()
        await frame(ada)
        ada_joined = await frame(bob)
        assert (ada_joined["type"], ada_joined["client"]["info"]) == ("join", {"name": "ada"})
        assert sorted(m["info"]["name"] for m in await get(f"{b.http}/presence/room")) == ["ada", "bob"]

        os.kill(a.proc.pid, signal.SIGKILL)
        a.proc.wait()
        killed = time.monotonic()
        while [m["info"]["name"] for m in await get(f"{b.http}/presence/room")] != ["bob"]:
            assert time.monotonic() - killed < ttl + 1, "the dead process's member is still listed"
            await asyncio.sleep(0.1)
        left = await frame(bob, timeout=ttl + 1)
        assert (left["type"], left["client"]) == ("leave", ada_joined["client"])
        assert time.monotonic() - killed < ttl * 4 / 3 + 1
        await ada.close()


# Large frames through the server's send; and, as a browser on a phone gets them, small ones on connections that
# negotiated compression, written framed once and uncompressed (900 characters and the envelope stay under 1 KiB).
# Larger ones would be compressed, and this repetitive text would then never fill the stalled socket.
@pytest.mark.parametrize(("compression", "size"), [(None, 32 * 1024), ("deflate", 900)])
async def test_a_stalled_client_does_not_delay_the_others_and_is_closed_with_1013(
    serve: Serve, compression: str | None, size: int
) -> None:
    queue_size = 32
    (server,) = serve(QUEUE_SIZE=queue_size)
    count = kernel_buffer_bytes() // size + 2 * queue_size + 20  # enough to fill the stalled socket, then its queue
    options: dict[str, Any] = {"compression": compression, "max_size": None}
    # The stalled client takes one frame into its buffer, then stops reading.
    async with (
        client(server.ws + "/ws/stream", max_queue=1, ping_interval=None, **options) as stalled,
        client(server.ws + "/ws/stream", **options) as h1,
        client(server.ws + "/ws/stream", **options) as h2,
        client(server.ws + "/ws/stream", **options) as h3,
    ):
        for ws in (stalled, h1, h2, h3):
            await frame(ws)

        async def read_all(ws: ClientConnection) -> list[int]:
            return [(await frame(ws))["offset"] for _ in range(count)]

        burst = post(f"{server.http}/burst/stream", count=count, size=size, pause=0.001)
        *results, _ = await asyncio.wait_for(asyncio.gather(read_all(h1), read_all(h2), read_all(h3), burst), 20)
        assert results == [list(range(1, count + 1))] * 3

        # The stalled client reads again: what it gets is an in-order prefix, then the slow-consumer close.
        offsets = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                offsets.append((await frame(stalled, timeout=10))["offset"])
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "send queue full")
        assert offsets == list(range(1, len(offsets) + 1))
        assert len(offsets) < count
