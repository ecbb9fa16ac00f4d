"""Class-based WebSocket endpoints: encodings, bad frames (1003), errors (1011), on_disconnect."""

from typing import Any

import pytest

from wsapi import FastAPI, WebSocket, WebSocketDisconnect, WebSocketEndpoint
from wsapi.testclient import TestClient

disconnects: list[int] = []


class Base(WebSocketEndpoint):
    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        if data == {"fail": True} or data == "fail":
            raise RuntimeError("handler failed")
        await websocket.send_json({"got": data if not isinstance(data, bytes) else data.hex()})

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        disconnects.append(close_code)


class TextEndpoint(Base):
    encoding = "text"


class BytesEndpoint(Base):
    encoding = "bytes"


class JSONEndpoint(Base):
    encoding = "json"


@pytest.fixture
def client() -> TestClient:
    disconnects.clear()
    app = FastAPI()
    app.add_api_websocket_route("/text", TextEndpoint)
    app.add_api_websocket_route("/bytes", BytesEndpoint)
    app.add_api_websocket_route("/json", JSONEndpoint)
    return TestClient(app)


def test_each_encoding_decodes_its_frames(client: TestClient) -> None:
    with client.websocket_connect("/text") as ws:
        ws.send_text("hi")
        assert ws.receive_json() == {"got": "hi"}
    with client.websocket_connect("/bytes") as ws:
        ws.send_bytes(b"\x01\x02")
        assert ws.receive_json() == {"got": "0102"}
    with client.websocket_connect("/json") as ws:
        ws.send_json({"a": [1]})
        assert ws.receive_json() == {"got": {"a": [1]}}
        ws.send_json({"b": 2}, mode="binary")
        assert ws.receive_json() == {"got": {"b": 2}}
    assert disconnects == [1000, 1000, 1000]


@pytest.mark.parametrize(
    ("path", "send", "reason"),
    [
        ("/text", lambda ws: ws.send_bytes(b"x"), "Expected a text frame, got a binary frame"),
        ("/bytes", lambda ws: ws.send_text("x"), "Expected a binary frame, got a text frame"),
        ("/json", lambda ws: ws.send_text("{nope"), "Malformed JSON"),
        ("/json", lambda ws: ws.send_bytes(b"\xff\xfe"), "Malformed JSON"),
        ("/json", lambda ws: ws.send_text("[" * 100_000), "Malformed JSON"),  # too deep: never a 1011
    ],
)
def test_wrong_frame_type_or_bad_json_closes_with_1003(client: TestClient, path: str, send: Any, reason: str) -> None:
    with client.websocket_connect(path) as ws:
        send(ws)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1003, reason)
    assert disconnects == [1003]


def test_handler_exception_closes_with_1011_and_propagates(client: TestClient) -> None:
    with pytest.raises(RuntimeError), client.websocket_connect("/text") as ws:
        ws.send_text("fail")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1011
    assert disconnects == [1011]


def test_an_encoding_that_does_not_exist_is_refused_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="encoding"):

        class Broken(WebSocketEndpoint):
            encoding = "xml"


def test_client_close_code_reaches_on_disconnect(client: TestClient) -> None:
    with client.websocket_connect("/text") as ws:
        ws.close(4000)
    assert disconnects == [4000]


def test_a_handler_exception_goes_to_the_apps_exception_handler_first() -> None:
    class Refused(Exception):
        pass

    class Picky(WebSocketEndpoint):
        encoding = "text"

        async def on_receive(self, websocket: WebSocket, data: str) -> None:
            raise Refused(data)

    async def close_politely(websocket: WebSocket, exc: Exception) -> None:
        await websocket.close(4000, f"refused {exc}")

    app = FastAPI(exception_handlers={Refused: close_politely})
    app.add_api_websocket_route("/picky", Picky)
    with TestClient(app).websocket_connect("/picky") as ws:
        ws.send_text("this")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (4000, "refused this")
