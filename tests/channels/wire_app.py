"""An app for the prepared-frame tests, served by uvicorn: `/sub/{channel}` tells the client whether its channel frames
may be written as prepared bytes, then publishes what the client sends, except a text starting with "own:", which
the handler sends back itself; `/` is an empty page, for a browser to open them from. WIRE_APP_COUNT_SENDS=1 wraps
the app in a middleware that counts the channel frames it passes to the server (`GET /sent`).
WIRE_APP_UNCOMPRESSED_MAX sets the hub's `uncompressed_max`."""

from __future__ import annotations

import os
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wsapi import WebSocket, WsAPI
from wsapi.channels import Channels, ChannelsDep
from wsapi.channels.wire import UNCOMPRESSED_MAX
from wsapi.limits import Limits
from wsapi.responses import HTMLResponse

# The tests send faster than the default per-connection rates allow.
hub = Channels(uncompressed_max=int(os.environ.get("WIRE_APP_UNCOMPRESSED_MAX", UNCOMPRESSED_MAX)))
app = WsAPI(channels=hub, limits=Limits(messages=None, publishes=None))
sent = {"frames": 0}


@app.websocket("/sub/{channel}")
async def sub(websocket: WebSocket, channel: str, hub: ChannelsDep) -> None:
    await websocket.accept()
    async with hub.subscribe(websocket, channel) as subscription:
        await websocket.send_json({"prepared": subscription._socket is not None})
        async for text in websocket.iter_text():
            if text.startswith("own:"):
                await websocket.send_text(text)
            else:
                await hub.publish(channel, text)


@app.get("/")
async def page() -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>wire</title>")


@app.get("/sent")
async def count_sent() -> dict[str, int]:
    return sent


class CountChannelFrames:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting(message: Message) -> None:
            if message["type"] == "websocket.send" and '"type":"message"' in (message.get("text") or ""):
                sent["frames"] += 1
            await send(message)

        await self.app(scope, receive, counting if scope["type"] == "websocket" else send)


served: Any = CountChannelFrames(app) if os.environ.get("WIRE_APP_COUNT_SENDS") == "1" else app
