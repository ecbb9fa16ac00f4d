"""The app the channels tests serve, in-process (`create_app`) or under uvicorn (`app`, set up from the environment).

Environment (for uvicorn): CHANNELS_APP_REDIS_URL (else the memory backend), CHANNELS_APP_QUEUE_SIZE,
CHANNELS_APP_HISTORY_SIZE, CHANNELS_APP_PRESENCE_TTL; CHANNELS_APP_METRICS=1 serves /metrics and /health;
CHANNELS_APP_API_TOKEN serves the server API with that token.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from wsapi import Body, WebSocket, WsAPI, identify
from wsapi.channels import Backend, Channels, ChannelsDep, MemoryBackend, Position, RedisBackend
from wsapi.health import serve_health
from wsapi.limits import DEFAULT_LIMITS, Limits
from wsapi.metrics import serve_metrics
from wsapi.server_api import serve_api


def refuse_private(websocket: WebSocket, channel: str) -> bool:
    return not channel.startswith("private")


def create_app(
    backend: Backend, queue_size: int = 100, send_timeout: float = 15.0, limits: Limits = DEFAULT_LIMITS
) -> WsAPI:
    hub = Channels(backend, queue_size=queue_size, send_timeout=send_timeout, authorize=refuse_private)
    app = WsAPI(channels=hub, limits=limits)

    @app.websocket("/ws/{channel}")
    async def subscribe(
        websocket: WebSocket, channel: str, hub: ChannelsDep, since: Position | None = None, name: str | None = None
    ) -> None:
        await websocket.accept()
        presence = None if name is None else {"name": name}
        async with hub.subscribe(websocket, channel, since=since, presence=presence):
            async for text in websocket.iter_text():
                await hub.publish(channel, text)

    @app.websocket("/multi")
    async def multi(websocket: WebSocket, hub: ChannelsDep) -> None:
        """Client-driven: `+name` subscribes, `-name` leaves."""
        await websocket.accept()
        async with hub.subscribe(websocket) as subscription:
            async for text in websocket.iter_text():
                if text.startswith("+"):
                    await subscription.subscribe(text[1:])
                else:
                    await subscription.unsubscribe(text[1:])
                await websocket.send_json({"type": "ack", "command": text})

    @app.websocket("/ordered/{channel}")
    async def ordered(websocket: WebSocket, channel: str, hub: ChannelsDep) -> None:
        """Per text received: a frame of its own, a publish, another frame of its own."""
        await websocket.accept()
        async with hub.subscribe(websocket, channel):
            async for text in websocket.iter_text():
                await websocket.send_text(f"before {text}")
                await hub.publish(channel, text)
                await websocket.send_json({"after": text})

    @app.websocket("/relay/{channel}")
    async def relay(websocket: WebSocket, channel: str, hub: ChannelsDep) -> None:
        """Iterates the channel inside the handler and sends only each message's data."""
        await websocket.accept()
        async with hub.listen(channel) as frames:
            async for frame in frames:
                if frame["type"] == "message":
                    await websocket.send_json(frame["data"])

    @app.post("/publish/{channel}")
    async def publish(channel: str, hub: ChannelsDep, data: Any = Body()) -> str:
        return str(await hub.publish(channel, data))

    @app.post("/burst/{channel}")
    async def burst(channel: str, hub: ChannelsDep, count: int, size: int, pause: float) -> str:
        """Publish `count` messages of `size` characters, `pause` seconds apart."""
        position = None
        for n in range(count):
            position = await hub.publish(channel, f"{n:08d}".ljust(size, "."))
            await asyncio.sleep(pause)
        return str(position)

    @app.websocket("/users/{user}")
    async def user_socket(websocket: WebSocket, user: str, hub: ChannelsDep) -> None:
        """A connection identified as `user`, subscribed to `lobby`; `kick <name>` revokes that user everywhere."""
        identify(websocket, user)
        await websocket.accept()
        async with hub.subscribe(websocket, "lobby"):
            async for text in websocket.iter_text():
                await hub.disconnect_user(text.removeprefix("kick "))

    @app.post("/disconnect/{user}")
    async def disconnect(user: str, hub: ChannelsDep) -> str:
        await hub.disconnect_user(user)
        return "ok"

    @app.get("/presence/{channel}")
    async def presence(channel: str, hub: ChannelsDep) -> list[dict[str, Any]]:
        return [{"id": m.id, "info": m.info} for m in await hub.presence(channel)]

    return app


def _from_environment() -> WsAPI:
    url = os.environ.get("CHANNELS_APP_REDIS_URL")
    history_size = int(os.environ.get("CHANNELS_APP_HISTORY_SIZE", "200"))
    backend: Backend
    if url:
        ttl = float(os.environ.get("CHANNELS_APP_PRESENCE_TTL", "10"))
        history_ttl = float(os.environ.get("CHANNELS_APP_HISTORY_TTL", "86400"))
        backend = RedisBackend(url, history_size=history_size, presence_ttl=ttl, history_ttl=history_ttl)
    else:
        backend = MemoryBackend(history_size=history_size)
    queue_size = int(os.environ.get("CHANNELS_APP_QUEUE_SIZE", "100"))
    send_timeout = float(os.environ.get("CHANNELS_APP_SEND_TIMEOUT", "15"))
    # Floods are what some tests are about: without the per-connection rates, which would pace them.
    unlimited = Limits(
        messages=None, publishes=None, handshakes_per_ip=None, handshakes_per_user=None, max_connections_per_ip=None
    )
    limits = unlimited if os.environ.get("CHANNELS_APP_UNLIMITED") else DEFAULT_LIMITS
    app = create_app(backend, queue_size, send_timeout, limits)
    if os.environ.get("CHANNELS_APP_METRICS"):
        serve_metrics(app)
        serve_health(app)
    if token := os.environ.get("CHANNELS_APP_API_TOKEN"):
        serve_api(app, token=token)
    return app


app = _from_environment()
