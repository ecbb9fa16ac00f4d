"""The typed chat example over a real uvicorn, spoken to with the `websockets` client library."""

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.servers import ROOT, uvicorn_server

TIMEOUT = 5


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with uvicorn_server("chat:app", app_dir=ROOT / "examples" / "messages") as port:
        yield f"127.0.0.1:{port}"


def receive(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.recv(timeout=TIMEOUT))
    return frame


def test_messages_are_broadcast_and_acknowledged(server: str) -> None:
    with connect(f"ws://{server}/chat?name=ann") as ann, connect(f"ws://{server}/chat?name=bo") as bo:
        ann.send(json.dumps({"type": "whois", "id": "w"}))
        assert receive(ann) == {"type": "whois.reply", "id": "w", "data": {"names": ["ann", "bo"]}}
        bo.send(json.dumps({"type": "say", "id": 1, "data": {"text": "hi"}}))
        assert receive(ann) == {"type": "said", "data": {"name": "bo", "text": "hi"}}
        assert receive(bo) == {"type": "said", "data": {"name": "bo", "text": "hi"}}
        assert receive(bo) == {"type": "ack", "id": 1}
    with connect(f"ws://{server}/chat?name=cy") as cy:
        # The disconnect hook takes ann and bo out; the server may see their close a moment after the clients do.
        deadline = time.monotonic() + TIMEOUT
        names = None
        while names != ["cy"] and time.monotonic() < deadline:
            cy.send(json.dumps({"type": "whois", "id": 1}))
            names = receive(cy)["data"]["names"]
        assert names == ["cy"]


def test_bad_frames_over_a_real_server(server: str) -> None:
    with connect(f"ws://{server}/chat?name=dee", max_size=None) as dee:
        dee.send(b"\x01\x02")
        assert receive(dee)["data"]["code"] == "unsupported_frame"
        dee.send(json.dumps({"type": "say", "id": 2, "data": {"text": "hi", "extra": 1}}))
        error = receive(dee)
        assert (error["id"], error["data"]["errors"][0]["type"]) == (2, "extra_forbidden")
        dee.send(json.dumps({"type": "say", "data": {"text": "x" * (1024 * 1024)}}))
        with pytest.raises(ConnectionClosed) as closed:
            dee.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1009, "Message larger than 1048576 bytes")


def test_a_taken_name_is_refused_with_1008(server: str) -> None:
    with connect(f"ws://{server}/chat?name=eve") as eve:
        with connect(f"ws://{server}/chat?name=eve") as impostor, pytest.raises(ConnectionClosed) as closed:
            impostor.recv(timeout=TIMEOUT)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "eve is already in the room")
        eve.send(json.dumps({"type": "whois", "id": 1}))
        assert receive(eve)["data"] == {"names": ["eve"]}
