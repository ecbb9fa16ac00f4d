"""Fan-out the way FastAPI's WebSockets guide does it (its `ConnectionManager`): a list of sockets in one process and a
broadcast that awaits each send in turn. The frame is the same JSON a wsapi subscriber gets, encoded once."""

import json

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
        for connection in self.active_connections:
            await connection.send_text(message)


manager = ConnectionManager()


@app.websocket("/sub")
async def sub(websocket: WebSocket) -> None:
    await manager.connect(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        manager.disconnect(websocket)


@app.websocket("/pub")
async def pub(websocket: WebSocket) -> None:
    await websocket.accept()
    offset = 0
    try:
        while True:
            text = await websocket.receive_text()
            offset += 1
            frame = {"type": "message", "channel": "fan", "epoch": "0" * 16, "offset": offset, "data": text}
            await manager.broadcast(json.dumps(frame, separators=(",", ":")))
    except WebSocketDisconnect:
        pass
