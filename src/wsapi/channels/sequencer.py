"""A channel's message order, with no I/O: which live message goes out, which is a duplicate, when history must be
read, when subscribers must be told that what they had cannot be recovered, and where one joining from a position
starts.

The hub keeps one `Sequencer` per open channel and does what it answers. A live message that is not the next one
(an offset jump, another epoch) is never trusted on its own: it is held and history is read; a message held before
that read began must be in what it returns (a backend stores a message before it delivers it), so one the read
does not vouch for is dropped as not published by the backend, with everything after it still delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Generic, Never, TypeVar

from wsapi.channels.frames import Position

# The offset a frame that is not a message (a presence event) is held under while a subscriber catches up: above any
# message's, so that `join` never drops it as one the replay already holds.
EVENT_OFFSET = 1 << 62

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Step(Enum):
    """What to do with a live message."""

    DELIVER = "deliver"  # the next one: send it to every subscriber
    DUPLICATE = "duplicate"  # at or before the position: sent already (from history)
    HELD = "held"  # kept while history is read; `settle()` hands it back
    READ = "read"  # kept, and history must be read after `reading()`'s position to place it


@dataclass(frozen=True, slots=True)
class Fill:
    """What one history read means: the frames to send, in order; or a position to continue from, telling
    subscribers `recovered: false`; and whether to read again before settling."""

    frames: list[tuple[int, str]]
    reset: Position | None = None
    again: bool = False


@dataclass(frozen=True, slots=True)
class Join(Generic[T_co]):
    """Where a subscriber joining from a position starts: its `subscribed` frame's position and `recovered`, the
    history frames to replay, then the live ones held for it meanwhile; and the offset its replay reached past live
    delivery (`ahead`: it gets live messages only after that one), or None."""

    recovered: bool
    position: Position
    replay: tuple[tuple[int, str], ...] = ()
    held: tuple[T_co, ...] = ()
    ahead: int | None = None


class Sequencer:
    """The position (epoch, last offset) a channel's subscribers have reached, and the live messages held back
    while it is being settled from history (from the start: the channel's position is not known until first read).
    """

    __slots__ = ("_vouched", "epoch", "held", "last", "stale")

    def __init__(self) -> None:
        self.epoch = ""
        self.last = 0
        self.held: list[tuple[str, int, str]] | None = []  # None: live, nothing held
        self.stale = False  # messages may have been lost after the running read began: read again
        self._vouched = 0  # how many held messages the running read must contain

    @property
    def position(self) -> Position:
        return Position(self.epoch, self.last)

    @property
    def settling(self) -> bool:
        return self.held is not None

    def receive(self, epoch: str, offset: int, frame: str) -> Step:
        held = self.held
        if held is not None:
            held.append((epoch, offset, frame))
            return Step.HELD
        if epoch == self.epoch:
            if offset == self.last + 1:
                self.last = offset
                return Step.DELIVER
            if offset <= self.last:
                return Step.DUPLICATE
        self.held = [(epoch, offset, frame)]  # a gap, or another epoch: history says whether it is real
        return Step.READ

    def lost(self) -> bool:
        """Live delivery was interrupted: whether a read must start (False: one is running; it reads again)."""
        if self.held is None:
            self.held = []
            return True
        self.stale = True
        return False

    def reading(self) -> Position:
        """A history read is about to be sent: the position to read after."""
        self.stale = False
        self._vouched = len(self.held) if self.held is not None else 0
        return self.position

    def opened(self, current: Position) -> None:
        """The channel's position, first read: continue from it."""
        self.epoch, self.last = current.epoch, current.offset

    def fill(self, current: Position, frames: list[tuple[int, str]] | None) -> Fill:
        """What a read after `reading()`'s position returned: the channel's `current` position and the frames
        after ours, or None when they cannot be replayed."""
        since = self.position
        if frames is not None:
            fresh = [(offset, frame) for offset, frame in frames if offset > self.last]
            if fresh:
                self.last = fresh[-1][0]
            return Fill(fresh, again=self.stale)
        if current.epoch != since.epoch:
            # History was lost: the new epoch starts at 0; replay it from there if it reaches back that far.
            self.epoch, self.last = current.epoch, 0
            return Fill([], Position(current.epoch, 0), again=True)
        self.epoch, self.last = current.epoch, current.offset  # trimmed beyond our position: from its end
        return Fill([], current, again=self.stale)

    def join_live(self, since: Position | None) -> Join[Never] | None:
        """A subscriber joining from `since` (None: from now on) without reading history, or None if it must read
        history after `since`: only a position at ours has nothing to replay."""
        if since is not None and since != self.position:
            return None
        return Join(since is not None, self.position)

    def join(
        self,
        since: Position,
        start: Position,
        reset: bool,
        frames: list[tuple[int, str]] | None,
        held: list[tuple[int, T]],
    ) -> Join[T]:
        """A subscriber joining from `since`, once history after it has been read: `frames` (None: it cannot be
        resumed from). `start` is our position when the read began (where a `reset` during the read put it) and
        `held` the `(offset, item)` pairs delivered live after `start` meanwhile."""
        if reset or frames is None or start.epoch != since.epoch:
            return Join(False, start, held=tuple(item for _, item in held))
        last = frames[-1][0] if frames else since.offset
        return Join(
            True,
            since,
            tuple(frames),
            tuple(item for offset, item in held if offset > last),
            last if last > self.last else None,
        )

    def settle(self, current: Position) -> list[tuple[str, int, str]]:
        """The read is the last one (its result `current`): go live; the held messages to `receive()` again,
        less those held before the read began that it does not contain (forged: no publish made them)."""
        held, self.held = self.held or [], None
        vouched, self._vouched = self._vouched, 0
        return [
            message
            for index, message in enumerate(held)
            if index >= vouched or (message[0] == current.epoch and message[1] <= current.offset)
        ]
