"""The sync and async test clients: typed requests, frames put aside, timeouts instead of hangs."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from tests.messages.conftest import build_app
from wsapi import HTTPException, MessageRouter, WebSocket, WebSocketDisconnect, WsAPI, status
from wsapi.testclient import AsyncTestClient, TestClient, WebSocketDenialResponse

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def slow_app() -> WsAPI:
    """An app whose `wait` handler never answers, and whose `push` handler sends a frame before its reply."""
    router = MessageRouter()

    @router.on("wait")
    async def wait() -> None:
        await anyio.sleep(30)

    @router.on("push")
    async def push(websocket: WebSocket) -> str:
        await router.send(websocket, "tick", 1)
        return "done"

    router.sends("tick", int)
    app = WsAPI()
    app.add_api_websocket_route("/ws", router)
    return app


def test_sync_request_puts_other_frames_aside() -> None:
    with TestClient(slow_app()) as client, client.websocket_connect("/ws") as ws:
        ws.send_message("push")  # no id: its reply is just another frame
        assert ws.request("push") == {"type": "push.reply", "id": 1, "data": "done"}
        assert [ws.receive_message() for _ in range(3)] == [
            {"type": "tick", "data": 1},
            {"type": "push.reply", "data": "done"},
            {"type": "tick", "data": 1},
        ]


def test_sync_request_times_out_instead_of_hanging() -> None:
    with TestClient(slow_app()) as client, client.websocket_connect("/ws") as ws:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"no answer to 'wait' \(id 1\) within 0.2s"):
            ws.request("wait", timeout=0.2)
        assert time.monotonic() - started < 2
        with pytest.raises(TimeoutError):
            ws.receive_message(timeout=0.1)


async def test_async_request_and_typed_frames() -> None:
    app, recorder = build_app()
    async with AsyncTestClient(app) as client, client.websocket_connect("/ws?user=bo") as ws:
        assert await ws.request("echo", {"text": "a"}) == {"type": "echo.reply", "id": 1, "data": {"text": "a"}}
        assert await ws.request("whoami") == {"type": "whoami.reply", "id": 2, "data": "bo"}
        await ws.send_message("note", "hi", id="n")
        assert await ws.receive_message() == {"type": "ack", "id": "n"}
        await ws.send_text("nope")
        assert (await ws.receive_json())["data"]["code"] == "invalid_json"
    assert recorder.events[0] == "connect bo"
    assert recorder.events[-1] == "disconnect bo"


async def test_async_request_puts_other_frames_aside() -> None:
    async with AsyncTestClient(slow_app()) as client, client.websocket_connect("/ws") as ws:
        await ws.send_message("push")
        assert (await ws.request("push"))["id"] == 1
        assert [(await ws.receive_message())["type"] for _ in range(3)] == ["tick", "push.reply", "tick"]


async def test_async_request_times_out_instead_of_hanging() -> None:
    async with AsyncTestClient(slow_app()) as client, client.websocket_connect("/ws") as ws:
        with anyio.fail_after(5):  # the test's own guard: the client's timeout must fire well before
            with pytest.raises(TimeoutError, match=r"no answer to 'wait' \(id 1\) within 0.2s"):
                await ws.request("wait", timeout=0.2)
            with pytest.raises(TimeoutError, match=r"within 0\.1s"):
                await ws.receive(timeout=0.1)


async def test_async_close_codes_and_refusals() -> None:
    app, _ = build_app(max_bad_messages=1)
    async with AsyncTestClient(app) as client:
        with pytest.raises(WebSocketDisconnect) as refused:
            async with client.websocket_connect("/ws?user=mallory"):
                pass  # pragma: no cover
        assert (refused.value.code, refused.value.reason) == (4003, "not you")
        async with client.websocket_connect("/ws") as ws:
            await ws.send_bytes(b"\x00")
            assert (await ws.receive_message())["data"]["code"] == "unsupported_frame"
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive_message()
            assert closed.value.code == status.WS_1008_POLICY_VIOLATION


async def test_async_denial_response_and_http() -> None:
    app = WsAPI()

    @app.websocket("/private")
    async def private(websocket: WebSocket) -> None:
        raise HTTPException(401, "who are you")

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    async with AsyncTestClient(app) as client:
        assert (await client.get("/hello")).json() == {"hello": "world"}
        with pytest.raises(WebSocketDenialResponse) as denied:
            async with client.websocket_connect("/private"):
                pass  # pragma: no cover
        assert denied.value.status_code == 401
        assert denied.value.json() == {"detail": "who are you"}


async def test_async_client_runs_the_lifespan_and_shares_its_state() -> None:
    seen: list[Any] = []

    @asynccontextmanager
    async def lifespan(app: WsAPI) -> AsyncIterator[dict[str, str]]:
        seen.append("startup")
        yield {"greeting": "hi"}
        seen.append("shutdown")

    app = WsAPI(lifespan=lifespan)

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.state.greeting)
        await websocket.close()

    async with AsyncTestClient(app) as client:
        assert seen == ["startup"]
        async with client.websocket_connect("/ws") as ws:
            assert await ws.receive_text() == "hi"
            with pytest.raises(WebSocketDisconnect):
                await ws.receive_text()
    assert seen == ["startup", "shutdown"]


async def test_async_session_reraises_an_app_crash() -> None:
    async def crashing_app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        raise RuntimeError("app crashed")

    client = AsyncTestClient(crashing_app)
    with pytest.raises(RuntimeError, match="app crashed"):
        async with client.websocket_connect("/ws") as ws:
            await ws.receive_text()


async def test_async_client_raises_a_failed_startup() -> None:
    @asynccontextmanager
    async def lifespan(app: WsAPI) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield  # pragma: no cover

    with pytest.raises(RuntimeError, match="no database"):
        async with AsyncTestClient(WsAPI(lifespan=lifespan)):
            pass  # pragma: no cover
