"""Litestar: each handshake check is a dependency provided with `Provide`."""

from typing import Annotated

from litestar import Litestar, WebSocket, websocket
from litestar.di import Provide
from litestar.exceptions import WebSocketDisconnect, WebSocketException
from litestar.params import Parameter

from benchmarks.apps import SESSION, TOKEN


async def checked_item(item_id: int) -> int:
    if item_id < 0:
        raise WebSocketException("no such item", code=1008)
    return item_id


async def checked_token(token: str) -> str:
    if token != TOKEN:
        raise WebSocketException("bad token", code=1008)
    return token


async def checked_client(x_client: Annotated[str, Parameter(header="x-client")]) -> str:
    if not x_client:
        raise WebSocketException("no client name", code=1008)
    return x_client


async def checked_session(session: Annotated[str, Parameter(cookie="session")]) -> str:
    if session != SESSION:
        raise WebSocketException("bad session", code=1008)
    return session


@websocket("/echo")
async def echo(socket: WebSocket) -> None:
    await socket.accept()
    try:
        while True:
            await socket.send_text(await socket.receive_text())
    except WebSocketDisconnect:
        pass


@websocket(
    "/items/{item_id:int}/ws",
    dependencies={
        "checked_id": Provide(checked_item),
        "checked_tok": Provide(checked_token),
        "client": Provide(checked_client),
        "checked_session": Provide(checked_session),
    },
)
async def item(socket: WebSocket, checked_id: int, checked_tok: str, client: str, checked_session: str) -> None:
    await socket.accept()
    await socket.send_text(f"item {checked_id} for {client}")
    await socket.close()


app = Litestar(route_handlers=[echo, item])
