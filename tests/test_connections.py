"""Credentials that expire, connections the app closes, and the per-user record behind both.

Against a real uvicorn with the `websockets` client: a connection is closed with 4401 at its credentials' expiry
(within a second), unless the client refreshed them first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.servers import uvicorn_server
from wsapi import Depends, Request, WebSocket, WebSocketDisconnect, WsAPI, identify
from wsapi.connections import CLOSE_EXPIRED
from wsapi.testclient import TestClient

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    with uvicorn_server("guarded:app", app_dir=APPS) as port:
        yield port


async def closed_when(ws: websockets.ClientConnection, timeout: float) -> tuple[float, int | None, str]:
    """Wait for the server's close: when it came, its code and reason."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed as closed:
        at = time.time()
        return at, closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else ""


@pytest.mark.parametrize("path", ["/expiring", "/expiring-plain"])
def test_a_connection_closes_with_4401_at_its_credentials_expiry(server: int, path: str) -> None:
    async def scenario() -> tuple[float, float, int | None, str]:
        expiry = time.time() + 1.0
        async with websockets.connect(f"ws://127.0.0.1:{server}{path}?token={expiry}", open_timeout=5) as ws:
            at, code, reason = await closed_when(ws, 5)
            return expiry, at, code, reason

    expiry, at, code, reason = asyncio.run(scenario())
    assert (code, reason) == (CLOSE_EXPIRED, "Credentials expired")
    assert expiry - 0.05 <= at <= expiry + 1.0


def test_a_refresh_before_the_expiry_keeps_the_connection_open(server: int) -> None:
    async def scenario() -> tuple[float, float, int | None]:
        first = time.time() + 0.8
        async with websockets.connect(f"ws://127.0.0.1:{server}/expiring?token={first}", open_timeout=5) as ws:
            await asyncio.sleep(0.4)
            second = time.time() + 1.2
            await ws.send(f'{{"type": "refresh", "id": 1, "data": {second}}}')
            assert await asyncio.wait_for(ws.recv(), 5) == '{"type":"ack","id":1}'
            at, code, _ = await closed_when(ws, 5)
            return second, at, code

    second, at, code = asyncio.run(scenario())
    assert code == CLOSE_EXPIRED
    assert second - 0.05 <= at <= second + 1.0  # the first expiry passed without a close


def test_credentials_already_expired_are_refused_with_4401(server: int) -> None:
    async def scenario() -> int | None:
        async with websockets.connect(f"ws://127.0.0.1:{server}/expiring?token={time.time() - 1}") as ws:
            return (await closed_when(ws, 5))[1]

    assert asyncio.run(scenario()) == CLOSE_EXPIRED


def test_the_app_closes_a_users_connections_on_this_process() -> None:
    app = WsAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, name: str) -> None:
        identify(websocket, name)
        await websocket.accept()
        while True:
            text = await websocket.receive_text()
            if text == "kick bob":
                closed = await app.connections.disconnect_user("bob", 4403, "Access revoked")
                await websocket.send_text(f"closed {closed}")
            else:
                await websocket.send_text(text)

    client = TestClient(app)
    # The endpoints receive until their clients leave: the disconnect escapes them, and the sessions raise it.
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/ws?name=ada") as ada,
        client.websocket_connect("/ws?name=bob") as bob1,
        client.websocket_connect("/ws?name=bob") as bob2,
    ):
        ada.send_text("kick bob")
        assert ada.receive_text() == "closed 2"
        for bob in (bob1, bob2):
            with pytest.raises(Exception) as closed:
                bob.receive_text()
            assert (getattr(closed.value, "code", None), getattr(closed.value, "reason", None)) == (
                4403,
                "Access revoked",
            )
        ada.send_text("still here")
        assert ada.receive_text() == "still here"
    assert app.connections.open == 0 and not app.connections.users and not app.connections.per_ip


async def shared_user(request: Request) -> str:
    identify(request, "ada", expires_at=time.time() - 10)  # shared with WebSocket routes: a no-op here
    return "ada"


def test_identify_does_nothing_on_an_http_request() -> None:
    app = WsAPI()

    @app.get("/me")
    async def me(user: Annotated[str, Depends(shared_user)]) -> dict[str, str]:
        return {"user": user}

    assert TestClient(app).get("/me").json() == {"user": "ada"}


def test_identify_outside_a_wsapi_app_says_so() -> None:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    async def endpoint(websocket: WebSocket) -> None:
        identify(websocket, "ada")

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    with pytest.raises(RuntimeError, match="needs a WebSocket served by a WsAPI app"):
        TestClient(app).websocket_connect("/ws").__enter__()
