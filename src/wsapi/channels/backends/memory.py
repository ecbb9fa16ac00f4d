"""In-memory backend: one process, nothing to install. A channel's history lives until `history_ttl` seconds after its
last publication (a day by default), or as long as the process; then the channel is forgotten, freeing its memory."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from itertools import islice

from wsapi.channels import frames
from wsapi.channels.backends.base import Backend, Receiver, Snapshot, replay
from wsapi.channels.frames import Position
from wsapi.channels.presence import Member
from wsapi.channels.supervisor import Supervisor

DEFAULT_HISTORY_TTL = 86400.0


class _Channel:
    __slots__ = ("epoch", "history", "published", "top")

    def __init__(self, history_size: int) -> None:
        self.epoch = secrets.token_hex(8)
        self.top = 0
        self.history: deque[tuple[int, str]] = deque(maxlen=history_size)
        self.published = time.monotonic()


class MemoryBackend(Backend):
    """Keeps the last `history_size` messages of each channel; `history_ttl` (seconds, a day by default; None: for
    ever) after its last publication (or, never published, after it was first read), a channel is dropped, and it
    starts a new epoch if it is used again."""

    def __init__(self, *, history_size: int = 200, history_ttl: float | None = DEFAULT_HISTORY_TTL) -> None:
        self.history_size = history_size
        self.history_ttl = history_ttl
        self._channels: dict[str, _Channel] = {}
        self._members: dict[str, dict[str, Member]] = {}
        self._receiver: Receiver | None = None

    async def start(self, receiver: Receiver, node: str, supervisor: Supervisor) -> None:
        self._receiver = receiver
        if self.history_ttl is not None:
            supervisor.keep_running("forgetting idle channels", self._forget_idle)

    async def _forget_idle(self) -> None:
        ttl = self.history_ttl
        assert ttl is not None
        while True:
            await asyncio.sleep(min(ttl / 2, 60.0))
            now = time.monotonic()
            for name in [name for name, channel in self._channels.items() if now - channel.published > ttl]:
                del self._channels[name]

    async def stop(self) -> None:
        self._receiver = None

    def _channel(self, name: str) -> _Channel:
        channel = self._channels.get(name)
        if channel is None or (
            self.history_ttl is not None and time.monotonic() - channel.published > self.history_ttl
        ):
            channel = self._channels[name] = _Channel(self.history_size)
        return channel

    async def publish(self, channel: str, data: str) -> Position:
        state = self._channel(channel)
        state.top = offset = state.top + 1
        frame = frames.message(channel, state.epoch, offset, data)
        state.history.append((offset, frame))
        state.published = time.monotonic()
        assert self._receiver is not None, "the backend is not started"
        self._receiver.on_message(channel, state.epoch, offset, frame)
        return Position(state.epoch, offset)

    async def subscribe(self, channel: str) -> None:
        pass  # every published message reaches the hub, which keeps only the channels it has open

    async def unsubscribe(self, channel: str) -> None:
        pass

    async def read(self, channel: str, since: Position | None) -> Snapshot:
        state = self._channel(channel)
        current = Position(state.epoch, state.top)
        if since is None:
            return Snapshot(current, [])
        history = state.history
        first = history[0][0] if history else state.top + 1
        after = list(islice(history, max(0, since.offset + 1 - first), None))
        return Snapshot(current, replay(since, current, after))

    async def add_member(self, channel: str, member: Member) -> None:
        self._members.setdefault(channel, {})[member.id] = member
        self._event(channel, frames.presence("join", channel, member.to_json()))

    async def remove_member(self, channel: str, member: Member) -> None:
        members = self._members.get(channel)
        if members is not None:
            if members.pop(member.id, None) is not None:
                self._event(channel, frames.presence("leave", channel, member.to_json()))
            if not members:
                del self._members[channel]

    def _event(self, channel: str, frame: str) -> None:
        assert self._receiver is not None, "the backend is not started"
        self._receiver.on_event(channel, frame)

    async def members(self, channel: str) -> list[Member]:
        return list(self._members.get(channel, {}).values())
