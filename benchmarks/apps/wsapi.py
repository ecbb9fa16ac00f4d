"""wsapi: the FastAPI variant with only its import line changed (public API only), and its limits set above the
load (`UNTRIGGERED_LIMITS`)."""

from typing import Annotated

from benchmarks.apps import SESSION, TOKEN, UNTRIGGERED_LIMITS
from wsapi import Cookie, Depends, FastAPI, Header, Query, WebSocket, WebSocketDisconnect, WebSocketException

app = FastAPI(limits=UNTRIGGERED_LIMITS)


async def checked_item(item_id: int) -> int:
    if item_id < 0:
        raise WebSocketException(1008, "no such item")
    return item_id


async def checked_token(token: Annotated[str, Query()]) -> str:
    if token != TOKEN:
        raise WebSocketException(1008, "bad token")
    return token


async def checked_client(x_client: Annotated[str, Header()]) -> str:
    if not x_client:
        raise WebSocketException(1008, "no client name")
    return x_client


async def checked_session(session: Annotated[str, Cookie()]) -> str:
    if session != SESSION:
        raise WebSocketException(1008, "bad session")
    return session


@app.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


@app.websocket("/items/{item_id}/ws")
async def item(
    websocket: WebSocket,
    item_id: Annotated[int, Depends(checked_item)],
    token: Annotated[str, Depends(checked_token)],
    client: Annotated[str, Depends(checked_client)],
    session: Annotated[str, Depends(checked_session)],
) -> None:
    await websocket.accept()
    await websocket.send_text(f"item {item_id} for {client}")
    await websocket.close()
