"""Channels: publish/subscribe over WebSockets, with history, resume, presence and per-connection backpressure.

`RedisBackend`, `RedisSentinelBackend` and `RedisClusterBackend` need the `redis` extra (`pip install wsapi[redis]`);
they are imported on first use.
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
from wsapi.channels.route import ChannelsRouter, ChannelSubscription
from wsapi.channels.subscriber import Listener, OnFull, Subscription

if TYPE_CHECKING:
    from wsapi.channels.backends.redis import RedisBackend, RedisClusterBackend, RedisSentinelBackend

__all__ = [
    "CLOSE_REFUSED",
    "CLOSE_SEND_TIMEOUT",
    "CLOSE_SHUTDOWN",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_UNAVAILABLE",
    "Backend",
    "ChannelRefused",
    "ChannelSubscription",
    "Channels",
    "ChannelsDep",
    "ChannelsRouter",
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
    "RedisClusterBackend",
    "RedisSentinelBackend",
    "SlowConsumer",
    "SubscribedFrame",
    "Subscription",
    "get_channels",
]


def __getattr__(name: str) -> Any:
    if name in ("RedisBackend", "RedisClusterBackend", "RedisSentinelBackend"):
        from wsapi.channels.backends import redis

        return getattr(redis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
