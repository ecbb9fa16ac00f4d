"""The backend interface the hub talks to: numbering and history, live delivery, presence."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

from wsapi.channels.frames import Position
from wsapi.channels.presence import Member
from wsapi.channels.supervisor import Supervisor


class Receiver(Protocol):
    """What a backend delivers to: the hub of its process."""

    def on_message(self, channel: str, epoch: str, offset: int, frame: str) -> None:
        """A message frame of a subscribed channel, in publish order per channel."""

    def on_event(self, channel: str, frame: str) -> None:
        """A presence event frame of a subscribed channel."""

    def on_resubscribed(self) -> None:
        """Live delivery was interrupted and is back: anything published in between must be read from history."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A channel's current position and, if asked for, the history after a given position.

    `frames` holds `(offset, frame)` pairs after the position asked for, or is None when the history cannot
    replay from there (another epoch, trimmed, expired, or a position beyond the channel's end).
    """

    position: Position
    frames: list[tuple[int, str]] | None


class Backend(ABC):
    """Assigns offsets, keeps a capped history per channel, delivers live messages to each subscribed process.

    Offsets start at 1 in each epoch and increase by one per message; a channel's epoch changes whenever its
    history is lost, so that a position from before the loss is recognised as unrecoverable.
    """

    history_size: int  # messages kept per channel

    @abstractmethod
    async def start(self, receiver: Receiver, node: str, supervisor: Supervisor) -> None:
        """Connect, and deliver subscribed channels' messages to `receiver`; `node` names this process.

        Long-lived work (a live connection, heartbeats) runs under `supervisor` (the hub's), never as a bare task.
        """

    @abstractmethod
    async def stop(self) -> None: ...

    async def check(self) -> None:  # noqa: B027  # a process-local backend is always ready
        """Raise `ChannelsUnavailable` unless the backend can publish and deliver right now (for readiness)."""

    @abstractmethod
    async def publish(self, channel: str, data: str) -> Position:
        """Number `data` (JSON text), keep it in history and deliver it; the position of the new message."""

    @abstractmethod
    async def subscribe(self, channel: str) -> None:
        """Start live delivery of `channel`; returns once messages published from now on will be delivered."""

    @abstractmethod
    async def unsubscribe(self, channel: str) -> None: ...

    @abstractmethod
    async def read(self, channel: str, since: Position | None) -> Snapshot:
        """The current position, with the history after `since` when given (see `Snapshot`)."""

    @abstractmethod
    async def add_member(self, channel: str, member: Member) -> None:
        """List `member` in the channel's presence and deliver its `join` event to the channel's subscribers."""

    @abstractmethod
    async def remove_member(self, channel: str, member: Member) -> None:
        """Remove `member` and deliver its `leave` event. Never fails for an unreachable backend: the removal is
        then retried until it is done (and its event delivered)."""

    @abstractmethod
    async def members(self, channel: str) -> list[Member]:
        """The channel's members on every live process."""


def replay(since: Position, current: Position, frames: list[tuple[int, str]]) -> list[tuple[int, str]] | None:
    """`frames` (the history kept after `since`, oldest first), or None if they do not continue from `since`."""
    first = frames[0][0] if frames else current.offset + 1
    if since.epoch != current.epoch or since.offset > current.offset or since.offset + 1 != first:
        return None
    return frames
