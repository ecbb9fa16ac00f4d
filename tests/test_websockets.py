"""Plain routes: `receive_json` bounds nesting (1007, never 1011), a route's message-size limit closes with 1009, and
the `iter_*` loops end when the client leaves."""

from __future__ import annotations

import json

import pytest

from wsapi import WebSocket, WebSocketDisconnect, WsAPI
from wsapi.testclient import TestClient
from wsapi.websockets import MAX_JSON_DEPTH, parse_json


def json_app() -> WsAPI:
    app = WsAPI()

    @app.websocket("/json")
    async def echo_json(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_json(await websocket.receive_json())

    @app.websocket("/lenient")
    async def lenient(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            try:
                await websocket.send_json(await websocket.receive_json())
            except json.JSONDecodeError as exc:  # as an endpoint written for Starlette catches it
                await websocket.send_text(f"bad: {exc.msg} at {exc.pos}")

    @app.websocket("/small", max_message_size=1024)
    async def small(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_text(await websocket.receive_text())

    return app


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_receive_json_nested_too_deeply_closes_with_1007(depth: int) -> None:
    with TestClient(json_app()).websocket_connect("/json") as ws:
        ws.send_text("[" * depth + "]" * depth)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1007
        assert closed.value.reason.startswith("Invalid JSON: recursion limit exceeded")


def test_receive_json_parses_what_json_loads_does() -> None:
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    for text in ['{"a": 1, "a": 2}', "[1.5, -0, 1e400, null, true]", '"\\u00e9t\\u00e9"', nested, "123456789" * 9]:
        assert parse_json(text) == json.loads(text)
    # The echo endpoints receive until the client leaves: the disconnect escapes them, and the session raises it.
    with pytest.raises(WebSocketDisconnect), TestClient(json_app()).websocket_connect("/json") as ws:
        ws.send_text('{"text": "été", "n": [1, 2]}')
        assert ws.receive_json() == {"text": "été", "n": [1, 2]}


def test_a_json_error_is_a_json_decode_error_with_its_position() -> None:
    with pytest.raises(WebSocketDisconnect), TestClient(json_app()).websocket_connect("/lenient") as ws:
        ws.send_text('{"a" 1}')
        assert ws.receive_text() == "bad: expected `:` at 5"
        ws.send_text("\n[1,\n 2 3]")
        assert ws.receive_text() == "bad: expected `,` or `]` at 8"
        ws.send_text('{"still": "open"}')
        assert ws.receive_json() == {"still": "open"}


def test_a_plain_routes_message_size_limit_closes_with_1009() -> None:
    with pytest.raises(WebSocketDisconnect) as escaped, TestClient(json_app()).websocket_connect("/small") as ws:
        ws.send_text("é" * 512)  # 1024 bytes of UTF-8: at the limit
        assert ws.receive_text() == "é" * 512
        ws.send_text("é" * 513)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1009
        assert closed.value.reason == "Message larger than 1024 bytes"
    assert escaped.value.code == 1009  # what the endpoint's receive_text() raised


def loops_app(seen: list[object]) -> WsAPI:
    app = WsAPI()

    @app.websocket("/text")
    async def texts(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            seen.append(text)
            await websocket.send_text(text.upper())
        seen.append("loop ended")

    @app.websocket("/bytes")
    async def blobs(websocket: WebSocket) -> None:
        await websocket.accept()
        async for data in websocket.iter_bytes():
            seen.append(data)
        seen.append("loop ended")

    @app.websocket("/json")
    async def documents(websocket: WebSocket) -> None:
        await websocket.accept()
        async for document in websocket.iter_json():
            await websocket.send_json({"got": document})

    @app.websocket("/early")
    async def early(websocket: WebSocket) -> None:
        try:
            async for _ in websocket.iter_text():
                pass
        except RuntimeError as exc:
            seen.append(str(exc))
        await websocket.close(1000)

    return app


def test_the_iter_loops_yield_each_message_and_end_quietly_when_the_client_leaves() -> None:
    seen: list[object] = []
    client = TestClient(loops_app(seen))
    with client.websocket_connect("/text") as ws:
        for text in ("a", "été", ""):
            ws.send_text(text)
            assert ws.receive_text() == text.upper()
    with client.websocket_connect("/bytes") as ws:
        ws.send_bytes(b"\x00\xff")
        ws.send_bytes(b"")
    # The session ends with no WebSocketDisconnect escaping: the loops ended, and the code after them ran.
    assert seen == ["a", "été", "", "loop ended", b"\x00\xff", b"", "loop ended"]


def test_iter_json_parses_as_receive_json_does() -> None:
    with TestClient(loops_app([])).websocket_connect("/json") as ws:
        ws.send_text('{"n": [1, 2]}')
        assert ws.receive_json() == {"got": {"n": [1, 2]}}
        ws.send_text("[" * (MAX_JSON_DEPTH + 1))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1007


def test_an_iter_loop_before_accept_says_so() -> None:
    seen: list[object] = []
    with pytest.raises(WebSocketDisconnect), TestClient(loops_app(seen)).websocket_connect("/early"):
        pass
    assert seen == ['WebSocket is not connected. Need to call "accept" first.']
