"""Channels: publish/subscribe over WebSockets, with history, resume, presence and per-connection backpressure.

`RedisBackend` needs the `redis` extra (`pip install wsapi[redis]`); it is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsapi.channels.backends import Backend, MemoryBackend
from wsapi.channels.errors import (
    CLOSE_REFUSED,
    CLOSE_SEND_TIMEOUT,
    CLOSE_SHUTDOWN,
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNAVAILABLE,
    ChannelRefused,
    ChannelsUnavailable,
    InvalidChannel,
    InvalidPosition,
    SlowConsumer,
)
from wsapi.channels.frames import JoinFrame, LeaveFrame, MessageFrame, Position, SubscribedFrame
from wsapi.channels.hub import Channels, ChannelsDep, get_channels
from wsapi.channels.presence import Member
from wsapi.channels.subscriber import Listener, OnFull, Subscription

if TYPE_CHECKING:
    from wsapi.channels.backends.redis import RedisBackend

__all__ = [
    "CLOSE_REFUSED",
    "CLOSE_SEND_TIMEOUT",
    "CLOSE_SHUTDOWN",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_UNAVAILABLE",
    "Backend",
    "ChannelRefused",
    "Channels",
    "ChannelsDep",
    "ChannelsUnavailable",
    "InvalidChannel",
    "InvalidPosition",
    "JoinFrame",
    "LeaveFrame",
    "Listener",
    "Member",
    "MemoryBackend",
    "MessageFrame",
    "OnFull",
    "Position",
    "RedisBackend",
    "SlowConsumer",
    "SubscribedFrame",
    "Subscription",
    "get_channels",
]


def __getattr__(name: str) -> Any:
    if name == "RedisBackend":
        from wsapi.channels.backends.redis import RedisBackend

        return RedisBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
