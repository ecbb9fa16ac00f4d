"""The app's constructor habits: lifespan, middleware, debug, exception handlers."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from wsapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect, WsAPI
from wsapi.testclient import TestClient


def test_lifespan_state_reaches_websocket_endpoints() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"greeting": "hello"}
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.state.greeting)

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "hello"
    assert events == ["startup", "shutdown"]


class StripDenialExtension:
    """Plays a server without the WebSocket denial-response extension."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = {k: v for k, v in scope.get("extensions", {}).items() if k != "websocket.http.response"}
        await self.app({**scope, "extensions": extensions}, receive, send)


def test_middleware_runs_and_http_exception_without_denial_support_closes_with_1008() -> None:
    app = FastAPI(middleware=[Middleware(StripDenialExtension)])

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        raise HTTPException(403, "members only")

    with pytest.raises(WebSocketDisconnect) as refused, TestClient(app).websocket_connect("/ws"):
        pass
    assert (refused.value.code, refused.value.reason) == (1008, "members only")


def test_http_function_middleware() -> None:
    app = FastAPI()

    @app.middleware("http")
    async def add_header(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers["x-seen"] = "yes"
        return response

    @app.get("/")
    async def index() -> str:
        return "ok"

    assert TestClient(app).get("/").headers["x-seen"] == "yes"


def test_validation_refusal_logs_the_full_errors(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, a: int, b: int) -> None: ...

    with (
        caplog.at_level(logging.INFO, logger="wsapi"),
        pytest.raises(WebSocketDisconnect),
        TestClient(app).websocket_connect("/ws?a=1&b=x"),
    ):
        pass
    assert "('query', 'b')" in caplog.text
    assert "int_parsing" in caplog.text


def test_debug_flag_is_kept() -> None:
    assert FastAPI(debug=True).debug is True


def test_the_fastapi_name_keeps_fastapis_default_title() -> None:
    assert issubclass(FastAPI, WsAPI)
    assert FastAPI().title == "FastAPI"
    assert WsAPI().title == "wsapi"
    assert FastAPI(title="Shop").title == "Shop"
    document = TestClient(FastAPI()).get("/openapi.json").json()
    assert document["info"]["title"] == "FastAPI"
