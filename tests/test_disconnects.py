"""Abrupt disconnects under a real server: the endpoint learns of them, the server carries on."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from websockets.asyncio.client import connect

from tests.servers import uvicorn_server


@pytest.fixture
def sender() -> Iterator[str]:
    with uvicorn_server("sender:app", app_dir=Path(__file__).parent / "apps") as port:
        yield f"127.0.0.1:{port}"


def test_sending_to_a_client_that_has_gone_raises_websocket_disconnect(sender: str) -> None:
    async def vanish() -> None:
        ws = await connect(f"ws://{sender}/ticks")
        assert await ws.recv() == "tick"
        ws.transport.abort()

    asyncio.run(vanish())
    deadline = time.monotonic() + 5
    outcomes: list[str] = []
    while not outcomes and time.monotonic() < deadline:
        outcomes = httpx2.get(f"http://{sender}/outcomes").json()
        time.sleep(0.05)
    assert outcomes and outcomes[0].startswith("disconnect 10")
    assert httpx2.get(f"http://{sender}/outcomes").status_code == 200  # the server is still serving
