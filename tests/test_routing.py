"""Routing: decorators, routers, prefixes, mounts, url_path_for, convertors, HTTP bodies and responses."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute

from wsapi import APIRouter, Body, FastAPI, Request, WebSocket, WebSocketEndpoint
from wsapi.responses import HTMLResponse, PlainTextResponse
from wsapi.routing import APIWebSocketRoute
from wsapi.testclient import TestClient, WebSocketDenialResponse


class Item(BaseModel):
    name: str
    price: float = 0.0


def test_http_methods_return_json_by_default() -> None:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read(item_id: int, q: str | None = None) -> dict[str, object]:
        return {"item_id": item_id, "q": q}

    @app.post("/items", status_code=201)
    def create(item: Item) -> Item:  # sync endpoints run in the thread pool
        return item

    @app.put("/items/{item_id}")
    async def replace(item_id: int, item: Item, note: str = Body(embed=True)) -> dict[str, object]:
        return {"id": item_id, "item": item, "note": note}

    @app.patch("/items/{item_id}")
    async def patch(item_id: int) -> int:
        return item_id

    @app.delete("/items/{item_id}")
    async def delete(item_id: int) -> None:
        return None

    client = TestClient(app)
    assert client.get("/items/3?q=x").json() == {"item_id": 3, "q": "x"}
    created = client.post("/items", json={"name": "pen", "price": 2})
    assert (created.status_code, created.json()) == (201, {"name": "pen", "price": 2.0})
    replaced = client.put("/items/1", json={"item": {"name": "ink"}, "note": "n"})
    assert replaced.json() == {"id": 1, "item": {"name": "ink", "price": 0.0}, "note": "n"}
    assert client.patch("/items/4").json() == 4
    assert client.delete("/items/4").json() is None
    assert client.post("/items/4").status_code == 405


def test_response_class_and_returned_responses() -> None:
    app = FastAPI()

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<h1>hi</h1>"

    @app.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("plain")

    client = TestClient(app)
    page_response = client.get("/page")
    assert page_response.headers["content-type"].startswith("text/html")
    assert page_response.text == "<h1>hi</h1>"
    assert client.get("/text").text == "plain"


def test_scope_route_is_the_matched_route_and_url_path_for_works() -> None:
    app = FastAPI()

    @app.websocket("/rooms/{room:str}/ws", name="room")
    async def room(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        route = websocket.scope["route"]
        await websocket.send_json([isinstance(route, APIWebSocketRoute), route.path, room])

    @app.get("/where")
    async def where(request: Request) -> str:
        return str(request.url_for("room", room="lobby"))

    client = TestClient(app)
    with client.websocket_connect("/rooms/lobby/ws") as ws:
        assert ws.receive_json() == [True, "/rooms/{room:str}/ws", "lobby"]
    assert app.url_path_for("room", room="x") == "/rooms/x/ws"
    assert client.get("/where").json() == "ws://testserver/rooms/lobby/ws"


def test_nested_routers_with_prefixes() -> None:
    inner = APIRouter(prefix="/inner")

    @inner.get("/ping")
    async def ping() -> str:
        return "pong"

    @inner.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("inner")

    outer = APIRouter(prefix="/outer")
    outer.include_router(inner)
    app = FastAPI()
    app.include_router(outer, prefix="/api")
    client = TestClient(app)
    assert client.get("/api/outer/inner/ping").json() == "pong"
    with client.websocket_connect("/api/outer/inner/ws") as ws:
        assert ws.receive_text() == "inner"


def test_mounting_another_app() -> None:
    sub = FastAPI()

    @sub.websocket("/ws")
    async def sub_ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.scope["root_path"])

    app = FastAPI()
    app.mount("/sub", sub)
    with TestClient(app).websocket_connect("/sub/ws") as ws:
        assert ws.receive_text() == "/sub"


def test_class_based_endpoint_as_a_route() -> None:
    class Echo(WebSocketEndpoint):
        encoding = "text"

        async def on_receive(self, websocket: WebSocket, data: str) -> None:
            await websocket.send_text(data[::-1])

    app = FastAPI()
    app.add_api_websocket_route("/echo", Echo)
    with TestClient(app).websocket_connect("/echo") as ws:
        ws.send_text("abc")
        assert ws.receive_text() == "cba"


def test_plain_starlette_routes_on_app_and_router_get_the_connection_and_nothing_injected() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/chat")

    @app.websocket_route("/plain", name="plain")
    async def plain(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(f"plain {websocket.query_params.get('q')}")
        await websocket.close()

    @router.websocket_route("/ws")
    async def in_router(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("in router")
        await websocket.close()

    async def added(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("added")
        await websocket.close()

    router.add_websocket_route("/added", added, name="added")

    @app.route("/page", methods=["GET", "POST"], name="page")
    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"{request.method} page")

    async def hidden(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hidden")

    router.add_route("/hidden", hidden, include_in_schema=False)
    app.include_router(router, prefix="/v1")

    client = TestClient(app)
    for path, text in (("/plain?q=1", "plain 1"), ("/v1/chat/ws", "in router"), ("/v1/chat/added", "added")):
        with client.websocket_connect(path) as ws:
            assert ws.receive_text() == text
    assert client.post("/page").text == "POST page"
    assert client.get("/v1/chat/hidden").text == "hidden"
    assert app.url_path_for("plain") == "/plain"
    assert app.url_path_for("added") == "/v1/chat/added"
    assert app.url_path_for("page") == "/page"
    (hidden_route,) = [r for r in app.routes if getattr(r, "path", "") == "/v1/chat/hidden"]
    assert hidden_route.include_in_schema is False  # type: ignore[attr-defined]


def test_include_router_keeps_starlette_routes_names_middleware_and_mounts() -> None:
    class Tagging:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("state", {})["tagged"] = True
            await self.app(scope, receive, send)

    async def tagged_page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"tagged={request.state.tagged}")

    async def tagged_ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(f"tagged={websocket.state.tagged}")
        await websocket.close()

    sub = FastAPI()

    @sub.get("/")
    async def sub_root() -> str:
        return "sub"

    router = APIRouter(
        routes=[
            Route("/page", tagged_page, name="tagged_page", middleware=[Middleware(Tagging)]),
            WebSocketRoute("/ws", tagged_ws, name="tagged_ws", middleware=[Middleware(Tagging)]),
            Mount("/sub", app=sub, name="sub"),
        ]
    )
    app = FastAPI()
    app.include_router(router, prefix="/v1")
    client = TestClient(app)
    assert client.get("/v1/page").text == "tagged=True"
    with client.websocket_connect("/v1/ws") as ws:
        assert ws.receive_text() == "tagged=True"
    assert client.get("/v1/sub/").json() == "sub"
    assert app.url_path_for("tagged_page") == "/v1/page"
    assert app.url_path_for("tagged_ws") == "/v1/ws"


def test_included_routers_lifespans_run_inside_the_apps_once_with_their_states_merged() -> None:
    events: list[str] = []

    def lifespan(name: str, state: dict[str, str] | None) -> Any:
        @asynccontextmanager
        async def run(app: Any) -> AsyncIterator[dict[str, str] | None]:
            events.append(f"start {name}")
            yield state
            events.append(f"stop {name}")

        return run

    inner = APIRouter(lifespan=lifespan("inner", {"db": "inner db", "cache": "c"}))
    plain = APIRouter(lifespan=lifespan("plain", None))
    app = FastAPI(lifespan=lifespan("app", {"db": "app db", "name": "app"}))

    @inner.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(dict(websocket.state._state))

    app.include_router(inner, prefix="/a")
    app.include_router(inner, prefix="/b")
    app.include_router(plain)
    with TestClient(app) as client, client.websocket_connect("/b/ws") as ws:
        assert ws.receive_json() == {"db": "inner db", "cache": "c", "name": "app"}
        assert events == ["start app", "start inner", "start plain"]
    assert events[3:] == ["stop plain", "stop inner", "stop app"]


def test_wsapi_middleware_reexports_starlettes_and_they_wrap_websockets_too() -> None:
    from starlette.middleware import cors, gzip, httpsredirect, trustedhost

    from wsapi import middleware
    from wsapi.middleware.cors import CORSMiddleware
    from wsapi.middleware.gzip import GZipMiddleware
    from wsapi.middleware.httpsredirect import HTTPSRedirectMiddleware
    from wsapi.middleware.trustedhost import TrustedHostMiddleware

    assert CORSMiddleware is cors.CORSMiddleware and GZipMiddleware is gzip.GZipMiddleware
    assert HTTPSRedirectMiddleware is httpsredirect.HTTPSRedirectMiddleware
    assert TrustedHostMiddleware is trustedhost.TrustedHostMiddleware
    assert middleware.Middleware is Middleware

    app = FastAPI(middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["example.com"])])

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("trusted")

    client = TestClient(app)
    with client.websocket_connect("ws://example.com/ws") as ws:
        assert ws.receive_text() == "trusted"
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("ws://elsewhere.com/ws"):
        pass
    assert denied.value.status_code == 400
