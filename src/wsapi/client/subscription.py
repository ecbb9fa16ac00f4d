"""One channel subscribed over the standard channels route: its position, its members, its handlers."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from wsapi.channels.frames import Position
from wsapi.channels.presence import Member
from wsapi.client.errors import CallError

SubscriptionState = Literal["subscribing", "subscribed", "unsubscribed"]
Handler = Callable[..., Awaitable[None] | None]

# Errors after which subscribing again would be refused again.
_FINAL = frozenset({"channel_refused", "validation_error", "unknown_type", "closed"})


@dataclass(frozen=True, slots=True)
class Subscribed:
    """A `subscribed` frame: where the messages that follow start.

    `recovered`: the subscription continues exactly from the position the client had. `resumed`: the client had a
    position in this channel already. `resumed and not recovered` means messages were missed: reload.
    """

    position: Position
    recovered: bool
    resumed: bool


class Subscription:
    """A channel subscription kept by a `Client` across reconnects. Handlers may be plain or async functions; they
    are called in order, one at a time (an async one holds up the frames after it)."""

    def __init__(
        self,
        channel: str,
        *,
        since: Position | None,
        history: int,
        on_message: Handler | None,
        on_subscribed: Handler | None,
        on_join: Handler | None,
        on_leave: Handler | None,
        on_error: Handler | None,
        leave: Callable[[Subscription], None],
    ) -> None:
        self.channel = channel
        self.state: SubscriptionState = "subscribing"
        self.position: Position | None = since  # the last one received
        self.members: dict[str, Member] = {}
        self._history = history
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._on_join = on_join
        self._on_leave = on_leave
        self._on_error = on_error
        self._leave = leave
        self._held: list[dict[str, Any]] | None = None
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def ready(self) -> None:
        """Return once the server has accepted the subscription; raise `CallError` if it refused it."""
        if self.state == "subscribed":
            return
        await asyncio.shield(self._ready)

    def unsubscribe(self) -> None:
        """Leave the channel; its handlers are called no more."""
        if self.state != "unsubscribed":
            self.state = "unsubscribed"
            self._leave(self)

    # Driven by the client.

    def request(self) -> dict[str, Any]:
        """The subscribe request to send now, with the latest position, so that a resume misses nothing."""
        self.state = "subscribing"
        self._held = []
        if self.position is not None:
            return {"channel": self.channel, "since": str(self.position)}
        return {"channel": self.channel, "history": self._history} if self._history else {"channel": self.channel}

    async def accepted(self, members: list[dict[str, Any]]) -> None:
        if self.state == "unsubscribed":
            return
        self.state = "subscribed"
        now = {m["id"]: Member(m["id"], m.get("info")) for m in members}
        # Arrivals before departures: a person whose connection was replaced (a reconnect) is present throughout.
        for member in now.values():
            await self._add(member)
        for member in [m for id, m in self.members.items() if id not in now]:
            await self._remove(member)
        held, self._held = self._held or [], None
        for frame in held:
            await self.frame(frame)
        if not self._ready.done():
            self._ready.set_result(None)

    async def refused(self, error: CallError) -> bool:
        """Whether the subscription is over (the error is final) or should be tried again."""
        self._held = None
        final = error.code in _FINAL
        if final:
            self.state = "unsubscribed"
        await _call(self._on_error, error)
        if final:
            self._fail(error)
        return final

    def disconnected(self) -> None:
        if self.state != "unsubscribed":
            self.state = "subscribing"
        self._held = None

    def closed(self, error: CallError) -> None:
        self.state = "unsubscribed"
        self._fail(error)

    def _fail(self, error: CallError) -> None:
        if not self._ready.done():
            self._ready.set_exception(error)
            self._ready.exception()  # retrieved: nobody has to await `ready()`

    async def frame(self, frame: dict[str, Any]) -> None:
        if self.state == "unsubscribed":
            return
        kind = frame["type"]
        if kind == "subscribed":
            resumed = self.position is not None
            self.position = Position(frame["epoch"], frame["offset"])
            await _call(self._on_subscribed, Subscribed(self.position, frame["recovered"], resumed))
        elif kind == "message":
            current = self.position
            if current is not None and frame["epoch"] == current.epoch and frame["offset"] <= current.offset:
                return  # already delivered
            self.position = Position(frame["epoch"], frame["offset"])
            await _call(self._on_message, frame["data"], self.position)
        elif self._held is not None:
            self._held.append(frame)
        else:
            client = frame["client"]
            member = Member(client["id"], client.get("info"))
            await (self._add(member) if kind == "join" else self._remove(member))

    async def _add(self, member: Member) -> None:
        if member.id not in self.members:
            self.members[member.id] = member
            await _call(self._on_join, member)

    async def _remove(self, member: Member) -> None:
        if self.members.pop(member.id, None) is not None:
            await _call(self._on_leave, member)


async def _call(handler: Handler | None, *args: Any) -> None:
    if handler is not None:
        result = handler(*args)
        if inspect.isawaitable(result):
            await result
