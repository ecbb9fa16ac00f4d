"""The frame models are the frames: what both backends really send parses into them strictly, and back unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from tests.channels.channels_app import create_app
from tests.channels.support import MakeBackend
from wsapi.channels import JoinFrame, LeaveFrame, MessageFrame, SubscribedFrame
from wsapi.testclient import TestClient, WebSocketTestSession

MODELS: dict[str, type[BaseModel]] = {
    "subscribed": SubscribedFrame,
    "message": MessageFrame,
    "join": JoinFrame,
    "leave": LeaveFrame,
}


@pytest.fixture
def client(make_backend: MakeBackend) -> Iterator[TestClient]:
    with TestClient(create_app(make_backend())) as client:
        yield client


def frames(ws: WebSocketTestSession, count: int) -> list[str]:
    return [ws.receive_text() for _ in range(count)]


def test_every_frame_a_client_receives_is_its_model(client: TestClient) -> None:
    with client.websocket_connect("/ws/room?name=ada") as ada:
        received = frames(ada, 2)  # subscribed, ada's join
        with client.websocket_connect("/ws/room?name=bob") as bob:
            received += frames(ada, 1)  # bob's join
            bob.send_text('quotes " and ünïcode')
            client.post("/publish/room", json={"n": [1, 2.5, None, True]})
            received += frames(ada, 2)
        received += frames(ada, 1)  # bob's leave
    last = json.loads(received[-2])
    with client.websocket_connect(f"/ws/room?since={last['epoch']}:{last['offset'] - 1}") as again:
        received += frames(again, 2)  # recovered, then the message it missed
    with client.websocket_connect("/ws/room?since=abc:1") as stale:
        received += frames(stale, 1)  # not recovered

    kinds = [json.loads(text)["type"] for text in received]
    assert kinds == ["subscribed", "join", "join", "message", "message", "leave", "subscribed", "message", "subscribed"]
    for text in received:
        frame = json.loads(text)
        parsed = MODELS[frame["type"]].model_validate_json(text, strict=True)
        assert parsed.model_dump(mode="json") == frame
    assert [json.loads(text)["recovered"] for text in received if '"subscribed"' in text] == [False, True, False]
