"""Routing: decorators, routers, prefixes, mounts, url_path_for, convertors, HTTP bodies and responses."""

from pydantic import BaseModel

from wsapi import APIRouter, Body, FastAPI, Request, WebSocket, WebSocketEndpoint
from wsapi.responses import HTMLResponse, PlainTextResponse
from wsapi.routing import APIWebSocketRoute
from wsapi.testclient import TestClient


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
