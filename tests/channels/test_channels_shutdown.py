"""SIGTERM to a real uvicorn (one worker, and --workers 2 over Redis): every subscribed client gets what was queued
for it, then 1012, and the server exits within a bounded time even with a client that never reads."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.channels.support import RedisServer, ServerProcess
from tests.channels.test_channels_senders import stalled_client
from wsapi.channels.hub import SHUTDOWN_GRACE

pytestmark = pytest.mark.anyio

EXIT_BOUND = SHUTDOWN_GRACE + 8  # the grace, then uvicorn's own shutdown, with slack for a loaded machine


async def read_until_closed(ws: ClientConnection) -> tuple[list[int], int | None, str | None]:
    offsets = []
    try:
        async with asyncio.timeout(30):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "message":
                    offsets.append(frame["offset"])
    except ConnectionClosed as closed:
        return offsets, closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else None


async def sigterm_with_queued_frames(server: ServerProcess, clients: int, behind: int) -> None:
    """`clients` subscribers, of which `behind` stop reading during the burst (so frames stay queued for them),
    and a raw one that never reads; a burst larger than the socket buffers; SIGTERM; then everyone reads."""
    count, size = 300, 32 * 1024  # 9.6 MB: more than a stopped reader's socket buffers hold
    readers = [
        await connect(server.ws + "/ws/room", max_size=None, proxy=None, max_queue=1 if n < behind else None)
        for n in range(clients)
    ]
    stalled = await asyncio.to_thread(stalled_client, server.port, "/ws/room")
    try:
        for ws in readers[behind:]:
            assert json.loads(await ws.recv())["type"] == "subscribed"
        reading = [asyncio.ensure_future(read_until_closed(ws)) for ws in readers[behind:]]
        async with httpx2.AsyncClient(timeout=30) as http:
            response = await http.post(f"{server.http}/burst/room", params={"count": count, "size": size, "pause": 0})
            response.raise_for_status()  # every message acknowledged
        os.kill(server.proc.pid, signal.SIGTERM)
        stopped = time.monotonic()
        await asyncio.sleep(0.2)
        for ws in readers[:behind]:  # they read again, at full speed
            assert json.loads(await ws.recv())["type"] == "subscribed"
            reading.append(asyncio.ensure_future(read_until_closed(ws)))
        results = await asyncio.gather(*reading)
        await asyncio.to_thread(server.proc.wait, EXIT_BOUND)
        assert time.monotonic() - stopped < EXIT_BOUND
        # uvicorn re-raises the signal it handled once it is done, so a clean exit reads as "killed by SIGTERM".
        assert server.proc.returncode in (0, -signal.SIGTERM)
    finally:
        stalled.close()
        for ws in readers:
            await ws.close()
    assert results == [(list(range(1, count + 1)), 1012, "server restarting: reconnect")] * clients


async def test_sigterm_sends_what_is_queued_then_1012_and_exits_despite_a_stalled_client() -> None:
    server = ServerProcess({"CHANNELS_APP_QUEUE_SIZE": "1000", "CHANNELS_APP_UNLIMITED": "1"})
    try:
        server.wait()
        await sigterm_with_queued_frames(server, clients=3, behind=1)
    finally:
        server.kill()


async def test_sigterm_with_two_workers(redis_server: RedisServer) -> None:
    env = {"CHANNELS_APP_QUEUE_SIZE": "1000", "CHANNELS_APP_UNLIMITED": "1", "CHANNELS_APP_REDIS_URL": redis_server.url}
    server = ServerProcess(env, options=("--workers", "2"))
    try:
        server.wait()
        await asyncio.sleep(1)  # both workers up (the port answers as soon as the first is)
        await sigterm_with_queued_frames(server, clients=4, behind=2)
    finally:
        server.kill()
