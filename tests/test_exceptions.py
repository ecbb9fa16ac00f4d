"""What a client sees when something goes wrong: close codes and reasons, denial responses, 422s."""

import json

import pytest
from pydantic import BaseModel

from wsapi import (
    Depends,
    FastAPI,
    HTTPException,
    Query,
    RequestValidationError,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    WebSocketRequestValidationError,
    status,
)
from wsapi.exceptions import close_reason
from wsapi.responses import JSONResponse
from wsapi.testclient import TestClient, WebSocketDenialResponse


def test_close_reason_is_cut_to_123_bytes_of_valid_utf8() -> None:
    text = "é" * 100  # 200 bytes of UTF-8
    reason = close_reason(text)
    encoded = reason.encode("utf-8")
    assert len(encoded) <= 123
    assert reason.endswith("...")
    assert encoded.decode("utf-8") == reason
    assert close_reason("short") == "short"


def test_an_over_long_validation_reason_is_truncated_and_stays_valid_utf8() -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, ünïcödé_pärämëtër_wïth_ä_löng_nämë: int = Query()) -> None:
        await websocket.accept()

    with pytest.raises(WebSocketDisconnect) as refused, TestClient(app).websocket_connect("/ws?" + "x=1" * 50):
        pass
    assert refused.value.code == 1008
    assert len(refused.value.reason.encode("utf-8")) <= 123
    assert refused.value.reason.startswith("query.ünïcödé_pärämëtër")


def test_websocket_exception_from_the_endpoint_closes_with_its_code_and_reason() -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        raise WebSocketException(status.WS_1013_TRY_AGAIN_LATER, "busy")

    with TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_text() == "hello"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1013, "busy")


def test_unhandled_exception_closes_with_1011_and_is_raised_in_the_test() -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        raise RuntimeError("secret internals")

    with (
        pytest.raises(RuntimeError, match="secret internals"),
        TestClient(app).websocket_connect("/ws") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1011, "Internal server error")
    with (
        TestClient(app, raise_server_exceptions=False).websocket_connect("/ws") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1011, "Internal server error")


def test_unhandled_exception_before_accept_also_gives_1011_and_is_raised_at_once() -> None:
    async def broken() -> None:
        raise KeyError("config")

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, _: None = Depends(broken)) -> None: ...

    with pytest.raises(KeyError, match="config"), TestClient(app).websocket_connect("/ws"):
        pytest.fail("the connection must not open")
    quiet = TestClient(app, raise_server_exceptions=False)
    with pytest.raises(WebSocketDisconnect) as refused, quiet.websocket_connect("/ws"):
        pytest.fail("the connection must not open")
    assert refused.value.code == 1011


def test_malformed_json_to_receive_json_closes_with_1007() -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_json(await websocket.receive_json())

    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_json({"ok": 1})
        assert ws.receive_json() == {"ok": 1}
        ws.send_text("{not json")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1007
    assert closed.value.reason.startswith("Invalid JSON")


def test_http_exception_before_accept_becomes_a_denial_response() -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first", headers={"WWW-Authenticate": "Bearer"})

    with pytest.raises(WebSocketDenialResponse) as denied, TestClient(app).websocket_connect("/ws"):
        pass
    assert denied.value.status_code == 401
    assert denied.value.json() == {"detail": "log in first"}
    assert denied.value.headers["www-authenticate"] == "Bearer"


def test_http_exception_after_accept_closes_with_1008() -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        raise HTTPException(403, "not yours")

    with TestClient(app).websocket_connect("/ws") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1008, "not yours")


def test_unknown_websocket_path_is_denied_with_404() -> None:
    with pytest.raises(WebSocketDenialResponse) as denied, TestClient(FastAPI()).websocket_connect("/nowhere"):
        pass
    assert denied.value.status_code == 404


def test_custom_handler_gets_the_full_validation_errors() -> None:
    app = FastAPI()
    seen: list[list[dict[str, object]]] = []

    @app.exception_handler(WebSocketRequestValidationError)
    async def handler(websocket: WebSocket, exc: WebSocketRequestValidationError) -> None:
        seen.append(exc.errors())
        await websocket.accept()
        await websocket.send_json({"errors": len(exc.errors())})
        await websocket.close(4422, "bad parameters")

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, a: int, b: int) -> None: ...

    with TestClient(app).websocket_connect("/ws?a=x") as ws:
        assert ws.receive_json() == {"errors": 2}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (4422, "bad parameters")
    assert [e["loc"] for e in seen[0]] == [("query", "a"), ("query", "b")]


class Item(BaseModel):
    name: str
    price: float


def test_http_validation_failure_is_a_422_with_a_detail_list() -> None:
    app = FastAPI()

    @app.post("/items/{item_id}")
    async def create(item_id: int, item: Item) -> Item:
        return item

    client = TestClient(app)
    response = client.post("/items/x", json={"name": "a"})
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [
        (["path", "item_id"], "int_parsing"),
        (["body", "price"], "missing"),
    ]
    bad_json = client.post("/items/1", content=b"{oops", headers={"content-type": "application/json"})
    assert bad_json.status_code == 422
    assert bad_json.json()["detail"][0]["type"] == "json_invalid"


def test_custom_http_validation_handler() -> None:
    async def handler(request: object, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"problems": len(exc.errors())}, status_code=400)

    app = FastAPI(exception_handlers={RequestValidationError: handler})

    @app.get("/")
    async def endpoint(q: int) -> int:
        return q

    response = TestClient(app).get("/?q=x")
    assert (response.status_code, response.json()) == (400, {"problems": 1})


def test_json_decode_error_in_http_endpoint_is_a_server_error_not_a_close_code() -> None:
    app = FastAPI()

    @app.get("/")
    async def endpoint() -> None:
        json.loads("{")

    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500


def test_validation_errors_name_the_endpoint_its_file_and_line_and_the_mounted_path() -> None:
    caught: list[Exception] = []

    async def keep(conn: object, exc: Exception) -> JSONResponse:
        caught.append(exc)
        return JSONResponse({}, status_code=422)

    async def keep_ws(websocket: WebSocket, exc: Exception) -> None:
        caught.append(exc)
        await websocket.close(1008)

    handlers = {RequestValidationError: keep, WebSocketRequestValidationError: keep_ws}
    app, sub = FastAPI(exception_handlers=handlers), FastAPI(exception_handlers=handlers)
    app.mount("/sub", sub)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> int:
        return item_id

    @sub.websocket("/rooms/{room_id}")
    async def join_room(websocket: WebSocket, room_id: int) -> None: ...

    client = TestClient(app)
    client.get("/items/x")
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/sub/rooms/y"):
        pass
    http, ws = (str(exc) for exc in caught)
    assert http.startswith("1 validation error:\n  {'type': 'int_parsing', 'loc': ('path', 'item_id')")
    line = read_item.__code__.co_firstlineno
    assert f'File "{__file__}", line {line}, in read_item\n    GET /items/{{item_id}}' in http
    line = join_room.__code__.co_firstlineno
    assert f'File "{__file__}", line {line}, in join_room\n    WebSocket /sub/rooms/{{room_id}}' in ws


def test_validation_errors_made_by_hand_show_what_context_they_have() -> None:
    from wsapi.exceptions import ResponseValidationError

    errors = [{"type": "missing", "loc": ("body", "name"), "msg": "Field required"}] * 2
    assert str(RequestValidationError(errors)) == (
        "2 validation errors:\n"
        "  {'type': 'missing', 'loc': ('body', 'name'), 'msg': 'Field required'}\n"
        "  {'type': 'missing', 'loc': ('body', 'name'), 'msg': 'Field required'}"
    )
    only_path = ResponseValidationError(errors[:1], body={"x": 1}, endpoint_ctx={"path": "GET /items"})
    assert str(only_path).endswith("\n  Endpoint: GET /items") and only_path.body == {"x": 1}


def test_a_response_validation_error_names_the_endpoint_of_a_mounted_app() -> None:
    from wsapi.exceptions import ResponseValidationError

    sub = FastAPI()

    @sub.get("/items/{item_id}", response_model=Item)
    async def broken_item(item_id: int) -> dict[str, str]:
        return {"name": "no price"}

    app = FastAPI()
    app.mount("/shop", sub)
    with pytest.raises(ResponseValidationError) as raised:
        TestClient(app).get("/shop/items/1")
    line = broken_item.__code__.co_firstlineno
    assert f'File "{__file__}", line {line}, in broken_item\n    GET /shop/items/{{item_id}}' in str(raised.value)
