"""A chat room with typed messages: run `uvicorn --app-dir examples/messages chat:app`, then open /asyncapi.

Clients connect to `/chat?name=ann` and send `{"type": "say", "id": 1, "data": {"text": "hi"}}`; everyone in the room
gets `{"type": "said", "data": {"name": "ann", "text": "hi"}}` and the sender an ack for id 1. `whois` answers with
the names in the room. The per-message `audit` dependency stands for a resource such as a database session: opened
for one message, closed before the answer goes out.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from wsapi import Depends, MessageRouter, Query, WebSocket, WebSocketException, WsAPI, status

app = WsAPI(title="Typed chat", description="A chat room whose messages are declared, validated and documented.")
chat = MessageRouter()
room: dict[WebSocket, str] = {}
audit_log: list[str] = []


class Say(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=500, description="What to say to the room.")


class Said(BaseModel):
    name: str
    text: str


class Members(BaseModel):
    names: list[str]


async def member_name(name: Annotated[str, Query(min_length=1, max_length=32, description="Your name.")]) -> str:
    return name


async def audit(name: Annotated[str, Depends(member_name)]) -> AsyncIterator[list[str]]:
    entries: list[str] = []
    yield entries
    audit_log.extend(f"{name}: {entry}" for entry in entries)  # written once the handler is done


@chat.on_connect
async def join(websocket: WebSocket, name: Annotated[str, Depends(member_name)]) -> None:
    """Join the room under a name."""
    if name in room.values():
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, f"{name} is already in the room")
    room[websocket] = name


@chat.on_disconnect
async def leave(websocket: WebSocket) -> None:
    room.pop(websocket, None)


@chat.on("say")
async def say(
    message: Say, name: Annotated[str, Depends(member_name)], entries: Annotated[list[str], Depends(audit)]
) -> None:
    """Say something to everyone in the room."""
    for peer in list(room):
        await chat.send(peer, "said", Said(name=name, text=message.text))
    entries.append(f"said {len(message.text)} characters")


@chat.on("whois")
async def whois() -> Members:
    """The names of the people in the room."""
    return Members(names=sorted(room.values()))


chat.sends("said", Said, description="Someone said something.")
app.add_api_websocket_route("/chat", chat)
