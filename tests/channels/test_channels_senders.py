"""One sender per connection, bounded sends, and floods that close only who falls behind, against real servers."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.channels.channels_app import create_app
from tests.channels.support import ServerProcess
from tests.servers import ROOT
from wsapi.channels import MemoryBackend
from wsapi.testclient import TestClient

pytestmark = pytest.mark.anyio

Serve = Callable[..., list[ServerProcess]]


async def frame(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    received: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return received


def test_handler_frames_and_channel_frames_leave_in_the_order_they_were_produced() -> None:
    with TestClient(create_app(MemoryBackend())) as client, client.websocket_connect("/ordered/room") as ws:
        assert ws.receive_json()["type"] == "subscribed"
        for n in range(20):
            ws.send_text(str(n))
        received = []
        for _ in range(20):
            received += [ws.receive_text(), ws.receive_json(), ws.receive_json()]
    expected = []
    for n in range(20):
        expected += [f"before {n}", {"type": "message", "offset": n + 1, "data": str(n)}, {"after": str(n)}]
    assert [
        r if not isinstance(r, dict) or "after" in r else {k: r[k] for k in ("type", "offset", "data")}
        for r in received
    ] == expected


def test_one_subscription_too_many_is_refused_with_1008() -> None:
    app = create_app(MemoryBackend())
    cap = app.channels.max_subscriptions
    assert cap == 128
    with TestClient(app) as client, client.websocket_connect("/multi") as ws:
        for n in range(cap):
            ws.send_text(f"+room{n}")
            assert ws.receive_json()["type"] == "subscribed"
            assert ws.receive_json() == {"type": "ack", "command": f"+room{n}"}
        ws.send_text("+one-more")
        closed = ws.receive()
    assert closed == {
        "type": "websocket.close",
        "code": 1008,
        "reason": "too many subscriptions: at most 128 per connection",
    }


def stalled_client(port: int, path: str) -> socket.socket:
    """A raw client with a small receive buffer that completes the handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)  # byte by byte: nothing after the handshake is read
    assert response.startswith(b"HTTP/1.1 101")
    return sock


async def test_a_client_that_never_reads_is_aborted_within_the_send_timeout(serve: Serve) -> None:
    """Its TCP window stays at zero: after `send_timeout` the server drops it at the transport, its presence ends
    with a `leave` the others see, and the healthy client gets every message meanwhile."""
    send_timeout = 1.0
    (server,) = serve(SEND_TIMEOUT=send_timeout)
    async with connect(server.ws + "/ws/room?name=ada", max_size=None, proxy=None) as ada:
        assert (await frame(ada))["type"] == "subscribed"
        assert (await frame(ada))["type"] == "join"
        stalled = await asyncio.to_thread(stalled_client, server.port, "/ws/room?name=stalled")
        try:
            joined = await frame(ada)
            assert (joined["type"], joined["client"]["info"]) == ("join", {"name": "stalled"})
            size, count = 64 * 1024, 120  # 7.5 MiB: more than the socket buffers and the queue hold
            async with httpx_client() as http:
                burst = http.post(f"{server.http}/burst/room", params={"count": count, "size": size, "pause": 0})
                burst_task = asyncio.ensure_future(burst)
                offsets = []
                while len(offsets) < count:
                    received = await frame(ada, timeout=20)
                    if received["type"] == "message":
                        offsets.append(received["offset"])
                    else:
                        left = received
                assert offsets == list(range(1, count + 1))
                (await burst_task).raise_for_status()
            published = time.monotonic()
            if "left" not in locals():
                left = await frame(ada, timeout=send_timeout + 5)
            assert (left["type"], left["client"]) == ("leave", joined["client"])
            assert time.monotonic() - published < send_timeout + 5
            # The server has dropped it: reading now finds the buffered data, then the end (not a timeout).
            stalled.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                while stalled.recv(1 << 20):
                    pass
        finally:
            stalled.close()


def httpx_client() -> Any:
    import httpx2

    return httpx2.AsyncClient(timeout=30)


async def test_members_reading_at_full_speed_survive_a_flood_from_another_process(serve: Serve) -> None:
    """The flooder writes 5,000 messages back to back, so the server reads hundreds per TCP read; members in
    another process read at full speed with the default queue (100 frames) and get all of them, none closed."""
    (server,) = serve(UNLIMITED=1)
    count, members = 5000, 3
    url = server.ws + "/ws/room"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    readers = subprocess.Popen(
        [sys.executable, "-m", "tests.channels.crowd", "read", url, str(members), str(count)],
        stdout=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert readers.stdout is not None
        assert (await asyncio.to_thread(readers.stdout.readline)).strip() == b"ready"
        flooder = subprocess.Popen(
            [sys.executable, "-m", "tests.channels.crowd", "flood", url, str(count)], stdout=subprocess.PIPE, env=env
        )
        try:
            assert flooder.stdout is not None
            assert (await asyncio.to_thread(flooder.stdout.readline)).strip() == b"sent"
            results = json.loads(await asyncio.wait_for(asyncio.to_thread(readers.stdout.readline), 60))
        finally:
            flooder.kill()
            flooder.wait()
    finally:
        if readers.poll() is None:
            readers.kill()
        readers.wait()
    assert [r["closed"] for r in results] == [None] * members
    assert all(r["offsets"] == list(range(1, count + 1)) for r in results)


async def test_a_client_closed_for_being_slow_resumes_without_loss(serve: Serve) -> None:
    """With the default queue (100 frames) and history (200): a client that stopped reading during a stream reads
    what reached it, then 1013; resuming from its last position gets every message after it, none twice."""
    (server,) = serve(METRICS=1)
    size = 8 * 1024  # the queue's 100 frames (800 KiB) are within its byte budget: the frame budget is the one hit
    slow = await asyncio.to_thread(stalled_client, server.port, "/ws/room")
    try:
        count = 0
        async with httpx_client() as http:
            # Publish in steps until the server has closed it (its socket buffers hold an unknown number first).
            while "wsapi_channel_slow_consumer_closes_total 1.0" not in (await http.get(f"{server.http}/metrics")).text:
                assert count < 20_000, "never closed"
                response = await http.post(f"{server.http}/burst/room", params={"count": 20, "size": size, "pause": 0})
                response.raise_for_status()
                count += 20
        texts, code = await asyncio.to_thread(read_raw_frames, slow)
    finally:
        slow.close()
    assert code == 1013
    first = [json.loads(text) for text in texts][1:]  # after the subscribed frame
    assert [f["offset"] for f in first] == list(range(1, len(first) + 1))
    assert count - len(first) <= 200
    last = first[-1]
    since = f"{last['epoch']}:{last['offset']}"
    async with connect(f"{server.ws}/ws/room?since={since}", max_size=None, proxy=None) as resumed:
        subscribed = await frame(resumed)
        assert (subscribed["recovered"], subscribed["offset"]) == (True, last["offset"])
        rest = [(await frame(resumed))["offset"] for _ in range(count - len(first))]
    assert rest == list(range(len(first) + 1, count + 1))


def read_raw_frames(sock: socket.socket) -> tuple[list[str], int | None]:
    """The text frames a raw client has been sent, up to the close frame, and the close code."""
    sock.settimeout(10)
    buffer = b""

    def take(n: int) -> bytes:
        nonlocal buffer
        while len(buffer) < n:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise EOFError
            buffer += chunk
        taken, buffer = buffer[:n], buffer[n:]
        return taken

    texts = []
    while True:
        head = take(2)
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(take(2), "big")
        elif length == 127:
            length = int.from_bytes(take(8), "big")
        payload = take(length)
        if head[0] & 0x0F == 8:
            return texts, int.from_bytes(payload[:2], "big") if payload else None
        texts.append(payload.decode())
