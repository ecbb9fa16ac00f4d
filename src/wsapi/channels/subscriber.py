"""Per-connection bounded send queues, each drained by its own writer: a slow client never holds up the rest.

A subscriber's queue holds ASGI send events, shared between every connection they go to. When it is full, the
policy decides: "close" (the default) ends the subscriber (a WebSocket is closed with 1013, a `Listener` raises
`SlowConsumer`), so nothing is lost silently; "drop_oldest" drops the oldest queued frame, which the client sees as
a gap in the offsets and can fill by resuming from history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from anyio import BrokenResourceError, ClosedResourceError
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from wsapi.channels.errors import (
    CLOSE_SHUTDOWN,
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNAVAILABLE,
    ChannelRefused,
    ChannelsUnavailable,
    InvalidChannel,
    SlowConsumer,
)
from wsapi.channels.frames import Position, check_channel
from wsapi.channels.presence import Member

if TYPE_CHECKING:
    from wsapi.channels.hub import Channels

logger = logging.getLogger("wsapi.channels")

OnFull = Literal["close", "drop_oldest"]
# A send to a client that has gone: uvicorn's ClientDisconnected is an OSError; the anyio errors are the test client's.
_GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError, ClosedResourceError, BrokenResourceError)


class Subscriber:
    """A bounded queue of outgoing frames, fed by the hub for every channel the subscriber is in."""

    __slots__ = (
        "_hub",
        "_limit",
        "_probe",
        "_queue",
        "_waiter",
        "channels",
        "closed",
        "dropped",
        "id",
        "maxsize",
        "on_full",
    )
    route = ""  # what metrics count its subscriptions under

    def __init__(self, hub: Channels, maxsize: int, on_full: OnFull) -> None:
        if maxsize < 1:
            raise ValueError("queue_size must be at least 1")
        if on_full not in ("close", "drop_oldest"):
            raise ValueError(f"on_full must be 'close' or 'drop_oldest', not {on_full!r}")
        self._hub = hub
        self.id = hub.new_id()
        self.maxsize = maxsize
        self.on_full = on_full
        self.channels: set[str] = set()
        self.closed = False
        self.dropped = 0
        self._queue: deque[Message] = deque()
        self._limit = maxsize
        self._waiter: asyncio.Future[None] | None = None
        self._probe: tuple[Message, float] | None = None

    def probe(self, message: Message, queued: float) -> None:
        """Time `message`, queued at `queued` (`time.perf_counter()`), until it is sent (only with metrics on)."""
        self._probe = (message, queued)  # the latest: an earlier one may have been dropped, and never be sent

    def _sent(self, message: Message) -> None:
        probe = self._probe
        if probe is not None and probe[0] is message:
            self._probe = None
            self._hub.metrics.delivery_latency(time.perf_counter() - probe[1])

    def push(self, message: Message) -> None:
        """Queue one frame; called by the hub's fan-out, so it never waits."""
        if self.closed:
            return
        queue = self._queue
        if len(queue) >= self._limit:
            if self.on_full == "close":
                self._overflow()
                return
            queue.popleft()
            self.dropped += 1
            self._hub.metrics.dropped()
        queue.append(message)
        # `_wake()` inlined: this runs once per subscriber per publish, the fan-out's innermost loop.
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def push_backlog(self, messages: list[Message]) -> None:
        """Queue a replay in full: the size limit bounds live delivery, and applies again once the replay is sent."""
        if self.closed:
            return
        self._queue.extend(messages)
        self._limit = max(self._limit, len(self._queue) + self.maxsize)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _wait(self) -> None:
        self._limit = self.maxsize  # the queue is empty: any replay allowance is used up
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        await waiter

    def _overflow(self) -> None:
        raise NotImplementedError

    def finish(self) -> asyncio.Task[None] | None:
        """The hub is stopping: send what is queued, then end; the task to wait for, if any."""
        raise NotImplementedError


class Subscription(Subscriber):
    """A WebSocket's subscriptions to one or more channels, delivered through its queue by its writer task.

    Use it as `async with hub.subscribe(websocket, ...) as subscription:`; leaving the block leaves every channel
    (with presence `leave` events) and stops the writer, dropping frames still queued.
    """

    __slots__ = ("_closing", "_initial", "_members", "_presence", "_writer", "websocket")

    def __init__(
        self,
        hub: Channels,
        websocket: WebSocket,
        maxsize: int,
        on_full: OnFull,
        initial: Mapping[str, Position | None] | None = None,
        presence: Any = None,
    ) -> None:
        super().__init__(hub, maxsize, on_full)
        self.websocket = websocket
        self._initial = initial or {}
        self._presence = presence
        self._members: dict[str, Member] = {}
        self._writer: asyncio.Task[None] | None = None
        self._closing: tuple[int, str] | None = None

    @property
    def route(self) -> str:  # type: ignore[override]
        route = self.websocket.scope.get("route")
        return str(getattr(route, "path", ""))

    async def __aenter__(self) -> Self:
        self._hub.attach(self)
        self._writer = self._hub.spawn(f"writer of {self.id}", self._write())
        try:
            for channel, since in self._initial.items():
                await self.subscribe(channel, since=since, presence=self._presence)
        except BaseException:
            await self._teardown()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._teardown()

    async def subscribe(self, channel: str, *, since: Position | None = None, presence: Any = None) -> None:
        """Join `channel`: a `subscribed` frame first, then the messages after `since` (or from now on).

        `presence` (any JSON-serialisable value, e.g. `{"name": ...}`) lists this connection among the channel's
        members and publishes its `join` event. Raises `ChannelRefused`: with 1008 for a malformed name or a channel
        the hub's `authorize` hook refuses, with 1013 when the backend (Redis) cannot be reached.
        """
        try:
            check_channel(channel)
        except InvalidChannel as exc:
            raise ChannelRefused(str(exc)) from exc
        if not await self._hub.allowed(self.websocket, channel):
            raise ChannelRefused(f"channel refused: {channel!r}")
        if channel in self.channels:
            return
        try:
            await self._hub.join(self, channel, since)
            if presence is not None:
                member = self._members[channel] = Member(self.id, presence)
                await self._hub.enter(channel, member)
        except ChannelsUnavailable as exc:
            await self.unsubscribe(channel)
            raise ChannelRefused(f"channels unavailable: {exc}", CLOSE_UNAVAILABLE) from exc

    async def unsubscribe(self, channel: str) -> None:
        """Leave `channel`; frames of it already queued are still sent."""
        self._hub.leave(self, channel)
        member = self._members.pop(channel, None)
        if member is not None:
            await self._hub.exit(channel, member)

    async def _write(self) -> None:
        queue = self._queue
        send = self.websocket.send
        try:
            while True:
                while queue:
                    message = queue.popleft()
                    await send(message)
                    if self._probe is not None:
                        self._sent(message)
                if self._closing is not None:
                    await self.websocket.close(*self._closing)
                    return
                await self._wait()
        except _GONE:
            pass  # the client went away; the handler learns it from its own receive()
        except Exception:
            logger.exception("writer of %s failed; its frames are no longer sent", self.id)
        finally:
            self.closed = True
            queue.clear()

    def _overflow(self) -> None:
        self.closed = True
        self._queue.clear()
        self._hub.metrics.slow_consumer_closed()
        self._hub.spawn(f"closing slow consumer {self.id}", self._close_slow())

    async def _close_slow(self) -> None:
        if self._writer is not None:
            self._writer.cancel()  # it may be stuck in a send to this very client
            await asyncio.wait([self._writer])
        self._hub.detach(self)
        logger.info("closing slow consumer %s: send queue full (%d frames)", self.id, self.maxsize)
        # Behind the frames the client has not read: it sees the code once it reads again, or the server's keepalive
        # drops the connection.
        with contextlib.suppress(*_GONE):
            await self.websocket.close(CLOSE_SLOW_CONSUMER, "send queue full")

    def finish(self) -> asyncio.Task[None] | None:
        self._closing = (CLOSE_SHUTDOWN, "server shutting down")
        self._wake()
        return self._writer

    async def _teardown(self) -> None:
        for channel in list(self.channels):
            try:
                await self.unsubscribe(channel)
            except Exception:
                logger.warning("leaving %r failed for %s", channel, self.id, exc_info=True)
        self.closed = True
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.wait([self._writer])
        self._hub.release(self)


class Listener(Subscriber):
    """One channel's frames inside the app, decoded: `async with hub.listen(channel) as frames: async for ...`.

    Yields the same frames a WebSocket subscriber receives, as dicts. Under the "close" policy an overflowing queue
    raises `SlowConsumer` from the iteration; when the hub stops, the iteration ends after the queued frames.
    """

    __slots__ = ("_entered", "_failed", "_since", "channel")
    route = "(listener)"

    def __init__(self, hub: Channels, channel: str, since: Position | None, maxsize: int, on_full: OnFull) -> None:
        super().__init__(hub, maxsize, on_full)
        self.channel = check_channel(channel)
        self._since = since
        self._failed = False
        self._entered = False

    async def __aenter__(self) -> Self:
        self._entered = True
        self._hub.attach(self)
        try:
            await self._hub.join(self, self.channel, self._since)
        except BaseException:
            self._hub.release(self)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.closed = True
        self._hub.leave(self, self.channel)
        self._hub.release(self)

    def __aiter__(self) -> Self:
        if not self._entered:
            raise RuntimeError("a listener delivers inside its block: `async with hub.listen(...) as frames:`")
        return self

    async def __anext__(self) -> dict[str, Any]:
        queue = self._queue
        while not queue:
            if self._failed:
                raise SlowConsumer(f"listener on {self.channel!r} overflowed its queue of {self.maxsize}")
            if self.closed:
                raise StopAsyncIteration
            await self._wait()
        message = queue.popleft()
        if self._probe is not None:
            self._sent(message)
        if not queue:
            self._limit = self.maxsize
        frame: dict[str, Any] = json.loads(message["text"])
        return frame

    def _overflow(self) -> None:
        self._hub.metrics.slow_consumer_closed()
        self._failed = self.closed = True
        self._queue.clear()
        self._wake()

    def finish(self) -> asyncio.Task[None] | None:
        self.closed = True
        self._wake()
        return None  # the consumer drains the queue at its own pace


def initial_channels(
    channels: str | Iterable[str], since: Position | Mapping[str, Position | None] | None
) -> dict[str, Position | None]:
    """`hub.subscribe()`'s channels and positions as one mapping (a single `Position` needs a single channel)."""
    names = [channels] if isinstance(channels, str) else list(channels)
    if isinstance(since, Position):
        if len(names) != 1:
            raise TypeError("a single Position resumes a single channel; pass a mapping of channel to Position")
        return {names[0]: since}
    positions = since or {}
    return {name: positions.get(name) for name in names}
