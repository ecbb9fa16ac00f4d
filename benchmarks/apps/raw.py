"""Raw ASGI: no framework, the floor of the stack."""

from typing import Any

from benchmarks.apps import ITEM_REPLY


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    if scope["path"] == "/echo":
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"]})
    else:
        await send({"type": "websocket.send", "text": ITEM_REPLY})
        await send({"type": "websocket.close", "code": 1000})
