"""Exceptions no handler takes: the client gets 1011, and the exception goes on to middleware, server and tests."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.servers import served
from wsapi import Depends, FastAPI, Query, WebSocket, WebSocketDisconnect, WebSocketException
from wsapi.middleware import Middleware
from wsapi.testclient import AsyncTestClient, TestClient

APPS = Path(__file__).parent / "apps"


class Reporter:
    """An error reporter, as Sentry's or a tracer's middleware is: it records what comes out, and re-raises."""

    seen: ClassVar[list[BaseException]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            Reporter.seen.append(exc)
            raise


class CloseWithOwnCode:
    """A middleware that turns any error into a close of its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            await WebSocket(scope, receive, send).close(4000, f"caught {type(exc).__name__}")


def failing_app(*middleware: Middleware) -> FastAPI:
    async def broken() -> None:
        raise LookupError("before accept")

    async def token(token: str = Query()) -> str:
        return token

    app = FastAPI(middleware=list(middleware))

    @app.websocket("/before")
    async def before(websocket: WebSocket, _: None = Depends(broken)) -> None: ...

    @app.websocket("/after")
    async def after(websocket: WebSocket) -> None:
        await websocket.accept()
        raise ValueError("after accept")

    @app.websocket("/refused")
    async def refused(websocket: WebSocket, t: str = Depends(token)) -> None:
        raise WebSocketException(4003, "not you")

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_text(await websocket.receive_text())

    return app


def test_user_middleware_sees_what_no_handler_took_and_the_client_still_gets_1011() -> None:
    Reporter.seen = []
    client = TestClient(failing_app(Middleware(Reporter)))
    with pytest.raises(LookupError), client.websocket_connect("/before"):
        pass
    with (
        pytest.raises(ValueError),
        client.websocket_connect("/after") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1011, "Internal server error")
    assert [type(e) for e in Reporter.seen] == [LookupError, ValueError]


def test_handled_refusals_keep_their_codes_and_do_not_reach_middleware() -> None:
    Reporter.seen = []
    client = TestClient(failing_app(Middleware(Reporter)))
    for path, code in (("/refused", 1008), ("/refused?token=t", 4003)):
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(path):
            pass
        assert refused.value.code == code
    assert Reporter.seen == []


def test_a_middleware_can_close_with_its_own_code_before_or_after_accept() -> None:
    client = TestClient(failing_app(Middleware(CloseWithOwnCode)))
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/before"):
        pass
    assert (closed.value.code, closed.value.reason) == (4000, "caught LookupError")
    with client.websocket_connect("/after") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (4000, "caught ValueError")


def test_an_escaped_disconnect_reaches_middleware_and_is_raised_when_the_session_ends() -> None:
    Reporter.seen = []
    client = TestClient(failing_app(Middleware(Reporter)))
    with pytest.raises(WebSocketDisconnect) as left, client.websocket_connect("/echo") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
    assert left.value.code == 1000
    assert [type(e) for e in Reporter.seen] == [WebSocketDisconnect]
    with TestClient(failing_app(), raise_server_exceptions=False).websocket_connect("/echo") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"


def test_an_exception_handler_that_raises_propagates_its_exception() -> None:
    class Unhandled(Exception):
        pass

    async def handler(websocket: WebSocket, exc: Exception) -> None:
        raise Unhandled from exc

    app = FastAPI(exception_handlers={ValueError: handler})

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        raise ValueError

    with pytest.raises(Unhandled), TestClient(app).websocket_connect("/ws"):
        pass


def test_a_failing_mounted_app_closes_once_and_raises_once() -> None:
    outer = FastAPI(middleware=[Middleware(Reporter)])
    outer.mount("/sub", failing_app())
    Reporter.seen = []
    with pytest.raises(ValueError), TestClient(outer).websocket_connect("/sub/after") as ws:
        assert ws.receive() == {"type": "websocket.close", "code": 1011, "reason": "Internal server error"}
    assert [type(e) for e in Reporter.seen] == [ValueError]


@pytest.mark.anyio
async def test_the_async_test_client_raises_what_the_app_raised(anyio_backend: Any) -> None:
    async with AsyncTestClient(failing_app()) as client:
        with pytest.raises(ValueError):
            async with client.websocket_connect("/after") as ws:
                with pytest.raises(WebSocketDisconnect) as closed:
                    await ws.receive_text()
                assert closed.value.code == 1011
        with pytest.raises(WebSocketDisconnect):
            async with client.websocket_connect("/echo") as ws:
                await ws.send_text("hi")
                assert await ws.receive_text() == "hi"
    async with AsyncTestClient(failing_app(), raise_server_exceptions=False) as client:
        with pytest.raises(WebSocketDisconnect) as refused:
            async with client.websocket_connect("/before"):
                pass
        assert refused.value.code == 1011


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def failing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("uvicorn") / "stderr.log"
    with log.open("wb") as output, served("failing:app", app_dir=APPS, output=output) as (port, _):
        yield f"127.0.0.1:{port}", log


def _close_code(address: str, path: str, *, send: str | None = None) -> int | None:
    async def attempt() -> int | None:
        async with connect(f"ws://{address}{path}") as ws:
            if send is not None:
                await ws.send(send)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code if closed.value.rcvd else None

    return asyncio.run(attempt())


def _log_once_it_has(log: Path, text: str, times: int = 1) -> str:
    deadline = time.monotonic() + 10
    while (content := log.read_text()).count(text) < times and time.monotonic() < deadline:
        time.sleep(0.05)
    return content


def test_a_real_server_logs_the_exception_and_the_client_gets_1011_before_or_after_accept(
    failing_server: tuple[str, Path],
) -> None:
    address, log = failing_server
    assert _close_code(address, "/before-accept") == 1011
    assert _close_code(address, "/after-accept", send="go") == 1011
    content = _log_once_it_has(log, "ValueError: boom after accept")
    assert "LookupError: boom before accept" in content
    assert "ValueError: boom after accept" in content


def test_a_real_server_ends_a_connection_the_client_left_quietly(failing_server: tuple[str, Path]) -> None:
    address, log = failing_server
    marker = "ValueError: boom after accept"
    seen = log.read_text().count(marker)

    async def talk_and_leave() -> str:
        async with connect(f"ws://{address}/echo") as ws:
            await ws.send("hi")
            return str(await ws.recv())

    for _ in range(3):
        assert asyncio.run(talk_and_leave()) == "hi"
    # A failure after the echoes: once it is in the log, anything the echoes' ends logged is there too.
    assert _close_code(address, "/after-accept", send="go") == 1011
    content = _log_once_it_has(log, marker, times=seen + 1)
    assert content.count(marker) == seen + 1
    assert "WebSocketDisconnect" not in content
