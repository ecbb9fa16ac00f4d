"""An app whose endpoints fail before and after accepting, and one the client leaves while it receives."""

from wsapi import Depends, FastAPI, WebSocket

app = FastAPI()


async def broken_config() -> None:
    raise LookupError("boom before accept")


@app.websocket("/before-accept")
async def before_accept(websocket: WebSocket, _: None = Depends(broken_config)) -> None: ...


@app.websocket("/after-accept")
async def after_accept(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.receive_text()
    raise ValueError("boom after accept")


@app.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:  # until the client leaves: the WebSocketDisconnect escapes, as in the guide's examples
        await websocket.send_text(await websocket.receive_text())
