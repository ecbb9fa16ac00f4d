"""Channels through the app: `WsAPI(channels=...)`, `ChannelsDep`, WebSocket subscriptions, refusals and close codes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.channels.channels_app import create_app
from tests.channels.support import MakeBackend
from wsapi import WebSocket, WebSocketDisconnect, WsAPI, status
from wsapi.channels import Channels, ChannelsDep
from wsapi.testclient import TestClient, WebSocketTestSession


@pytest.fixture
def client(make_backend: MakeBackend) -> Iterator[TestClient]:
    with TestClient(create_app(make_backend(history_size=10))) as client:
        yield client


def messages(ws: WebSocketTestSession, count: int) -> list[Any]:
    """The data of the next `count` message frames, skipping presence events."""
    found = []
    while len(found) < count:
        frame = ws.receive_json()
        if frame["type"] == "message":
            found.append(frame["data"])
    return found


def test_subscribe_publish_from_http_and_from_a_websocket(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as first, client.websocket_connect("/ws/chat") as second:
        assert first.receive_json()["type"] == "subscribed"
        assert second.receive_json()["type"] == "subscribed"
        position = client.post("/publish/chat", json={"from": "http"}).json()
        assert position.endswith(":1")
        first.send_text("from a websocket")
        for ws in (first, second):
            assert messages(ws, 2) == [{"from": "http"}, "from a websocket"]


def test_reconnect_with_the_last_position_gets_exactly_the_missed_messages(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        client.post("/publish/chat", json="one")
        last = ws.receive_json()
    for text in ("two", "three"):
        client.post("/publish/chat", json=text)
    with client.websocket_connect(f"/ws/chat?since={last['epoch']}:{last['offset']}") as ws:
        subscribed = ws.receive_json()
        assert (subscribed["recovered"], subscribed["offset"]) == (True, 1)
        assert [ws.receive_json()["data"] for _ in range(2)] == ["two", "three"]


def test_a_position_older_than_history_gets_the_not_recoverable_answer(client: TestClient) -> None:
    first = client.post("/publish/chat", json=0).json()
    for n in range(1, 15):  # history keeps 10
        client.post("/publish/chat", json=n)
    with client.websocket_connect(f"/ws/chat?since={first}") as ws:
        subscribed = ws.receive_json()
        assert subscribed["type"] == "subscribed"
        assert (subscribed["recovered"], subscribed["offset"]) == (False, 15)
        client.post("/publish/chat", json="live")
        assert messages(ws, 1) == ["live"]


def until_message(ws: WebSocketTestSession) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The `subscribed` frames before the next message frame, and that message frame."""
    subscribed = []
    while (frame := ws.receive_json())["type"] != "message":
        subscribed.append(frame)
    return subscribed, frame


@pytest.mark.parametrize("kept_open", [False, True], ids=["closed", "kept open"])
def test_history_expired_twice_before_a_message_loses_nothing_after_recovered_false(
    make_backend: MakeBackend, kept_open: bool
) -> None:
    """The channel's history expires, a read starts a new epoch, that expires too before anything is published: a
    client resuming from an old position is told `recovered: false`, and the next message reaches it, a client new to
    the channel (and one subscribed all along, keeping the channel open), once, at the position its publish returned.
    """
    ttl = 0.5
    with TestClient(create_app(make_backend(history_ttl=ttl))) as client, ExitStack() as stack:
        subscribers = [stack.enter_context(client.websocket_connect("/ws/room"))] if kept_open else []
        for ws in subscribers:
            ws.receive_json()
        since = client.post("/publish/room", json="one").json()
        client.post("/publish/room", json="two")
        for ws in subscribers:
            assert messages(ws, 2) == ["one", "two"]
        time.sleep(2 * ttl)
        with client.websocket_connect(f"/ws/room?since={since}") as ws:  # reads the expired channel: a new epoch
            assert ws.receive_json()["recovered"] is False
        time.sleep(2 * ttl)  # that epoch expires too, never published to
        resumed = stack.enter_context(client.websocket_connect(f"/ws/room?since={since}"))
        told = resumed.receive_json()
        assert (told["type"], told["recovered"]) == ("subscribed", False)
        new = stack.enter_context(client.websocket_connect("/ws/room"))
        assert new.receive_json()["type"] == "subscribed"
        position = client.post("/publish/room", json="next").json()
        client.post("/publish/room", json="after")
        for ws in [*subscribers, resumed, new]:
            _, message = until_message(ws)
            assert (f"{message['epoch']}:{message['offset']}", message["data"]) == (position, "next")
            assert until_message(ws) == ([], {**message, "offset": message["offset"] + 1, "data": "after"})


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/ws/has%20space", "invalid channel name 'has space'"),
        ("/ws/private-room", "channel refused: 'private-room'"),
    ],
)
def test_a_refused_subscription_closes_with_1008_and_says_why(client: TestClient, path: str, reason: str) -> None:
    with client.websocket_connect(path) as ws, pytest.raises(WebSocketDisconnect) as refused:
        ws.receive_json()
    assert (refused.value.code, refused.value.reason) == (status.WS_1008_POLICY_VIOLATION, reason)


@pytest.mark.parametrize("since", ["garbage", "abc", "abc:", ":12", "xyz:1", "abc:-1", "abc:1:2"])
def test_a_garbage_resume_position_refuses_the_handshake_with_1008(client: TestClient, since: str) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(f"/ws/chat?since={since}"):
        pass
    assert refused.value.code == status.WS_1008_POLICY_VIOLATION
    assert refused.value.reason.startswith("query.since: Value error, invalid position")


def test_presence_lists_members_and_sends_join_and_leave(client: TestClient) -> None:
    with client.websocket_connect("/ws/room?name=ada") as ada:
        assert ada.receive_json()["type"] == "subscribed"
        joined = ada.receive_json()
        assert (joined["type"], joined["client"]["info"]) == ("join", {"name": "ada"})
        with client.websocket_connect("/ws/room?name=bob") as bob:
            bob.receive_json()
            bob_joined = ada.receive_json()
            assert (bob_joined["type"], bob_joined["client"]["info"]) == ("join", {"name": "bob"})
            members = client.get("/presence/room").json()
            assert sorted(m["info"]["name"] for m in members) == ["ada", "bob"]
        left = ada.receive_json()
        assert (left["type"], left["client"]) == ("leave", bob_joined["client"])
        assert [m["info"] for m in client.get("/presence/room").json()] == [{"name": "ada"}]


def test_one_connection_joins_and_leaves_several_channels(client: TestClient) -> None:
    with client.websocket_connect("/multi") as ws:
        for command in ("+a", "+b"):
            ws.send_text(command)
            # The ack is sent by the handler, the subscribed frame by the subscription's writer: either may be first.
            replies = sorted((ws.receive_json(), ws.receive_json()), key=lambda frame: frame["type"])
            assert [reply["type"] for reply in replies] == ["ack", "subscribed"]
            assert (replies[0]["command"], replies[1]["channel"]) == (command, command[1:])
        client.post("/publish/a", json="to a")
        client.post("/publish/b", json="to b")
        assert messages(ws, 2) == ["to a", "to b"]
        ws.send_text("-a")
        assert ws.receive_json() == {"type": "ack", "command": "-a"}
        client.post("/publish/a", json="unheard")
        client.post("/publish/b", json="heard")
        assert messages(ws, 1) == ["heard"]


def test_a_handler_iterates_a_channel(client: TestClient) -> None:
    with client.websocket_connect("/relay/feed") as ws, client.websocket_connect("/ws/feed") as probe:
        probe.receive_json()  # once the probe is in, the relay (connected first) is too
        client.post("/publish/feed", json={"price": 1})
        assert ws.receive_json() == {"price": 1}


def test_stopping_the_hub_closes_subscribed_websockets_with_1012(make_backend: MakeBackend) -> None:
    app = create_app(make_backend())
    with TestClient(app) as client, client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        client.post("/publish/chat", json="before shutdown")
        assert app.channels is not None
        ws.portal.call(app.channels.stop)
        assert messages(ws, 1) == ["before shutdown"]  # queued frames go out first
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert (closed.value.code, closed.value.reason) == (
            status.WS_1012_SERVICE_RESTART,
            "server restarting: reconnect",
        )


def test_the_dependency_without_a_hub_on_the_app_fails_clearly() -> None:
    app = WsAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, hub: ChannelsDep) -> None:
        await websocket.accept()

    message = r"this app has no channels hub: create it with WsAPI\(channels=Channels\(...\)\)"
    with TestClient(app) as client, pytest.raises(RuntimeError, match=message), client.websocket_connect("/ws"):
        pass
    quiet = TestClient(app, raise_server_exceptions=False)
    with pytest.raises(WebSocketDisconnect) as closed, quiet.websocket_connect("/ws"):
        pass
    assert closed.value.code == status.WS_1011_INTERNAL_ERROR


def test_a_test_client_without_with_says_to_start_the_hub() -> None:
    app = WsAPI(channels=Channels())

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, hub: ChannelsDep) -> None:
        await websocket.accept()
        await hub.publish("room", "hi")

    not_running = r"hub is not running.*`with TestClient\(app\)`"
    with pytest.raises(RuntimeError, match=not_running), TestClient(app).websocket_connect("/ws"):
        pass


def test_the_hub_runs_around_the_users_lifespan() -> None:
    from contextlib import asynccontextmanager

    seen: list[bool] = []
    hub = Channels()

    @asynccontextmanager
    async def lifespan(app: WsAPI) -> Any:
        seen.append(hub.running)
        await hub.publish("boot", "published at startup")
        yield
        seen.append(hub.running)

    with TestClient(WsAPI(channels=hub, lifespan=lifespan)):
        pass
    assert seen == [True, True]
    assert not hub.running
