"""The guide's examples under a real uvicorn, talked to by the `websockets` client library."""

import asyncio
from collections.abc import Iterator

import httpx2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.examples.test_guide import GUIDE
from tests.servers import uvicorn_server


@pytest.fixture(scope="module")
def tutorial002() -> Iterator[str]:
    with uvicorn_server("tutorial002:app", app_dir=GUIDE) as port:
        yield f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def tutorial003() -> Iterator[str]:
    with uvicorn_server("tutorial003:app", app_dir=GUIDE) as port:
        yield f"127.0.0.1:{port}"


def test_page_and_dependencies_over_a_real_server(tutorial002: str) -> None:
    assert "WebSocket Chat" in httpx2.get(f"http://{tutorial002}/").text

    async def talk() -> list[str]:
        async with connect(f"ws://{tutorial002}/items/foo/ws?token=abc") as ws:
            await ws.send("Hi")
            return [str(await ws.recv()), str(await ws.recv())]

    assert asyncio.run(talk()) == [
        "Session cookie or query token value is: abc",
        "Message text was: Hi, for item ID: foo",
    ]


def test_validation_refusal_reaches_a_real_client_as_a_close_code(tutorial002: str) -> None:
    async def refused() -> ConnectionClosed:
        async with connect(f"ws://{tutorial002}/items/foo/ws?token=abc&q=nope") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return closed.value

    closed = asyncio.run(refused())
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1008
    assert closed.rcvd.reason.startswith("query.q: Input should be a valid integer")


def test_unknown_path_is_an_http_404_on_a_real_server(tutorial002: str) -> None:
    async def attempt() -> None:
        async with connect(f"ws://{tutorial002}/nowhere"):
            pass

    with pytest.raises(InvalidStatus) as denied:
        asyncio.run(attempt())
    assert denied.value.response.status_code == 404


def test_broadcast_survives_a_client_that_vanished(tutorial003: str) -> None:
    """A client that drops its TCP connection is announced as gone; the others keep chatting."""

    async def chat() -> list[str]:
        async with connect(f"ws://{tutorial003}/ws/1") as stayer:
            vanisher = await connect(f"ws://{tutorial003}/ws/2")
            vanisher.transport.abort()  # no close frame: the socket just goes away
            left = str(await asyncio.wait_for(stayer.recv(), 5))
            await stayer.send("still here")
            return [left, str(await stayer.recv()), str(await stayer.recv())]

    assert asyncio.run(chat()) == [
        "Client #2 left the chat",
        "You wrote: still here",
        "Client #1 says: still here",
    ]
