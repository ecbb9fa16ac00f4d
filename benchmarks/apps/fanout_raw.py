"""Fan-out on raw ASGI, the floor of the stack: `/sub` connections are kept in a list; each text received on `/pub`
becomes one frame (the same JSON a wsapi subscriber gets, built once) awaited on every subscriber in turn."""

import json
from typing import Any

subscribers: list[Any] = []  # the ASGI `send` of each /sub connection


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    if scope["path"] == "/sub":
        subscribers.append(send)
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
        finally:
            subscribers.remove(send)
        return
    offset = 0
    while (message := await receive())["type"] == "websocket.receive":
        offset += 1
        frame = {"type": "message", "channel": "fan", "epoch": "0" * 16, "offset": offset, "data": message["text"]}
        event = {"type": "websocket.send", "text": json.dumps(frame, separators=(",", ":"))}
        for subscriber in list(subscribers):
            await subscriber(event)
