"""The typed echo's frames by hand: `receive_json`/`send_json` on a plain wsapi route, no validation.

What a FastAPI user writes today; the baseline `typed_echo_messages` is measured against. Same frames: see there.
"""

from benchmarks.apps import UNTRIGGERED_LIMITS
from wsapi import WebSocket, WebSocketDisconnect, WsAPI

app = WsAPI(limits=UNTRIGGERED_LIMITS)


@app.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive_json()
            await websocket.send_json({"type": "echo.reply", "id": message.get("id"), "data": message.get("data")})
    except WebSocketDisconnect:
        pass
