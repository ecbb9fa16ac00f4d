"""The FastAPI WebSockets guide's examples, run on wsapi with only their imports changed."""

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from wsapi import WebSocketDisconnect
from wsapi.testclient import TestClient

GUIDE = Path(__file__).resolve().parents[2] / "examples" / "guide"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"guide_{name}", GUIDE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["tutorial001", "tutorial002", "tutorial002_an", "tutorial003"])
def test_examples_only_import_from_wsapi(name: str) -> None:
    source = (GUIDE / f"{name}.py").read_text()
    imports = re.findall(r"^(?:from|import) (\S+)", source, flags=re.MULTILINE)
    assert all(module == "typing" or module.startswith("wsapi") for module in imports), imports


def test_tutorial001_serves_the_page_and_echoes() -> None:
    client = TestClient(load("tutorial001").app)
    page = client.get("/")
    assert page.status_code == 200
    assert 'new WebSocket("ws://localhost:8000/ws")' in page.text
    # The endpoint receives until the client leaves: the disconnect escapes it, and the session raises it.
    with pytest.raises(WebSocketDisconnect) as left, client.websocket_connect("/ws") as ws:
        for text in ("Hello", "World"):
            ws.send_text(text)
            assert ws.receive_text() == f"Message text was: {text}"
    assert left.value.code == 1000


TUTORIAL002 = ["tutorial002", "tutorial002_an"]  # the guide's 2020 version, and today's with Annotated


@pytest.mark.parametrize("name", TUTORIAL002)
def test_tutorial002_with_cookie_token_and_query(name: str) -> None:
    client = TestClient(load(name).app)
    assert "Item ID" in client.get("/").text
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/items/foo/ws?token=some-token&q=3") as ws:
        ws.send_text("Hi")
        assert ws.receive_text() == "Session cookie or query token value is: some-token"
        assert ws.receive_text() == "Query parameter q is: 3"
        assert ws.receive_text() == "Message text was: Hi, for item ID: foo"
    client.cookies.set("session", "fakesession")
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/items/bar/ws") as ws:
        ws.send_text("Hi")
        assert ws.receive_text() == "Session cookie or query token value is: fakesession"
        assert ws.receive_text() == "Message text was: Hi, for item ID: bar"


@pytest.mark.parametrize("name", TUTORIAL002)
def test_tutorial002_without_credentials_is_closed_with_1008(name: str) -> None:
    client = TestClient(load(name).app)
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/items/foo/ws"):
        pytest.fail("the connection must be refused")
    assert refused.value.code == 1008


@pytest.mark.parametrize("name", TUTORIAL002)
def test_tutorial002_with_a_q_that_is_not_an_int_is_closed_with_1008(name: str) -> None:
    client = TestClient(load(name).app)
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/items/foo/ws?token=t&q=x"):
        pass
    assert refused.value.code == 1008
    assert refused.value.reason.startswith("query.q: Input should be a valid integer")


def test_tutorial003_broadcasts_and_announces_who_left() -> None:
    # One event loop for both connections (`with TestClient`): the example's manager sends across connections, which
    # the test client cannot do safely when each connection runs in its own loop and thread.
    with (
        TestClient(load("tutorial003").app) as client,
        client.websocket_connect("/ws/1234") as first,
        client.websocket_connect("/ws/5678") as second,
    ):
        first.send_text("Hello from 1234")
        assert first.receive_text() == "You wrote: Hello from 1234"
        assert first.receive_text() == "Client #1234 says: Hello from 1234"
        assert second.receive_text() == "Client #1234 says: Hello from 1234"
        second.close()
        assert first.receive_text() == "Client #5678 left the chat"
