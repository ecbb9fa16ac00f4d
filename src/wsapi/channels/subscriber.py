"""Per-connection bounded send queues, each drained by its own writer: a slow client never holds up the rest.

A subscriber's queue holds ASGI send events, shared between every connection they go to. It is bounded in frames
and in bytes (characters of text frames). When it is full, the policy decides: "close" (the default) ends the
subscriber (a WebSocket is closed with 1013, a `Listener` raises `SlowConsumer`), so nothing is lost silently;
"drop_oldest" drops the oldest queued channel frame (never one of the handler's own, below), which the client sees
as a gap in the offsets and can fill by resuming from history.

A subscribed WebSocket has one sender: while subscribed, the handler's own sends (`send_text`, `send_json`, typed
replies and error frames, `close`) go through the same queue and writer as the channel frames, in the order they were
produced. They are never dropped: when the queue is full, the handler's send waits for room.

A channel frame for a connection with nothing queued is sent inside the fan-out (`deliver`): a small one is written
to the socket as bytes framed once per message where the server allows it (`wire`), any other through the server's
send, awaited one after the other as a plain loop does. Only a send that has to wait starts the connection's writer
task, which sends what queues up behind it and ends once the queue is empty: an idle subscribed connection holds
neither a task nor a queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from anyio import BrokenResourceError, ClosedResourceError
from starlette.types import Message, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected, WebSocketState

from wsapi.channels.errors import (
    CLOSE_SEND_TIMEOUT,
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
from wsapi.channels.wire import Socket, prepare, socket_of, writable

if TYPE_CHECKING:
    from wsapi.channels.hub import Channels

logger = logging.getLogger("wsapi.channels")

OnFull = Literal["close", "drop_oldest"]
# A send to a client that has gone: uvicorn's ClientDisconnected is an OSError; the anyio errors are the test client's.
_GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError, ClosedResourceError, BrokenResourceError)


class Subscriber:
    """A bounded queue of outgoing frames, fed by the hub for every channel the subscriber is in."""

    __slots__ = (
        "_byte_limit",
        "_bytes",
        "_direct",
        "_hub",
        "_limit",
        "_probe",
        "_queue",
        "_socket",
        "_waiter",
        "closed",
        "dropped",
        "id",
        "max_bytes",
        "maxsize",
        "on_full",
    )
    route = ""  # what metrics count its subscriptions under

    def __init__(self, hub: Channels, maxsize: int, on_full: OnFull, max_bytes: int | None = None) -> None:
        if maxsize < 1:
            raise ValueError("queue_size must be at least 1")
        if on_full not in ("close", "drop_oldest"):
            raise ValueError(f"on_full must be 'close' or 'drop_oldest', not {on_full!r}")
        self._hub = hub
        self.id = hub.new_id()
        self.maxsize = maxsize
        self.max_bytes = hub.queue_bytes if max_bytes is None else max_bytes
        if self.max_bytes < 1:
            raise ValueError("queue_bytes must be at least 1")
        self.on_full = on_full
        self.closed = False
        # The send a fan-out may call at once (nothing queued, no writer, not closed), else None; kept beside the
        # object's header, so that a delivery reads one attribute where it would read three spread over the object.
        self._direct: Send | None = None
        # Its server socket, when a fan-out may write prepared frames to it (see `wire`); read with `_direct`.
        self._socket: Socket | None = None
        self.dropped = 0
        self._queue: deque[Message] | None = None  # made when a frame has to wait, dropped once it is empty
        self._bytes = 0  # characters (text) or bytes (binary) queued
        self._limit = maxsize
        self._byte_limit = self.max_bytes
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
        """Queue one channel frame; called by the hub's fan-out, so it never waits."""
        if self.closed:
            return
        queue = self._open_queue()
        size = len(message["text"])
        if len(queue) >= self._limit or self._bytes + size > self._byte_limit:
            if self.on_full == "close":
                self._overflow()
                return
            while len(queue) >= self._limit or self._bytes + size > self._byte_limit:
                index = self._oldest_droppable(queue)
                if index is None:
                    break
                self._bytes -= _size(queue[index])
                del queue[index]
                self.dropped += 1
                self._hub.metrics.dropped()
        queue.append(message)
        self._bytes += size
        self._wake()

    def _oldest_droppable(self, queue: deque[Message]) -> int | None:
        """Where the oldest frame that may be dropped is in `queue`, or None."""
        return 0 if queue else None

    def push_backlog(self, messages: list[Message]) -> None:
        """Queue a replay in full, counted in the queue's frames and bytes: the limits grow by the replay's size
        (at most the channel's history) until the queue has been emptied once, then apply as before."""
        if self.closed:
            return
        size = sum(_size(message) for message in messages)
        queue = self._open_queue()
        queue.extend(messages)
        self._bytes += size
        self._limit = max(self._limit, len(queue) + self.maxsize)
        self._byte_limit = max(self._byte_limit, self._bytes + self.max_bytes)
        self._wake()

    def _open_queue(self) -> deque[Message]:
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        return queue

    def _wake(self) -> None:
        """Something was queued, or the subscriber closed: let its consumer know."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _emptied(self) -> None:
        """The queue is empty: drop it, and any replay allowance with it."""
        self._queue = None
        self._limit, self._byte_limit, self._bytes = self.maxsize, self.max_bytes, 0

    async def _wait(self) -> None:
        self._emptied()
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        await waiter

    def _overflow(self) -> None:
        raise NotImplementedError

    def _hand_over(self, delivery: Coroutine[Any, Any, None], waiting: Any, message: Message) -> None:
        raise NotImplementedError  # only a subscriber with a direct send is stopped in one

    def _send_failed(self, exc: Exception) -> None:
        if not isinstance(exc, _GONE):  # a client that went away is no error: the handler's receive() says so
            logger.error("sending to %s failed; its frames are no longer sent", self.id, exc_info=exc)
        self.closed, self._direct = True, None
        self._emptied()

    def finish(self) -> asyncio.Task[None] | None:
        """The hub is stopping: send what is queued, then end; the task to wait for, if any."""
        raise NotImplementedError

    def stalled(self, now: float, limit: float) -> bool:
        """Whether a frame has been on its way to the client for `limit` seconds (checked by the hub's watchdog)."""
        return False

    @property
    def done(self) -> bool:
        """Whether nothing more will be sent (the writer, if any, has ended)."""
        return True

    def abort(self, reason: str) -> None:
        """End the subscriber at once, without waiting for the client."""


def _size(message: Message) -> int:
    return len(message.get("text") or message.get("bytes") or "")


def _transport(send: Callable[..., Any], depth: int = 8) -> Any:
    """The server's transport behind an ASGI `send`, else None.

    uvicorn's `send` is a method of its protocol, which has the transport; middleware and exception handlers wrap
    it in closures, which are followed (a few levels deep) to find it.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None or depth == 0:
        return transport
    for cell in getattr(send, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if callable(value) and (found := _transport(value, depth - 1)) is not None:
            return found
    return None


class Subscription(Subscriber):
    """A WebSocket's subscriptions to one or more channels, delivered through its queue by its writer task.

    Use it as `async with hub.subscribe(websocket, ...) as subscription:`. Inside the block every frame to the
    client, the handler's own included, leaves through the subscription's queue, in order. Leaving the block leaves
    every channel (with presence `leave` events), sends what is still queued (within the hub's `send_timeout`), and
    hands sending back to the WebSocket.
    """

    __slots__ = (
        "_busy",
        "_closing",
        "_initial",
        "_members",
        "_own",
        "_presence",
        "_progress",
        "_room",
        "_seen",
        "_send",
        "_started",
        "_writer",
        "aborted",
        "websocket",
    )

    def __init__(
        self,
        hub: Channels,
        websocket: WebSocket,
        maxsize: int,
        on_full: OnFull,
        initial: Mapping[str, Position | None] | None = None,
        presence: Any = None,
        max_bytes: int | None = None,
    ) -> None:
        super().__init__(hub, maxsize, on_full, max_bytes)
        self.websocket = websocket
        self._initial = initial  # the channels to join on entering, forgotten then
        self._presence = presence
        self._members: dict[str, Member] = {}
        self._writer: asyncio.Task[None] | None = None  # running while something is queued or on its way
        self._closing: Message | None = None  # the close frame to send once the queue is empty
        self._send: Send = websocket._send
        self._direct = self._send
        self._socket = socket_of(self._send)
        self._room: asyncio.Future[None] | None = None  # a handler's send waiting for room in the queue
        # Ids of the handler's frames in the queue ("drop_oldest" never drops them); made by the first one.
        self._own: set[int] | None = None
        self._busy = False  # the writer is sending
        self._progress = 0  # frames sent
        self._seen: tuple[int, float] | None = None  # the watchdog's last look: (frames sent, when)
        # A send `push()` started that has to wait (the client's socket is full): the writer finishes it.
        self._started: tuple[Coroutine[Any, Any, None], Any, Message] | None = None
        self.aborted = False

    @property
    def route(self) -> str:  # type: ignore[override]
        route = self.websocket.scope.get("route")
        return str(getattr(route, "path", ""))

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels this connection is subscribed to, in the order it joined them (the hub keeps them)."""
        return self._hub.channels_of(self)

    async def __aenter__(self) -> Self:
        self._hub.attach(self)
        self.websocket._send = self._send_from_handler
        initial, self._initial = self._initial or {}, None
        try:
            for channel, since in initial.items():
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
        members and publishes its `join` event. Raises `ChannelRefused`: with 1008 for a malformed name, a channel
        the hub's `authorize` hook refuses, or one more than the hub's `max_subscriptions` per connection; with 1013
        when the backend (Redis) cannot be reached.
        """
        try:
            check_channel(channel)
        except InvalidChannel as exc:
            raise ChannelRefused(str(exc)) from exc
        if channel in self.channels:
            return
        if self._hub.draining:
            raise ChannelRefused("server restarting: reconnect", CLOSE_SHUTDOWN)
        if len(self.channels) >= self._hub.max_subscriptions:
            raise ChannelRefused(f"too many subscriptions: at most {self._hub.max_subscriptions} per connection")
        if not await self._hub.allowed(self.websocket, channel):
            raise ChannelRefused(f"channel refused: {channel!r}")
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

    def _hand_over(self, delivery: Coroutine[Any, Any, None], waiting: Any, message: Message) -> None:
        """`delivery` stopped in this connection's send, at `waiting` (the client's socket is full): the writer
        finishes that send, then what queues up behind it."""
        self._started = (delivery, waiting, message)
        self._wake()

    def _wake(self) -> None:
        """Start the writer, unless it is running (it sends whatever is queued before it ends)."""
        if self._writer is None and not self.aborted:
            self._direct = None  # from now on frames queue behind the writer (an aborted one has none already)
            self._writer = self._hub.spawn(f"writer of {self.id}", self._write())

    async def _send_from_handler(self, message: Message) -> None:
        """The WebSocket's `send` while subscribed: queue the frame behind what is queued, waiting for room."""
        kind = message["type"]
        if kind not in ("websocket.send", "websocket.close"):
            await self._send(message)
            return
        if self.closed:
            if kind == "websocket.close":
                return
            raise WebSocketDisconnect(1006, "the connection was closed")
        if kind == "websocket.close":
            self._closing = message
            self.closed = True  # nothing more is queued; the writer sends the close after the rest
            self._wake()
            return
        queue = self._open_queue()
        queue.append(message)
        own = self._own
        if own is None:
            own = self._own = set()
        own.add(id(message))
        self._bytes += _size(message)
        self._wake()
        while not self.closed and self._queue is not None and self._over_limit(self._queue):
            room = self._room = asyncio.get_running_loop().create_future()
            await room
        if self.aborted:
            raise WebSocketDisconnect(CLOSE_SEND_TIMEOUT, "send timed out")

    def _oldest_droppable(self, queue: deque[Message]) -> int | None:
        own = self._own or ()
        return next((index for index, message in enumerate(queue) if id(message) not in own), None)

    def _emptied(self) -> None:
        super()._emptied()
        self._own = None

    def _over_limit(self, queue: deque[Message]) -> bool:
        return len(queue) > self._limit or self._bytes > self._byte_limit

    def _make_room(self) -> None:
        room = self._room
        if room is not None:
            self._room = None
            if not room.done():
                room.set_result(None)

    async def _write(self) -> None:
        """Finish the send `push()` started, send what is queued (then the close, if one is due), and end."""
        send = self._send
        failed = True
        try:
            self._busy = True
            if self._started is not None:
                delivery, waiting, first = self._started
                await _finish(delivery, waiting)
                self._started = None
                self._progress += 1
                if self._probe is not None:
                    self._sent(first)
            while (queue := self._queue) is not None and queue:
                message = queue.popleft()
                self._bytes -= _size(message)
                if self._own:
                    self._own.discard(id(message))
                await send(message)
                self._progress += 1
                if self._probe is not None:
                    self._sent(message)
                if self._room is not None:
                    self._make_room()
            self._emptied()
            if self._closing is not None:
                await send(self._closing)
            failed = False
        except _GONE:
            pass  # the client went away; the handler learns it from its own receive()
        except Exception:
            logger.exception("writer of %s failed; its frames are no longer sent", self.id)
        finally:
            self._busy = False
            self._writer = None
            if failed or self._closing is not None:
                self.closed = True
                self._emptied()
            self._direct = None if self.closed else self._send
            self._make_room()

    def _close_after_queue(self, code: int, reason: str) -> None:
        self.closed = True
        self._closing = {"type": "websocket.close", "code": code, "reason": reason}
        self.websocket.application_state = WebSocketState.DISCONNECTED
        self._wake()

    def _overflow(self) -> None:
        # Behind the frames the client has not read yet: it reads them, then the close, so it knows the last
        # position it has and can resume from history. If it never reads again, the send watchdog aborts it.
        logger.info("closing slow consumer %s: send queue full (%d frames)", self.id, self.maxsize)
        self._hub.metrics.slow_consumer_closed()
        self._emptied()  # (it stays in the channels' lists, closed, until it leaves: this runs inside a fan-out)
        self._close_after_queue(CLOSE_SLOW_CONSUMER, "send queue full")

    def finish(self) -> asyncio.Task[None] | None:
        if not self.closed:
            self._close_after_queue(CLOSE_SHUTDOWN, "server restarting: reconnect")
        return self._writer

    @property
    def done(self) -> bool:
        return self._writer is None

    def stalled(self, now: float, limit: float) -> bool:
        if not self._busy:
            self._seen = None
            return False
        seen = self._seen
        if seen is None or seen[0] != self._progress:
            self._seen = (self._progress, now)
            return False
        return now - seen[1] >= limit

    def abort(self, reason: str) -> None:
        """Drop the connection at the transport (a close would wait behind the same full buffer): the handler's
        receive() then reports the disconnect, and leaving the block sends the `leave` events."""
        if self.aborted:
            return
        logger.info("aborting %s: %s", self.id, reason)
        self.aborted = self.closed = True
        self._direct = None
        self._emptied()
        self._hub.detach(self)
        self.websocket.application_state = WebSocketState.DISCONNECTED
        transport = _transport(self._send)
        if transport is not None:
            transport.abort()
        if self._writer is not None:
            self._writer.cancel()
        self._make_room()

    async def _teardown(self) -> None:
        for channel in self.channels:
            try:
                await self.unsubscribe(channel)
            except Exception:
                logger.warning("leaving %r failed for %s", channel, self.id, exc_info=True)
        self.closed, self._direct = True, None
        writer = self._writer
        if writer is not None:
            # Send what the handler queued last (a goodbye, a close): bounded by the watchdog's send timeout.
            _, late = await asyncio.wait([writer], timeout=self._hub.send_timeout + 1)
            if late:  # the watchdog is not running (the hub stopped): abort here
                self.abort("queued frames not sent at teardown")
                await asyncio.wait([writer])
        self.websocket._send = self._send
        self._hub.release(self)


class Listener(Subscriber):
    """One channel's frames inside the app, decoded: `async with hub.listen(channel) as frames: async for ...`.

    Yields the same frames a WebSocket subscriber receives, as dicts. Under the "close" policy an overflowing queue
    raises `SlowConsumer` from the iteration; when the hub stops, the iteration ends after the queued frames.
    """

    __slots__ = ("_entered", "_failed", "_since", "channel")
    route = "(listener)"

    def __init__(
        self,
        hub: Channels,
        channel: str,
        since: Position | None,
        maxsize: int,
        on_full: OnFull,
        max_bytes: int | None = None,
    ) -> None:
        super().__init__(hub, maxsize, on_full, max_bytes)
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
        while not (queue := self._queue):
            if self._failed:
                raise SlowConsumer(f"listener on {self.channel!r} overflowed its queue of {self.maxsize}")
            if self.closed:
                raise StopAsyncIteration
            await self._wait()
        message = queue.popleft()
        self._bytes -= _size(message)
        if self._probe is not None:
            self._sent(message)
        if not queue:
            self._emptied()
        frame: dict[str, Any] = json.loads(message["text"])
        return frame

    def _overflow(self) -> None:
        self._hub.metrics.slow_consumer_closed()
        self._failed = self.closed = True
        self._queue = None
        self._bytes = 0
        self._wake()

    def finish(self) -> asyncio.Task[None] | None:
        self.closed = True
        self._wake()
        return None  # the consumer drains the queue at its own pace


def deliver(subscribers: Collection[Subscriber], message: Message, uncompressed_max: int) -> None:
    """Give `message` to every one of `subscribers`, as a plain loop awaiting their sends would, without waiting.

    The loop (`_deliver`) writes a small message, framed once, to each idle connection whose socket takes it now
    (under uvicorn, see `wire`), and awaits every other idle connection's send itself: a send that finishes at once (the
    usual case) costs what it does in a plain loop. One that has to wait (its client's socket is full) stops the
    loop there: the stopped loop is handed to that connection's writer, which finishes the send and then ends it,
    and a new loop goes on with the next subscriber. A subscriber with frames queued (or a listener) has the message
    queued.
    """
    if not subscribers:
        return  # nobody to frame it for
    remaining = iter(subscribers)
    frame, to_compressed = prepare(message, uncompressed_max)  # once per publish, for every loop; None: too large
    while True:
        delivery = _Delivery()
        loop = _deliver(remaining, message, frame, to_compressed, delivery)
        try:
            waiting = loop.send(None)
        except StopIteration:
            return
        delivery.handed_over = True
        delivery.sending._hand_over(loop, waiting, message)  # type: ignore[union-attr]  # set before any send


class _Delivery:
    """One `_deliver` loop: the subscription whose send it is in, and whether it was handed to its writer."""

    __slots__ = ("handed_over", "sending")

    def __init__(self) -> None:
        self.handed_over = False
        self.sending: Subscriber | None = None


async def _deliver(
    subscribers: Iterator[Subscriber],
    message: Message,
    frame: bytes | None,
    to_compressed: bool,
    delivery: _Delivery,
) -> None:
    for subscriber in subscribers:
        send = subscriber._direct
        if send is None:  # a listener, or a subscription with frames queued (or closed)
            subscriber.push(message)
            continue
        socket = subscriber._socket
        if (
            frame is not None
            and socket is not None
            and (to_compressed or not socket.conn.extensions)
            and writable(socket)
        ):
            socket.transport.write(frame)
        else:
            delivery.sending = subscriber
            try:
                await send(message)
            except Exception as exc:
                subscriber._send_failed(exc)
            if delivery.handed_over:
                return  # this loop was finishing a stopped send, in its subscriber's writer: the rest went on
        if subscriber._probe is not None:
            subscriber._sent(message)


async def _finish(send: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Run `send` to its end: a coroutine stepped once by hand, which stopped at `waiting` (what it yielded: the
    future it waits for, or None for a bare yield), as the task running it would have."""
    try:
        while True:
            if waiting is None:
                await asyncio.sleep(0)
            elif asyncio.isfuture(waiting):
                waiting._asyncio_future_blocking = False
                try:
                    await waiting
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise  # this writer is being cancelled, not just the future
                except Exception:
                    pass  # however it ended, the send reads the outcome itself when resumed
            else:
                raise RuntimeError(f"a send yielded {waiting!r}, which is not an asyncio future")
            waiting = send.send(None)
    except StopIteration:
        pass
    finally:
        send.close()  # a no-op once it has finished; ends it if this task is cancelled meanwhile


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
