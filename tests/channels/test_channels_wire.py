"""Prepared frames under a real uvicorn: a publish is framed once and the same bytes go to every plain connection;
compressed connections and sends wrapped by middleware take the ASGI send. Clients see the same either way, in order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.channels.support import HERE, ServerProcess

pytestmark = pytest.mark.anyio

Serve = Callable[..., list[ServerProcess]]

# Frame payloads on both sides of the 7-bit, 16-bit and 64-bit length encodings and of the largest prepared frame
# (`wire.PREPARED_MAX` bytes; "ẅ" * 1_400 is under it in characters, over it in bytes); multi-byte UTF-8 included.
TEXTS = ["x", "y" * 150, "é€😀" * 40, "w" * 3_900, "ẅ" * 1_400, "v" * 4_200, "z" * 70_000, "ü" * 40_000]


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    process = ServerProcess({}, app="wire_app:served", app_dir=HERE)
    try:
        process.wait()
        yield process
    finally:
        process.kill()


@pytest.fixture
def counting_server() -> Iterator[ServerProcess]:
    process = ServerProcess({"WIRE_APP_COUNT_SENDS": "1"}, app="wire_app:served", app_dir=HERE)
    try:
        process.wait()
        yield process
    finally:
        process.kill()


async def receive(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def subscribers(url: str, compression: list[str | None]) -> list[ClientConnection]:
    connections = [await connect(url, compression=c, max_size=None, proxy=None) for c in compression]
    return connections


async def close_all(connections: list[ClientConnection]) -> None:
    await asyncio.gather(*(ws.close() for ws in connections))


async def test_frames_of_every_length_reach_plain_and_compressed_connections_intact(server: ServerProcess) -> None:
    url = server.ws + "/sub/room"
    connections = await subscribers(url, [None, None, "deflate", None])
    try:
        assert [(await receive(ws))["type"] for ws in connections] == ["subscribed"] * 4
        prepared = [(await receive(ws))["prepared"] for ws in connections]
        assert prepared == [True, True, False, True]  # deflate compresses per connection: no shared bytes
        publisher = connections[0]
        for text in TEXTS:
            await publisher.send(text)
        for ws in connections:
            frames = [await receive(ws) for _ in TEXTS]
            assert [f["data"] for f in frames] == TEXTS
            assert [f["offset"] for f in frames] == list(range(1, len(TEXTS) + 1))
    finally:
        await close_all(connections)


async def test_a_middleware_that_wraps_send_sees_every_channel_frame(counting_server: ServerProcess) -> None:
    connections = await subscribers(counting_server.ws + "/sub/room", [None, None, None])
    try:
        assert [(await receive(ws))["type"] for ws in connections] == ["subscribed"] * 3
        assert [(await receive(ws))["prepared"] for ws in connections] == [False] * 3
        for n in range(20):
            await connections[0].send(f"m{n}")
        for ws in connections:
            assert [(await receive(ws))["data"] for _ in range(20)] == [f"m{n}" for n in range(20)]
        async with httpx2.AsyncClient() as http:
            response = await http.get(counting_server.http + "/sent", timeout=5)
        assert response.json() == {"frames": 3 * 20}
    finally:
        await close_all(connections)


async def test_the_handlers_own_frames_and_channel_frames_arrive_in_the_order_they_were_sent(serve: Serve) -> None:
    rounds = 300
    (server,) = serve(UNLIMITED=1)  # channels_app's `/ordered`: a frame of its own, a publish, another of its own
    async with connect(server.ws + "/ordered/line", compression=None, proxy=None) as ws:
        assert json.loads(await ws.recv())["type"] == "subscribed"
        for n in range(rounds):
            await ws.send(str(n))  # sent without waiting for replies: the sends overlap the fan-outs
        received = [await asyncio.wait_for(ws.recv(), 5) for _ in range(3 * rounds)]
    expected: list[Any] = []
    for n in range(rounds):
        expected += [{"text": f"before {n}"}, {"type": "message", "data": str(n)}, {"after": str(n)}]
    decoded = [text if text.startswith("before") else json.loads(text) for text in received]
    channel_frames = [
        {"type": d["type"], "data": d["data"]} if "offset" in d else d for d in map(dict_or_text, decoded)
    ]
    assert channel_frames == expected


def dict_or_text(value: Any) -> Any:
    return value if isinstance(value, dict) else {"text": value}
