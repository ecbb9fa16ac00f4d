"""The flagship chat: rooms, presence, history on join, resume, and its bad input, in-process."""

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from wsapi import WebSocketDisconnect
from wsapi.testclient import TestClient, WebSocketTestSession

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat"


def load_chat() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flagship_chat", CHAT / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(load_chat().app) as client:  # the lifespan starts the channels hub
        yield client


def frames_until(ws: WebSocketTestSession, match: Any) -> list[dict[str, Any]]:
    """Frames received up to and including the first that `match` accepts."""
    seen = []
    while True:
        frame = ws.receive_message()
        seen.append(frame)
        if match(frame):
            return seen


def join(ws: WebSocketTestSession, room: str, since: str | None = None) -> dict[str, Any]:
    answer = ws.request("join", {"room": room, "since": since})
    assert answer["type"] == "join.reply", answer
    return answer


def messages(frames: list[dict[str, Any]]) -> list[str]:
    return [f"{f['data']['name']}: {f['data']['text']}" for f in frames if f["type"] == "message"]


def test_page_and_docs_are_served(client: TestClient) -> None:
    assert "wsapi chat" in client.get("/").text
    assert client.get("/static/app.js").status_code == 200
    document = client.get("/asyncapi.json").json()
    assert set(document["operations"]) >= {f"ws.receive.{type}" for type in ("join", "leave", "say", "rooms")}


def test_two_users_chat_in_a_room_and_see_each_other(client: TestClient) -> None:
    with client.websocket_connect("/ws?name=ada") as ada:
        assert join(ada, "lobby")["data"] == {"room": "lobby", "members": ["ada"]}
        with client.websocket_connect("/ws?name=bob") as bob:
            assert join(bob, "lobby")["data"]["members"] == ["ada", "bob"]
            frames_until(ada, lambda f: f["type"] == "join" and f["client"]["info"] == {"name": "bob"})
            assert bob.request("say", {"room": "lobby", "text": "hi ada"})["type"] == "ack"
            assert messages(frames_until(ada, lambda f: f["type"] == "message")) == ["bob: hi ada"]
            assert messages(frames_until(bob, lambda f: f["type"] == "message")) == ["bob: hi ada"]
        frames_until(ada, lambda f: f["type"] == "leave" and f["client"]["info"] == {"name": "bob"})
        rooms = ada.request("rooms")["data"]
        assert {"name": "lobby", "members": 1} in rooms


def test_a_newcomer_gets_the_recent_history(client: TestClient) -> None:
    with client.websocket_connect("/ws?name=ada") as ada:
        join(ada, "python")
        for n in range(3):
            ada.request("say", {"room": "python", "text": f"message {n}"})
    with client.websocket_connect("/ws?name=cy") as cy:
        join(cy, "python")
        history = frames_until(cy, lambda f: f["type"] == "message" and f["data"]["text"] == "message 2")
        assert messages(history) == ["ada: message 0", "ada: message 1", "ada: message 2"]


def test_resume_from_a_position_gets_exactly_what_was_missed(client: TestClient) -> None:
    with client.websocket_connect("/ws?name=ada") as ada:
        join(ada, "random")
        ada.request("say", {"room": "random", "text": "before"})
        seen = frames_until(ada, lambda f: f["type"] == "message")[-1]
    position = f"{seen['epoch']}:{seen['offset']}"
    with client.websocket_connect("/ws?name=bob") as bob:
        join(bob, "random")
        bob.request("say", {"room": "random", "text": "while ada was away"})
    with client.websocket_connect("/ws?name=ada") as ada:
        join(ada, "random", since=position)
        frames = frames_until(ada, lambda f: f["type"] == "message")
        subscribed = next(f for f in frames if f["type"] == "subscribed")
        assert subscribed["recovered"] is True
        assert messages(frames) == ["bob: while ada was away"]


@pytest.mark.parametrize("name", ["", "x" * 25, "<script>"])
def test_a_bad_name_is_refused_with_1008(client: TestClient, name: str) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(f"/ws?name={name}"):
        pass
    assert refused.value.code == 1008
    assert refused.value.reason.startswith("query.name")


def test_bad_requests_get_error_frames_and_the_connection_stays(client: TestClient) -> None:
    with client.websocket_connect("/ws?name=ada") as ada:
        not_joined = ada.request("say", {"room": "lobby", "text": "hello?"})
        assert not_joined["data"]["code"] == "not_joined"
        bad_room = ada.request("join", {"room": "Bad Room!"})
        assert bad_room["data"]["code"] == "validation_error"
        assert bad_room["data"]["errors"][0]["loc"] == ["data", "room"]
        too_long = ada.request("say", {"room": "lobby", "text": "x" * 2001})
        assert too_long["data"]["errors"][0]["type"] == "string_too_long"
        garbage = ada.request("join", {"room": "lobby", "since": "not-a-position"})
        assert garbage["data"]["code"] == "validation_error"
        assert join(ada, "lobby")["data"]["members"] == ["ada"]
