"""wsapi's flagship example: a multi-room chat with presence, history and resume, on one process or many.

    python -m wsapi --app-dir examples/chat main:app --reload                       # one process, memory backend
    REDIS_URL=redis://127.0.0.1:6379/0 python -m wsapi --app-dir examples/chat main:app --workers 4   # via Redis

Open http://127.0.0.1:8000, pick a name, join rooms. The socket speaks the standard channels protocol
(`ChannelsRouter`: `subscribe` to `room:<name>` with presence and history, `unsubscribe`) plus the chat's own typed
requests (`say`, `rooms`), all documented at /asyncapi. The page is the TypeScript client (`typescript/`, built
into `typescript/dist` and served at /client/) and the UI around it: the client reconnects with jittered backoff
and resumes every room from its last position.

It runs with wsapi's guards as a public chat would: sockets only from its own pages (the default origin check),
each message type with the rate a person can type at, 16 KiB per message, at most 20 connections per address.
`python -m wsapi` (rather than `uvicorn`) makes the server itself refuse larger frames, before reading them.
"""

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from starlette.staticfiles import StaticFiles

from wsapi import Depends, Limits, MessageError, Query, RateLimit, WebSocket, WsAPI
from wsapi.channels import (
    Backend,
    Channels,
    ChannelsDep,
    ChannelsRouter,
    ChannelSubscription,
    MemoryBackend,
    RedisBackend,
)
from wsapi.responses import FileResponse

HERE = Path(__file__).parent
STATIC = HERE / "static"
CLIENT = HERE.parents[1] / "typescript" / "dist"  # `make client-ts` builds it
DEFAULT_ROOMS = ["lobby", "python", "random"]
ROOM = r"[a-z0-9][a-z0-9-]{0,31}"
ROOM_CHANNEL = re.compile(f"room:{ROOM}")
RoomName = Annotated[str, Field(pattern=f"^{ROOM}$", description="A room: a-z, 0-9 and '-'.")]


def backend() -> Backend:
    url = os.environ.get("REDIS_URL")
    return RedisBackend(url, history_size=500) if url else MemoryBackend(history_size=500)


def rooms_only(websocket: WebSocket, channel: str) -> bool:
    """Subscribers may open `room:<name>` channels only (people speak with `say`: the router has no publish)."""
    return ROOM_CHANNEL.fullmatch(channel) is not None


app = WsAPI(
    title="wsapi chat",
    description="Rooms with presence, history on join and resume after reconnect.",
    # History (500) holds twice the queue: a client closed as slow resumes without loss.
    channels=Channels(backend(), queue_size=250, authorize=rooms_only),
    limits=Limits(max_connections_per_ip=20, handshakes_per_ip=RateLimit(2, burst=20)),
)


async def user_name(
    name: Annotated[str, Query(min_length=1, max_length=24, pattern=r"^[\w .-]+$", description="Your name.")],
) -> str:
    return name.strip()


async def member(name: Annotated[str, Depends(user_name)]) -> dict[str, str]:
    """Who a connection is in the rooms' presence."""
    return {"name": name}


# Over a limit, a request gets a `rate_limited` error frame; a client that ignores those is closed with 1008.
# Every room is resubscribed at once on a reconnect, hence the subscribe burst.
chat = ChannelsRouter(
    presence=member,
    max_message_size=16 * 1024,
    rate_limit=RateLimit(10, burst=40),
    rate_limits={"subscribe": RateLimit(1, burst=20), "unsubscribe": RateLimit(1, burst=20)},
)


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


Name = Annotated[str, Depends(user_name)]


@chat.on("say", rate_limit=RateLimit(2, burst=10))
async def say(request: Say, name: Name, rooms: ChannelSubscription, hub: ChannelsDep) -> None:
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
app.mount("/client", StaticFiles(directory=CLIENT, check_dir=False), name="client")


@app.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@app.get("/favicon.ico", include_in_schema=False)
async def favicon() -> FileResponse:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")
