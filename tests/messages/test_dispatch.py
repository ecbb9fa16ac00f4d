"""Typed messages end to end through the test client: routing, replies, dependencies, hooks."""

from __future__ import annotations

import pytest

from tests.messages.conftest import Recorder
from wsapi import MessageRouter, WebSocketDisconnect, WsAPI, status
from wsapi.testclient import TestClient


def test_reply_carries_the_request_id_and_the_return_value(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_message("echo", {"text": "ab", "times": 2}, id=7)
        assert ws.receive_message() == {"type": "echo.reply", "id": 7, "data": {"text": "abab"}}
        ws.send_message("echo", {"text": "x"}, id="req-1")
        assert ws.receive_message() == {"type": "echo.reply", "id": "req-1", "data": {"text": "x"}}


def test_a_request_without_id_gets_a_reply_without_id(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_message("echo", {"text": "a"})
        assert ws.receive_message() == {"type": "echo.reply", "data": {"text": "a"}}


def test_a_handler_returning_nothing_acks_requests_with_an_id_only(client: TestClient, recorder: Recorder) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_message("note", "quiet")  # no id: nothing comes back
        ws.send_message("note", "loud", id=3)
        assert ws.receive_message() == {"type": "ack", "id": 3}
    assert "note quiet" in recorder.events and "note loud" in recorder.events


def test_message_parameters_of_every_kind(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        assert ws.request("shape", {"kind": "square", "side": 2})["data"] == "square"
        assert ws.request("short", "ab")["data"] == "ab"
        assert ws.request("short")["data"] == "abc"  # the parameter's default when `data` is left out
        assert ws.request("strict", {"name": "bo"})["data"] == "bo"
        assert ws.request("socket")["data"] == "/ws"
        assert ws.request("join", {"room": "lobby"})["data"] == "lobby"  # a dependency reading the message


def test_sync_handlers_run_in_the_thread_pool(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        assert ws.request("sync")["data"] == "thread pool"


def test_connection_dependencies_are_solved_once_and_shared(client: TestClient, recorder: Recorder) -> None:
    with client.websocket_connect("/ws?user=bo") as ws:
        for _ in range(3):
            assert ws.request("whoami")["data"] == "bo"
    assert recorder.users_solved == 1


def test_per_message_yield_dependencies_close_before_the_reply(client: TestClient, recorder: Recorder) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.request("whoami")
        assert recorder.events[-3:] == ["session open", "handler session", "session closed"]
        ws.request("whoami")
        assert recorder.events[-3:] == ["session open", "handler session", "session closed"]


def test_hooks_run_around_the_connection_with_its_dependencies(client: TestClient, recorder: Recorder) -> None:
    with client.websocket_connect("/ws?user=cy") as ws:
        ws.request("echo", {"text": "a"})
    assert recorder.events[0] == "connect cy"
    assert recorder.events[-1] == "disconnect cy"


def test_the_connect_hook_refuses_with_its_close_code(client: TestClient, recorder: Recorder) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws?user=mallory"):
        pass  # pragma: no cover
    assert (refused.value.code, refused.value.reason) == (4003, "not you")
    assert not any(event.startswith("disconnect") for event in recorder.events)  # never connected


def test_dependency_overrides_apply_per_message(recorded: tuple[WsAPI, Recorder]) -> None:
    app, recorder = recorded

    async def fake_session() -> str:
        return "fake"

    app.dependency_overrides[recorder.dependencies["session"]] = fake_session
    with TestClient(app) as test_client, test_client.websocket_connect("/ws") as ws:
        assert ws.request("whoami")["data"] == "ann"
    assert "handler fake" in recorder.events


def test_the_route_is_named_after_its_path(client: TestClient) -> None:
    assert client.app.url_path_for("ws") == "/ws"  # type: ignore[attr-defined]


def test_a_connect_hook_that_raises_closes_with_1011() -> None:
    router = MessageRouter()

    @router.on_connect
    async def broken() -> None:
        raise RuntimeError("no database")

    app = WsAPI()
    app.add_api_websocket_route("/ws", router)
    with TestClient(app) as client, pytest.raises(RuntimeError, match="no database"), client.websocket_connect("/ws"):
        pass  # pragma: no cover
    quiet = TestClient(app, raise_server_exceptions=False)
    with pytest.raises(WebSocketDisconnect) as closed, quiet.websocket_connect("/ws"):
        pass  # pragma: no cover
    assert closed.value.code == status.WS_1011_INTERNAL_ERROR
