"""Starlette: it has no dependency injection, so the handshake checks are plain code in the endpoint."""

from starlette.applications import Starlette
from starlette.exceptions import WebSocketException
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from benchmarks.apps import SESSION, TOKEN


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


async def item(websocket: WebSocket) -> None:
    item_id: int = websocket.path_params["item_id"]
    if websocket.query_params.get("token") != TOKEN or websocket.cookies.get("session") != SESSION:
        raise WebSocketException(1008)
    client = websocket.headers.get("x-client")
    if client is None:
        raise WebSocketException(1008)
    await websocket.accept()
    await websocket.send_text(f"item {item_id} for {client}")
    await websocket.close()


app = Starlette(routes=[WebSocketRoute("/echo", echo), WebSocketRoute("/items/{item_id:int}/ws", item)])
