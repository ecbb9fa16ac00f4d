"""examples/channels_chat: the guide's chat page, one room across processes, history on join, resume."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.browser import async_chromium, requires_chromium
from tests.channels.support import RedisServer, ServerProcess
from wsapi.testclient import TestClient, WebSocketTestSession

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "channels_chat"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("channels_chat_app", EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chat_lines(ws: WebSocketTestSession, count: int) -> list[str]:
    """What the page would show next: the data of message and echo frames."""
    lines: list[str] = []
    while len(lines) < count:
        frame = ws.receive_json()
        if frame["type"] in ("message", "echo"):
            lines.append(frame["data"])
    return lines


def test_the_page_and_the_room_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    with TestClient(load_example().app) as client:
        assert "<h1>WebSocket Chat</h1>" in client.get("/").text
        with client.websocket_connect("/ws/1") as one:
            assert one.receive_json()["type"] == "subscribed"
            one.send_text("hi")
            assert sorted(chat_lines(one, 2)) == ["Client #1 says: hi", "You wrote: hi"]
            with client.websocket_connect("/ws/2") as two:
                subscribed = two.receive_json()
                assert (subscribed["recovered"], subscribed["offset"]) == (True, 0)
                assert chat_lines(two, 1) == ["Client #1 says: hi"]  # history on join
            assert chat_lines(one, 1) == ["Client #2 left the chat"]


async def frame(ws: ClientConnection) -> dict[str, Any]:
    received: dict[str, Any] = json.loads(await ws.recv())
    return received


async def messages(ws: ClientConnection, count: int) -> list[Any]:
    found = []
    while len(found) < count:
        received = await frame(ws)
        if received["type"] == "message":
            found.append(received)
    return found


async def test_one_room_across_uvicorn_processes_through_redis(redis_server: RedisServer) -> None:
    servers = [ServerProcess({"REDIS_URL": redis_server.url}, app="app:app", app_dir=EXAMPLE) for _ in range(2)]
    try:
        for server in servers:
            server.wait()
        a, b = servers
        async with connect(f"{a.ws}/ws/1", proxy=None) as one, connect(f"{b.ws}/ws/2", proxy=None) as two:
            await frame(one)
            await frame(two)
            await one.send("hello from a")
            assert [m["data"] for m in await messages(two, 1)] == ["Client #1 says: hello from a"]
            seen = (await messages(one, 1))[0]
            await two.send("hello from b")
            assert [m["data"] for m in await messages(one, 1)] == ["Client #2 says: hello from b"]

            async with connect(f"{b.ws}/ws/3", proxy=None) as newcomer:
                await frame(newcomer)
                assert [m["data"] for m in await messages(newcomer, 2)] == [
                    "Client #1 says: hello from a",
                    "Client #2 says: hello from b",
                ]
            # Client 1 reconnects to the other process from where it was: it gets exactly what followed.
            async with connect(f"{b.ws}/ws/1?since={seen['epoch']}:{seen['offset']}", proxy=None) as again:
                assert (await frame(again))["recovered"] is True
                assert [m["data"] for m in await messages(again, 2)] == [
                    "Client #2 says: hello from b",
                    "Client #3 left the chat",
                ]
        async with httpx2.AsyncClient() as http:
            assert "WebSocket Chat" in (await http.get(f"{a.http}/")).text
    finally:
        for server in servers:
            server.kill()


LINES = "[...document.querySelectorAll('#messages li')].map(li => li.textContent)"


def say(text: str) -> str:
    """Type `text` into the page's form and press Send."""
    fill = f"document.querySelector('#messageText').value = {json.dumps(text)}"
    return f"{fill}; document.querySelector('button').click()"


@requires_chromium
async def test_the_page_in_a_browser_resumes_after_its_server_restarts(redis_server: RedisServer) -> None:
    """The page's own JavaScript: history on join; and when the server it talks to is killed and restarted, the
    messages published meanwhile (through another process) show up once, in order, without reloading the page."""
    env = {"REDIS_URL": redis_server.url}
    servers = [ServerProcess(env, app="app:app", app_dir=EXAMPLE) for _ in range(2)]
    try:
        for server in servers:
            server.wait()
        first, other = servers
        async with async_chromium() as browser:
            ada = await browser.new_page()
            await ada.goto(f"{first.http}/")
            await ada.wait_for_function("typeof since === 'string'")  # subscribed
            ada_id = await ada.evaluate("client_id")
            await ada.evaluate(say("first"))
            await ada.wait_for_function(f"{LINES}.includes('Client #{ada_id} says: first')")

            newcomer = await browser.new_page()
            await newcomer.goto(f"{other.http}/")
            await newcomer.wait_for_function(f"{LINES}.includes('Client #{ada_id} says: first')")  # history on join

            first.kill()
            async with connect(f"{other.ws}/ws/99", proxy=None) as bob:
                await frame(bob)
                await bob.send("while you were away")
                while (await frame(bob)).get("data") != "Client #99 says: while you were away":
                    pass  # history on join first, then its own message
            servers.append(ServerProcess(env, app="app:app", app_dir=EXAMPLE, port=first.port))
            servers[-1].wait()

            await ada.wait_for_function(f"{LINES}.includes('Client #99 left the chat')", timeout=15_000)
            lines = await ada.evaluate(LINES)
            assert sorted(lines[:2]) == [f"Client #{ada_id} says: first", "You wrote: first"]
            assert lines[2:] == ["Client #99 says: while you were away", "Client #99 left the chat"]
    finally:
        for server in servers:
            server.kill()
