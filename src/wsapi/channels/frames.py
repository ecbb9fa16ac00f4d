"""The wire format: channel names, resume positions, and the JSON text frames a subscribed client receives.

Every frame is a JSON object with a `type`; the models below (`SubscribedFrame`, `MessageFrame`, `JoinFrame`,
`LeaveFrame`) declare them, for the AsyncAPI document and for clients that want to validate what they receive. The
hub does not build frames through the models: a message is encoded once however many subscribers get it, and the
builders below write the same JSON around text that is already encoded (the Redis backend's Lua script has a copy
of `message`). The tests hold the frames both backends send to the models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, GetCoreSchemaHandler
from pydantic_core import core_schema, to_json
from starlette.types import Message

from wsapi.channels.errors import InvalidChannel, InvalidPosition
from wsapi.channels.presence import Member

# Names need no escaping inside a JSON string, a Redis key or a Redis hash tag.
CHANNEL_NAME = re.compile(r"[A-Za-z0-9_.:@/-]{1,200}")
_EPOCH = "[0-9a-f]{1,32}"
_POSITION = re.compile(f"({_EPOCH}):([0-9]{{1,18}})")


def check_channel(name: str) -> str:
    """`name`, if it is a valid channel name; otherwise `InvalidChannel`."""
    if type(name) is not str or CHANNEL_NAME.fullmatch(name) is None:
        raise InvalidChannel(name)
    return name


@dataclass(frozen=True, slots=True)
class Position:
    """Where a client stands in a channel: the epoch and the offset of the last message it has.

    Written `<epoch>:<offset>` on the wire (e.g. a `since` query parameter). As a handshake parameter type, a
    malformed value refuses the connection with 1008 naming the parameter.
    """

    epoch: str
    offset: int

    def __str__(self) -> str:
        return f"{self.epoch}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> Position:
        match = _POSITION.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidPosition(text)
        return cls(match[1], int(match[2]))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda value: value if isinstance(value, Position) else cls.parse(value),
            serialization=core_schema.to_string_ser_schema(),
            # What documentation (AsyncAPI) shows: the wire form, `<epoch>:<offset>`.
            json_schema_input_schema=core_schema.str_schema(pattern=f"^{_POSITION.pattern}$"),
        )


ChannelName = Annotated[str, Field(pattern=f"^{CHANNEL_NAME.pattern}$", description="The channel.")]
Epoch = Annotated[
    str, Field(pattern=f"^{_EPOCH}$", description="The id of the channel's history: a new one when it was lost.")
]


class SubscribedFrame(BaseModel):
    """The messages that follow on `channel` are those after position (`epoch`, `offset`).

    Sent first on every subscribe, and again, with `recovered` false, if the channel's history is lost meanwhile.
    """

    type: Literal["subscribed"]
    channel: ChannelName
    epoch: Epoch
    offset: int = Field(ge=0, description="The offset of the last message before those that follow (0: none).")
    recovered: bool = Field(
        description="True exactly when the subscription continues from the position the client asked for; "
        "false: the client's state is stale (history lost or trimmed), it should reload it."
    )


class MessageFrame(BaseModel):
    """A message published to `channel`: the `offset`-th of its epoch."""

    type: Literal["message"]
    channel: ChannelName
    epoch: Epoch
    offset: int = Field(ge=1, description="Numbers the channel's messages 1, 2, 3, ... in an epoch, with no gaps.")
    data: Any = Field(description="What was published, as JSON.")


class _PresenceFrame(BaseModel):
    type: str
    channel: ChannelName
    client: Member = Field(description="The member: its id and the info the app gave when subscribing it.")


class JoinFrame(_PresenceFrame):
    """A connection entered the channel's presence (live only, not in history)."""

    type: Literal["join"]


class LeaveFrame(_PresenceFrame):
    """A connection left the channel's presence, or its process died (live only, not in history)."""

    type: Literal["leave"]


def encode(data: Any) -> str:
    """`data` as JSON text, once per publish (pydantic models, dataclasses and the like included)."""
    return to_json(data).decode()


def message(channel: str, epoch: str, offset: int, data: str) -> str:
    # Kept in step with the Lua copy in backends/redis/layout.py; tests compare the two.
    return f'{{"type":"message","channel":"{channel}","epoch":"{epoch}","offset":{offset},"data":{data}}}'


def subscribed(channel: str, position: Position, recovered: bool) -> str:
    flag = "true" if recovered else "false"
    return (
        f'{{"type":"subscribed","channel":"{channel}","epoch":"{position.epoch}",'
        f'"offset":{position.offset},"recovered":{flag}}}'
    )


def presence(kind: str, channel: str, member: str) -> str:
    """A `join` or `leave` frame; `member` is the member's JSON (`{"id":...,"info":...}`)."""
    return f'{{"type":"{kind}","channel":"{channel}","client":{member}}}'


def outgoing(frame: str) -> Message:
    """The ASGI send event for `frame`, built once and shared by every connection it goes to."""
    return {"type": "websocket.send", "text": frame}
