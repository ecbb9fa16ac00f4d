"""The app both clients' tests run against: the standard channels route, with a token, refusals and typed extras.

Run by uvicorn (`uvicorn --app-dir tests/client app:app`), set up from the environment: CLIENTS_APP_REDIS_URL
(else the memory backend), CLIENTS_APP_HISTORY_SIZE, CLIENTS_APP_HISTORY_TTL (seconds).

- `/channels?token=<name>`: any non-empty token but `bad` and `expired` is accepted, and is the member's name in
  presence; `bad` is refused with 1008, `expired` with 4401. Channels `private:*` are refused; publishing to
  `readonly:*` is refused.
- Typed extras on the same route: `echo` (replies with its data), `slow` (replies after `data` seconds), `fail`
  (a `nope` error), `notify` (pushes a declared `notice` message), `close` (closes with `data.code`).
- HTTP: `POST /publish/{channel}` publishes its JSON body; `GET /tokens` lists the tokens of every handshake;
  `/page` is a page subscribed with the TypeScript client's bundle (served at `/client/`) for the browser tests.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel
from starlette.staticfiles import StaticFiles

from wsapi import Body, Depends, MessageError, WebSocket, WebSocketException, WsAPI
from wsapi.channels import Backend, Channels, ChannelsDep, ChannelsRouter, MemoryBackend, RedisBackend
from wsapi.channels.hub import Action
from wsapi.responses import FileResponse
from wsapi.security import APIKeyQuery

HERE = Path(__file__).parent
CLIENT = HERE.parents[1] / "typescript" / "dist"

token_scheme = APIKeyQuery(name="token", description="Your name; `bad` is refused.")
tokens: list[str] = []


async def user(token: Annotated[str, Depends(token_scheme)]) -> str:
    tokens.append(token)
    if token == "bad":
        raise WebSocketException(1008, "bad token")
    if token == "expired":  # as wsapi's credential expiry closes
        raise WebSocketException(4401, "Credentials expired")
    return token


async def member(name: Annotated[str, Depends(user)]) -> dict[str, str]:
    return {"name": name}


def authorize(websocket: WebSocket, channel: str, action: Action) -> bool:
    if channel.startswith("private:"):
        return False
    return not (action == "publish" and channel.startswith("readonly:"))


class Notice(BaseModel):
    text: str


class Close(BaseModel):
    code: int
    reason: str = ""


def create_app(backend: Backend) -> WsAPI:
    app = WsAPI(title="clients test app", channels=Channels(backend, authorize=authorize))
    router = ChannelsRouter(publish=True, presence=member)

    @router.on("echo")
    async def echo(data: Any = None) -> Any:
        return {"echo": data}

    @router.on("slow")
    async def slow(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    @router.on("fail")
    async def fail() -> None:
        raise MessageError("nope", "this always fails")

    @router.on("notify")
    async def notify(notice: Notice, websocket: WebSocket) -> None:
        await router.send(websocket, "notice", notice)

    @router.on("close")
    async def close(request: Close) -> None:
        raise WebSocketException(request.code, request.reason)

    router.sends("notice", Notice, description="A notice the server pushes.")
    app.add_api_websocket_route("/channels", router)

    @app.post("/publish/{channel}")
    async def publish(channel: str, hub: ChannelsDep, data: Annotated[Any, Body()]) -> str:
        return str(await hub.publish(channel, data))

    @app.get("/tokens")
    async def seen() -> list[str]:
        return tokens

    @app.get("/page")
    async def page() -> FileResponse:
        return FileResponse(HERE / "page.html")

    app.mount("/client", StaticFiles(directory=CLIENT, check_dir=False))

    return app


def _backend() -> Backend:
    history = int(os.environ.get("CLIENTS_APP_HISTORY_SIZE", "100"))
    ttl = float(os.environ["CLIENTS_APP_HISTORY_TTL"]) if "CLIENTS_APP_HISTORY_TTL" in os.environ else None
    url = os.environ.get("CLIENTS_APP_REDIS_URL")
    if url:
        return RedisBackend(url, history_size=history, history_ttl=ttl)
    return MemoryBackend(history_size=history, history_ttl=ttl)


app = create_app(_backend())
