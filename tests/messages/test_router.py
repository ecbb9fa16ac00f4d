"""Declaring messages: server messages and their validation in debug mode, and mistakes caught at registration."""

import logging
from collections.abc import AsyncIterator
from typing import Annotated

import pytest
from pydantic import BaseModel

from tests.messages.conftest import Notice, build_app
from wsapi import APIRouter, MessageRouter, Query, WebSocket, WsAPI
from wsapi.testclient import TestClient


def test_declared_server_messages_are_sent_without_id() -> None:
    app, _ = build_app()
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_message("notify", "hello", id=1)
        assert ws.receive_message() == {"type": "notice", "data": {"text": "hello"}}
        assert ws.receive_message() == {"type": "ack", "id": 1}


def test_debug_mode_validates_server_messages_on_the_way_out(caplog: pytest.LogCaptureFixture) -> None:
    app, _ = build_app(debug=True)
    with TestClient(app) as client, client.websocket_connect("/ws") as ws, caplog.at_level(logging.ERROR, "wsapi"):
        assert ws.request("notify", "fine") == {"type": "ack", "id": 1}
        assert ws.receive_message()["type"] == "notice"  # it came first, and was put aside
        assert ws.request("notify", "")["data"]["code"] == "internal_error"  # {"wrong": 1} is not a Notice
    assert any("notify" in record.getMessage() for record in caplog.records)


def test_debug_mode_validates_replies_against_the_return_annotation() -> None:
    app, _ = build_app(debug=True)
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.request("echo_dict", {"text": "a"})["data"] == {"text": "a"}
        assert ws.request("echo_dict", {"text": "a", "times": 0})["data"]["code"] == "internal_error"


def test_sending_an_undeclared_message_is_a_programming_error() -> None:
    router = MessageRouter()

    @router.on("go")
    async def go(websocket: WebSocket) -> None:
        await router.send(websocket, "undeclared", {})

    app = WsAPI()
    app.add_api_websocket_route("/ws", router)
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.request("go")["data"]["code"] == "internal_error"


def test_a_message_router_works_under_an_included_router_prefix() -> None:
    router = MessageRouter()

    @router.on("ping")
    async def ping() -> str:
        return "pong"

    api = APIRouter(prefix="/api")
    api.add_api_websocket_route("/ws", router)
    app = WsAPI()
    app.include_router(api, prefix="/v1")
    with TestClient(app) as client, client.websocket_connect("/v1/api/ws") as ws:
        assert ws.request("ping") == {"type": "ping.reply", "id": 1, "data": "pong"}
    assert app.url_path_for("api_ws") == "/v1/api/ws"


class Payload(BaseModel):
    n: int


def mount(router: MessageRouter, path: str = "/ws") -> None:
    WsAPI().add_api_websocket_route(path, router)


def test_a_type_has_one_handler() -> None:
    router = MessageRouter()
    router.on("a")(lambda: None)
    with pytest.raises(ValueError, match="already has a handler"):
        router.on("a")(lambda: None)


def test_a_handler_takes_one_message_parameter() -> None:
    router = MessageRouter()

    @router.on("two")
    async def two(a: Payload, b: Payload) -> None: ...

    with pytest.raises(TypeError, match="one message parameter"):
        mount(router)


def test_handshake_parameters_belong_in_dependencies() -> None:
    router = MessageRouter()

    @router.on("q")
    async def q(message: Payload, token: Annotated[str, Query()]) -> None: ...

    with pytest.raises(TypeError, match="read the handshake"):
        mount(router)


def test_a_handler_is_not_a_generator() -> None:
    router = MessageRouter()

    @router.on("stream")
    async def stream() -> AsyncIterator[int]:
        yield 1

    with pytest.raises(TypeError, match="not a generator"):
        mount(router)


@pytest.mark.parametrize("name", ["ack", "error", "say.reply"])
def test_reserved_server_message_types(name: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        MessageRouter().sends(name, Notice)
