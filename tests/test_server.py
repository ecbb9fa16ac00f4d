"""The launcher sets uvicorn's frame limit from the app's routes: an oversized frame, plain or compressed, is refused
by the server from what it has read so far, without the server holding the whole of it in memory.

Measured against the flagship chat, whose one WebSocket route takes 16 KiB. Under plain uvicorn (16 MiB limit) the
same four frames raised the peak RSS by 30-40 MiB before the route's own check closed with 1009.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.servers import served
from wsapi import MessageRouter, WebSocket, WsAPI
from wsapi.server import largest_message_size

CHAT = Path(__file__).parent.parent / "examples" / "chat"
MiB = 1024 * 1024
FRAME = 10 * MiB


def peak_rss(pid: int) -> int:
    """The process's peak resident set size so far, in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


async def send_oversized(port: int, payload: str, *, compressed: bool) -> int | None:
    """Send one frame of `payload` to the chat: the close code the client saw (None: the TCP link broke)."""
    compression = "deflate" if compressed else None
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws?name=ada", max_size=None, compression=compression, open_timeout=5
    ) as ws:
        try:
            await ws.send(payload)
            await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    raise AssertionError("the oversized frame was accepted")  # pragma: no cover


@pytest.fixture(scope="module")
def launched() -> Iterator[tuple[int, int]]:
    with served("main:app", app_dir=CHAT, launcher="wsapi") as server:
        yield server


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "deflate"])
def test_a_10_mib_frame_to_a_16_kib_route_is_refused_without_buffering_it(
    launched: tuple[int, int], compressed: bool
) -> None:
    port, pid = launched
    # Incompressible text for the plain frame; for the compressed one, text that deflates to a few KiB.
    payload = os.urandom(FRAME // 2).hex() if not compressed else "a" * FRAME
    asyncio.run(send_oversized(port, "x" * 17 * 1024, compressed=compressed))  # over the route's limit only
    before = peak_rss(pid)
    codes = [asyncio.run(send_oversized(port, payload, compressed=compressed)) for _ in range(4)]
    growth = peak_rss(pid) - before
    assert all(code in (1009, None) for code in codes), codes
    assert 1009 in codes
    assert growth < 1 * MiB, f"peak RSS grew by {growth / MiB:.1f} MiB for four {FRAME // MiB} MiB frames"


def test_the_largest_message_size_counts_every_websocket_route() -> None:
    app = WsAPI()

    @app.websocket("/plain")
    async def plain(websocket: WebSocket) -> None: ...

    assert largest_message_size(app) == 1024 * 1024  # the app's default for plain routes
    app.add_api_websocket_route("/typed", MessageRouter(max_message_size=4 * MiB))
    assert largest_message_size(app) == 4 * MiB

    small = WsAPI()

    @small.websocket("/small", max_message_size=16 * 1024)
    async def small_route(websocket: WebSocket) -> None: ...

    assert largest_message_size(small) == 16 * 1024
