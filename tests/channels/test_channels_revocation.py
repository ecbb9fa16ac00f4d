"""`hub.disconnect_user` closes a user's connections on every process (two uvicorn processes sharing a Redis),
and a connection's publishes are rate limited."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.channels.channels_app import create_app
from tests.channels.support import RedisServer, ServerProcess
from wsapi import Limits, MessageRouter, RateLimit, WebSocket, WsAPI
from wsapi.channels import Channels, ChannelsDep, MemoryBackend
from wsapi.connections import CLOSE_REVOKED
from wsapi.testclient import TestClient

pytestmark = pytest.mark.anyio

Serve = Callable[..., list[ServerProcess]]


async def closed_within(ws: object, timeout: float) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)  # type: ignore[attr-defined]
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None


async def test_disconnect_user_closes_that_user_on_every_process(serve: Serve, redis_server: RedisServer) -> None:
    a, b = serve(2, REDIS_URL=redis_server.url)
    async with (
        connect(f"{a.ws}/users/ada", proxy=None) as ada_a,
        connect(f"{b.ws}/users/ada", proxy=None) as ada_b,
        connect(f"{b.ws}/users/bob", proxy=None) as bob,
    ):
        for ws in (ada_a, ada_b, bob):
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "subscribed"
        started = time.monotonic()
        async with httpx2.AsyncClient() as http:
            (await http.post(f"{a.http}/disconnect/ada", timeout=10)).raise_for_status()
        codes = await asyncio.gather(closed_within(ada_a, 5), closed_within(ada_b, 5))
        assert codes == [CLOSE_REVOKED, CLOSE_REVOKED]
        assert ada_a.close_reason == ada_b.close_reason == "Access revoked"
        assert time.monotonic() - started < 2
        assert await closed_within(bob, 0.5) is None  # still open: only ada was revoked
        await bob.send("kick bob")  # from a WebSocket handler, on the process it is on
        assert await closed_within(bob, 5) == CLOSE_REVOKED


def test_a_connections_publishes_over_the_limit_get_an_error_frame_or_close_1008() -> None:
    app = WsAPI(channels=Channels(MemoryBackend()), limits=Limits(publishes=RateLimit(1, burst=2)))
    router = MessageRouter()

    @router.on("say")
    async def say(text: str, hub: ChannelsDep) -> None:
        await hub.publish("room", text)

    app.add_api_websocket_route("/typed", router)

    @app.websocket("/plain")
    async def plain(websocket: WebSocket, hub: ChannelsDep) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await hub.publish("room", text)
            await websocket.send_text("published")

    @app.post("/publish")
    async def publish(hub: ChannelsDep) -> str:
        for _ in range(10):  # not handling a connection: no per-connection limit
            await hub.publish("room", "from HTTP")
        return "ok"

    with TestClient(app) as client:
        with client.websocket_connect("/typed") as ws:
            assert [ws.request("say", "hi")["type"] for _ in range(2)] == ["ack", "ack"]
            refused = ws.request("say", "hi")
            assert refused["data"]["code"] == "rate_limited"
            assert refused["data"]["message"] == "Rate limit exceeded: too many publishes"
            assert 0 < refused["data"]["retry_after"] <= 1.05
        with client.websocket_connect("/plain") as ws:
            for _ in range(2):
                ws.send_text("hi")
                assert ws.receive_text() == "published"
            ws.send_text("hi")
            with pytest.raises(Exception) as closed:
                ws.receive_text()
            assert getattr(closed.value, "code", None) == 1008
        assert client.post("/publish").json() == "ok"


def test_an_app_without_identified_users_has_nothing_to_disconnect() -> None:
    app = create_app(MemoryBackend())
    with TestClient(app) as client:
        assert client.post("/disconnect/nobody").json() == "ok"
