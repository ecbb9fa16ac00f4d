"""wsapi's flagship example: a multi-room chat with presence, history and resume, on one process or many.

    python -m wsapi --app-dir examples/chat main:app --reload                       # one process, memory backend
    REDIS_URL=redis://127.0.0.1:6379/0 python -m wsapi --app-dir examples/chat main:app --workers 4   # via Redis

Open http://127.0.0.1:8000, pick a name, join rooms. The protocol is declared with a `MessageRouter` (documented at
/asyncapi): the browser sends typed requests (`join`, `leave`, `say`, `rooms`) and receives the rooms' channel
frames (`subscribed`, `message`, `join`, `leave`), each carrying its position so a reconnect resumes where it was.

It runs with wsapi's guards as a public chat would: sockets only from its own pages (the default origin check),
each message type with the rate a person can type at, 16 KiB per message, at most 20 connections per address.
`python -m wsapi` (rather than `uvicorn`) makes the server itself refuse larger frames, before reading them.
"""

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from starlette.staticfiles import StaticFiles

from wsapi import Depends, Limits, MessageError, MessageRouter, Query, RateLimit, WebSocket, WsAPI
from wsapi.channels import Backend, Channels, ChannelsDep, MemoryBackend, Position, RedisBackend, Subscription
from wsapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"
DEFAULT_ROOMS = ["lobby", "python", "random"]
HISTORY_ON_JOIN = 50
RoomName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="A room: a-z, 0-9 and '-'.")]


def backend() -> Backend:
    url = os.environ.get("REDIS_URL")
    return RedisBackend(url, history_size=500) if url else MemoryBackend(history_size=500)


app = WsAPI(
    title="wsapi chat",
    description="Rooms with presence, history on join and resume after reconnect.",
    channels=Channels(backend(), queue_size=250),  # history (500) >= twice the queue: a client closed as slow resumes
    limits=Limits(max_connections_per_ip=20, handshakes_per_ip=RateLimit(2, burst=20)),
)
# Over a limit, a request gets a `rate_limited` error frame; a client that ignores those is closed with 1008.
chat = MessageRouter(max_message_size=16 * 1024, rate_limit=RateLimit(10, burst=40))


class Join(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: RoomName
    since: Position | None = Field(None, description="The last position seen in this room, to resume from.")


class Joined(BaseModel):
    room: str
    members: list[str]


class Leave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: RoomName


class Say(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: RoomName
    text: str = Field(min_length=1, max_length=2000)


class Said(BaseModel):
    """What a room's `message` frames carry as `data`."""

    name: str
    text: str
    at: datetime


class Room(BaseModel):
    name: str
    members: int


def channel(room: str) -> str:
    return f"room:{room}"


async def user_name(
    name: Annotated[str, Query(min_length=1, max_length=24, pattern=r"^[\w .-]+$", description="Your name.")],
) -> str:
    return name.strip()


async def subscription(websocket: WebSocket, hub: ChannelsDep) -> AsyncIterator[Subscription]:
    """The connection's subscription to its rooms; it lives as long as the connection."""
    await websocket.accept()
    async with hub.subscribe(websocket) as rooms:
        yield rooms


Name = Annotated[str, Depends(user_name)]
Rooms = Annotated[Subscription, Depends(subscription)]


@chat.on_connect
async def connect(name: Name, rooms: Rooms) -> None:
    """Connect under a name (`/ws?name=ada`); then join rooms."""


@chat.on("join", rate_limit=RateLimit(1, burst=20))  # every room at once on (re)connect, then now and then
async def join(request: Join, name: Name, rooms: Rooms, hub: ChannelsDep) -> Joined:
    """Join a room: its channel frames follow, from `since` or else the last 50 messages."""
    since = request.since
    if since is None:
        now = await hub.position(channel(request.room))
        since = Position(now.epoch, max(0, now.offset - HISTORY_ON_JOIN))
    await rooms.subscribe(channel(request.room), since=since, presence={"name": name})
    members = await hub.presence(channel(request.room))
    return Joined(room=request.room, members=sorted(m.info["name"] for m in members))


@chat.on("leave", rate_limit=RateLimit(1, burst=20))
async def leave(request: Leave, rooms: Rooms) -> None:
    """Leave a room."""
    await rooms.unsubscribe(channel(request.room))


@chat.on("say", rate_limit=RateLimit(2, burst=10))
async def say(request: Say, name: Name, rooms: Rooms, hub: ChannelsDep) -> None:
    """Say something in a room you have joined."""
    if channel(request.room) not in rooms.channels:
        raise MessageError("not_joined", f"join {request.room!r} before saying anything there")
    await hub.publish(channel(request.room), Said(name=name, text=request.text, at=datetime.now(UTC)))


@chat.on("rooms", rate_limit=RateLimit(0.5, burst=5))
async def list_rooms(hub: ChannelsDep) -> list[Room]:
    """The default rooms, with how many are in each."""
    return [Room(name=room, members=len(await hub.presence(channel(room)))) for room in DEFAULT_ROOMS]


app.add_api_websocket_route("/ws", chat)
app.mount("/static", StaticFiles(directory=STATIC), name="static")


@app.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")
