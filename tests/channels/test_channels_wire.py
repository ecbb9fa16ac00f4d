"""Prepared frames under a real uvicorn: a publish is framed once and the same bytes go to every connection, a
compressed one only for small messages (uncompressed); larger ones to compressed connections, and sends wrapped by
middleware, take the ASGI send. Clients see the same messages either way, in order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode

from tests.channels.support import ServerProcess
from wsapi.channels import Channels

pytestmark = pytest.mark.anyio

Serve = Callable[..., list[ServerProcess]]

# Frame payloads on both sides of the 7-bit, 16-bit and 64-bit length encodings, of the largest prepared frame
# (`wire.PREPARED_MAX` bytes; "ẅ" * 1_400 is under it in characters, over it in bytes) and of the largest one a
# compressed connection gets uncompressed (`wire.UNCOMPRESSED_MAX`); multi-byte UTF-8 included.
TEXTS = [
    "x",
    "y" * 150,
    "é€😀" * 40,
    "ö" * 512,
    "ö" * 513,
    "w" * 3_900,
    "ẅ" * 1_400,
    "v" * 4_200,
    "z" * 70_000,
    "ü" * 40_000,
]


async def receive(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def subscribers(url: str, compression: list[str | None]) -> list[ClientConnection]:
    connections = [await connect(url, compression=c, max_size=None, proxy=None) for c in compression]
    return connections


async def close_all(connections: list[ClientConnection]) -> None:
    await asyncio.gather(*(ws.close() for ws in connections))


async def test_frames_of_every_length_reach_plain_and_compressed_connections_intact(wire_server: ServerProcess) -> None:
    url = wire_server.ws + "/sub/room"
    connections = await subscribers(url, [None, None, "deflate", None])
    try:
        assert [(await receive(ws))["type"] for ws in connections] == ["subscribed"] * 4
        assert [(await receive(ws))["prepared"] for ws in connections] == [True] * 4
        publisher = connections[0]
        for text in TEXTS:
            await publisher.send(text)
        for ws in connections:
            frames = [await receive(ws) for _ in TEXTS]
            assert [f["data"] for f in frames] == TEXTS
            assert [f["offset"] for f in frames] == list(range(1, len(TEXTS) + 1))
    finally:
        await close_all(connections)


async def test_a_compressed_connection_gets_small_channel_frames_uncompressed_and_stays_in_step(
    wire_server: ServerProcess,
) -> None:
    """Frames left uncompressed, among compressed ones of the handler and of larger publishes, with the same text
    repeated so that every compressed frame refers back to earlier ones: a client decoder out of step with the
    server's compressor would fail or garble them."""
    url = wire_server.ws + "/sub/mixed"
    async with connect(url, compression="deflate", max_size=None, proxy=None) as ws:
        compressed = observe_compression(ws)
        assert (await receive(ws))["type"] == "subscribed"
        assert (await receive(ws))["prepared"] is True
        compressed.clear()
        line = "the same words again and again, "
        sends = [
            (line, False),  # a small publish: the prepared frame, uncompressed
            ("own:" + line, True),  # the handler's own frame: the ASGI send, compressed
            (line * 2, False),
            (line * 40, True),  # 1,280 bytes of text: over `wire.UNCOMPRESSED_MAX`, under `PREPARED_MAX`
            (line * 28, False),  # 896, under 1,024 with the channel frame's envelope (about 100 bytes)
            ("own:" + line * 3, True),
            (line * 3_000, True),  # over `PREPARED_MAX`
            (line, False),
        ]
        received = []
        for text, _ in sends:  # one at a time: a publish while the handler's frame is still queued queues too
            await ws.send(text)
            raw = await asyncio.wait_for(ws.recv(), 5)
            received.append(raw if text.startswith("own:") else json.loads(raw)["data"])
        assert received == [text for text, _ in sends]
        assert compressed == [was_compressed for _, was_compressed in sends]


async def test_a_hub_with_uncompressed_max_0_leaves_every_message_to_the_servers_compression(
    compressing_wire_server: ServerProcess,
) -> None:
    url = compressing_wire_server.ws + "/sub/room"
    async with connect(url, compression="deflate", max_size=None, proxy=None) as ws:
        compressed = observe_compression(ws)
        assert [(await receive(ws))["type"], (await receive(ws))["prepared"]] == ["subscribed", True]
        compressed.clear()
        texts = ["small", "x" * 900, "y" * 2_000]
        for text in texts:
            await ws.send(text)
            assert (await receive(ws))["data"] == text
        assert compressed == [True] * len(texts)


def test_uncompressed_max_beyond_the_prepared_frames_is_refused() -> None:
    with pytest.raises(ValueError, match="uncompressed_max must be between 0 and 4096 bytes, not 8192"):
        Channels(uncompressed_max=8192)
    with pytest.raises(ValueError, match="not -1"):
        Channels(uncompressed_max=-1)


def observe_compression(ws: ClientConnection) -> list[bool]:
    """Whether each text frame `ws` receives from now on came compressed (RSV1), as it came off the wire."""
    (deflate,) = ws.protocol.extensions
    compressed: list[bool] = []
    decode = deflate.decode

    def observed(frame: Frame, *, max_size: int | None = None) -> Frame:
        if frame.opcode is Opcode.TEXT:
            compressed.append(frame.rsv1)
        return decode(frame, max_size=max_size)

    deflate.decode = observed  # type: ignore[method-assign]
    return compressed


async def test_a_middleware_that_wraps_send_sees_every_channel_frame(counting_wire_server: ServerProcess) -> None:
    connections = await subscribers(counting_wire_server.ws + "/sub/room", [None, None, None])
    try:
        assert [(await receive(ws))["type"] for ws in connections] == ["subscribed"] * 3
        assert [(await receive(ws))["prepared"] for ws in connections] == [False] * 3
        for n in range(20):
            await connections[0].send(f"m{n}")
        for ws in connections:
            assert [(await receive(ws))["data"] for _ in range(20)] == [f"m{n}" for n in range(20)]
        async with httpx2.AsyncClient() as http:
            response = await http.get(counting_wire_server.http + "/sent", timeout=5)
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
