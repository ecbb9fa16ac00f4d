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
    """Subscribe to the room's channel as the page does: from `since`, else with the last 50 messages."""
    request = {"channel": f"room:{room}", **({"since": since} if since else {"history": 50})}
    answer = ws.request("subscribe", request)
    assert answer["type"] == "subscribe.reply", answer
    return answer


def names(answer: dict[str, Any]) -> list[str]:
    return sorted(member["info"]["name"] for member in answer["data"]["members"])


def messages(frames: list[dict[str, Any]]) -> list[str]:
    return [f"{f['data']['name']}: {f['data']['text']}" for f in frames if f["type"] == "message"]


def test_page_and_docs_are_served(client: TestClient) -> None:
    assert "wsapi chat" in client.get("/").text
    assert client.get("/static/app.js").status_code == 200
    bundle = client.get("/client/index.js")
    assert bundle.status_code == 200, "the TypeScript client is built by `make client-ts`"
    assert "Client," in bundle.text.rpartition("export {")[2]  # the ES module exports the client
    icon = client.get("/favicon.ico")
    assert (icon.status_code, icon.headers["content-type"]) == (200, "image/svg+xml")
    document = client.get("/asyncapi.json").json()
    types = ("subscribe", "unsubscribe", "presence", "say", "rooms")
    assert set(document["operations"]) >= {f"ws.receive.{type}" for type in types}
    assert "ws.receive.publish" not in document["operations"]  # people speak through `say`


def test_two_users_chat_in_a_room_and_see_each_other(client: TestClient) -> None:
    with client.websocket_connect("/ws?name=ada") as ada:
        assert names(join(ada, "lobby")) == ["ada"]
        with client.websocket_connect("/ws?name=bob") as bob:
            assert names(join(bob, "lobby")) == ["ada", "bob"]
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
        bad_room = ada.request("subscribe", {"channel": "room:Bad Room!"})
        assert bad_room["data"]["code"] == "validation_error"
        assert bad_room["data"]["errors"][0]["loc"] == ["data", "channel"]
        for channel in ("room:UPPER", "lobby", "private:x"):  # well-formed channels, but no room's
            refused = ada.request("subscribe", {"channel": channel})
            assert refused["data"] == {"code": "channel_refused", "message": f"channel refused: {channel!r}"}
        too_long = ada.request("say", {"room": "lobby", "text": "x" * 2001})
        assert too_long["data"]["errors"][0]["type"] == "string_too_long"
        garbage = ada.request("subscribe", {"channel": "room:lobby", "since": "not-a-position"})
        assert garbage["data"]["code"] == "validation_error"
        assert ada.request("publish", {"channel": "room:lobby", "data": "x"})["data"]["code"] == "unknown_type"
        assert names(join(ada, "lobby")) == ["ada"]
