"""The hub: publish, subscribe WebSockets, listen in the app; one backend subscription per channel per process.

Each open channel's `Sequencer` (no I/O) puts its messages in order: duplicates are dropped, a gap (after a lost
live connection) is filled from history before anything newer goes out, and an epoch change tells every subscriber
with a `subscribed` frame whose `recovered` is false. The hub does the reading and the sending it asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import secrets
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from types import FrameType, TracebackType
from typing import Annotated, Any, Literal, Self, TypeVar

from starlette.requests import HTTPConnection
from starlette.types import Lifespan, Message
from starlette.websockets import WebSocket

from wsapi.channels import frames, revocations
from wsapi.channels.backends.base import Backend, Snapshot
from wsapi.channels.backends.memory import MemoryBackend
from wsapi.channels.errors import ChannelsUnavailable
from wsapi.channels.frames import Position, check_channel, outgoing
from wsapi.channels.presence import Member
from wsapi.channels.revocations import Revocations
from wsapi.channels.revocations import order as disconnect_order
from wsapi.channels.sequencer import EVENT_OFFSET, Join, Sequencer, Step
from wsapi.channels.subscriber import Listener, OnFull, Subscriber, Subscription, deliver, initial_channels
from wsapi.channels.supervisor import RETRY_MAX, RETRY_MIN, Supervisor, backoff
from wsapi.channels.wire import PREPARED_MAX, UNCOMPRESSED_MAX
from wsapi.connections import CLOSE_REVOKED, Connections, charge_publish
from wsapi.metrics import OFF, Hooks
from wsapi.params import Depends

logger = logging.getLogger("wsapi.channels")

T = TypeVar("T")

Action = Literal["subscribe", "publish"]
# `(websocket, channel)` decides subscribes and publishes alike; `(websocket, channel, action)` tells them apart.
Verdict = bool | Awaitable[bool]
Authorize = Callable[[WebSocket, str], Verdict] | Callable[[WebSocket, str, Action], Verdict]

SHUTDOWN_GRACE = 2.0  # seconds the writers get to send what is queued when the hub stops
DEFAULT_QUEUE_SIZE = 100  # frames; the backends keep 200 messages of history, so a client closed as slow resumes
DEFAULT_QUEUE_BYTES = 1024 * 1024
DEFAULT_SEND_TIMEOUT = 15.0
DEFAULT_MAX_SUBSCRIPTIONS = 128  # per connection, as Centrifugo's default


class _CatchUp:
    """A subscriber reading history: the live frames that arrive meanwhile, after `start`."""

    __slots__ = ("frames", "reset", "start")

    def __init__(self, start: Position) -> None:
        self.start = start
        self.frames: list[tuple[int, Message]] = []
        self.reset = False


class _Channel:
    __slots__ = ("ahead", "catching_up", "joining", "name", "ready", "sequencer", "subscribers")

    def __init__(self, name: str) -> None:
        self.name = name
        self.sequencer = Sequencer()
        self.subscribers: dict[Subscriber, None] = {}  # an ordered set
        self.catching_up: dict[Subscriber, _CatchUp] = {}
        # Subscribers whose replay went past the sequencer's position (history is ahead of live delivery): the
        # offset they have.
        self.ahead: dict[Subscriber, int] = {}
        self.joining = 0
        self.ready: asyncio.Task[None] | None = None

    @property
    def position(self) -> Position:
        return self.sequencer.position

    def empty(self) -> bool:
        return not (self.subscribers or self.catching_up or self.ahead or self.joining)


class Channels:
    """The channels hub. Configure it on the app, `WsAPI(channels=Channels(...))`; it starts and stops with the
    app's lifespan, and handlers reach it with `hub: ChannelsDep` (or `Depends(get_channels)`).

    `queue_size` (frames), `queue_bytes` (characters of text, bytes of binary frames) and `on_full` ("close" or
    "drop_oldest") are the defaults for every subscriber's queue. `send_timeout` (seconds) is the longest a frame may
    take to reach a client's socket before the connection is aborted. `max_subscriptions` caps the channels one
    connection may be in. `authorize(websocket, channel)` (sync or async) decides whether a WebSocket may subscribe
    to a channel, and publish to it through the standard channels route (`ChannelsRouter(publish=True)`); a hook
    with a third parameter, `action` ("subscribe" or "publish"), can answer the two differently.

    `uncompressed_max` (bytes, at most 4096): a channel message up to this size goes uncompressed, framed once, to
    connections that negotiated permessage-deflate (as browsers do); 0 leaves every one to the server, which
    compresses it for each connection. Compression saves bandwidth and costs each connection's CPU.
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        on_full: OnFull = "close",
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        max_subscriptions: int = DEFAULT_MAX_SUBSCRIPTIONS,
        authorize: Authorize | None = None,
        uncompressed_max: int = UNCOMPRESSED_MAX,
    ) -> None:
        if send_timeout <= 0 or max_subscriptions < 1 or queue_bytes < 1 or queue_size < 1:
            raise ValueError("send_timeout must be positive; queue_size, queue_bytes, max_subscriptions at least 1")
        if not 0 <= uncompressed_max <= PREPARED_MAX:
            # Above it no frame is prepared at all: a larger value would be silently capped.
            raise ValueError(f"uncompressed_max must be between 0 and {PREPARED_MAX} bytes, not {uncompressed_max}")
        self.uncompressed_max = uncompressed_max
        self.queue_bytes = queue_bytes
        self.send_timeout = send_timeout
        self.max_subscriptions = max_subscriptions
        self.backend = backend if backend is not None else MemoryBackend()
        self.queue_size = queue_size
        self.on_full: OnFull = on_full
        self.authorize = authorize
        self._authorize_takes_action = authorize is not None and _takes_action(authorize)
        self.node = secrets.token_hex(6)
        self.running = False
        self._ids = itertools.count(1)
        self._channels: dict[str, _Channel] = {}
        self._subscribers: set[Subscriber] = set()
        # The channels each subscriber is in, in the order it joined them; no entry for one in none. A tuple: a
        # connection is in few channels, and this is the smallest container an idle connection can hold.
        self._memberships: dict[Subscriber, tuple[str, ...]] = {}
        self.supervisor = Supervisor()
        self.draining = False  # shutting down: queued frames go out, new subscriptions are refused
        self._sigterm: Any = None
        self.metrics: Hooks = OFF  # set by `wsapi.metrics.serve_metrics(app)`
        # The app's connections on this process, set by the app: `disconnect_user` orders close them.
        self.connections: Connections | None = None

    # Life cycle

    async def start(self) -> None:
        await self.backend.start(self, self.node, self.supervisor)
        self.running = True
        self.draining = False
        self.supervisor.keep_running("send watchdog", self._watch_sends)
        if self.connections is not None:
            await Revocations(self, self.connections).start()
        self._hook_sigterm()

    async def stop(self) -> None:
        """Let every writer send what is queued and close with 1012 (up to `SHUTDOWN_GRACE`), then disconnect."""
        if not self.running:
            return
        await self._close_connections()
        self.running = False
        self._unhook_sigterm()
        await self.supervisor.stop()
        self._channels.clear()
        self.metrics.channels_open(0)
        await self.backend.stop()

    async def _close_connections(self) -> None:
        """Refuse new subscriptions; send every connection what is queued, then 1012; abort whoever is still not
        done after `SHUTDOWN_GRACE` (a stalled client), so that the server can exit."""
        self.draining = True
        subscribers = list(self._subscribers)
        writers = [writer for subscriber in subscribers if (writer := subscriber.finish()) is not None]
        if writers:
            await asyncio.wait(writers, timeout=SHUTDOWN_GRACE)
        for subscriber in subscribers:
            if subscriber.finish() is not None and not subscriber.done:
                subscriber.abort(f"not closed within {SHUTDOWN_GRACE} s of shutting down")

    def _hook_sigterm(self) -> None:
        """Under a server that handles SIGTERM itself (uvicorn), take it first: uvicorn would close every WebSocket
        with 1012 at once, dropping what is queued, before the app's lifespan (and so `stop()`) runs. The hook sends
        the queued frames and the close, then hands the signal on."""
        self._sigterm = None
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return  # the default action or ignored: no server's shutdown to precede
        loop = asyncio.get_running_loop()

        def on_sigterm(sig: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(self._shut_down_then, previous, sig, frame)

        signal.signal(signal.SIGTERM, on_sigterm)
        self._sigterm = (on_sigterm, previous)

    def _unhook_sigterm(self) -> None:
        if self._sigterm is not None and signal.getsignal(signal.SIGTERM) is self._sigterm[0]:
            signal.signal(signal.SIGTERM, self._sigterm[1])
        self._sigterm = None

    def _shut_down_then(self, previous: Callable[[int, FrameType | None], Any], sig: int, frame: Any) -> None:
        if self.draining or not self.running:
            previous(sig, frame)  # a second SIGTERM: no more waiting
            return

        async def drain() -> None:
            try:
                await self._close_connections()
            finally:
                previous(sig, frame)

        self.spawn("closing connections for SIGTERM", drain())

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def around(self, lifespan: Lifespan[Any]) -> Lifespan[Any]:
        """`lifespan` with the hub started before it and stopped after it."""

        @asynccontextmanager
        async def run(app: Any) -> AsyncIterator[Any]:
            async with self, lifespan(app) as state:
                yield state

        return run

    # Public calls

    async def publish(self, channel: str, data: Any) -> Position:
        """Publish `data` (anything JSON-serialisable) to `channel`, encoded once; the new message's position.

        Raises `InvalidChannel` for a malformed name and `ChannelsUnavailable` if the backend cannot be reached;
        called while handling a connection, `RateLimited` over the app's `Limits.publishes` for one connection.
        """
        self._check_running()
        charge_publish()  # against `Limits.publishes` of the connection being handled, if any
        name, data = check_channel(channel), frames.encode(data)
        try:
            position = await self.backend.publish(name, data)
        except ChannelsUnavailable:
            self.metrics.backend_failed("publish")
            raise
        self.metrics.published()
        # Let the writers run before the caller publishes again: a handler serving a burst of requests from one
        # read would otherwise fill every member's queue before any writer sent a frame.
        await asyncio.sleep(0)
        return position

    async def disconnect_user(
        self, user: str | int, *, code: int = CLOSE_REVOKED, reason: str = "Access revoked"
    ) -> None:
        """Close every connection `identify`d as `user`, on every process sharing the backend, with `code`.

        Returns once the order is published; each process closes its connections as the order reaches it (within
        milliseconds; a process briefly cut off from the backend carries it out when it is back).
        """
        self._check_running()
        try:
            await self.backend.publish(revocations.CHANNEL, frames.encode(disconnect_order(user, code, reason)))
        except ChannelsUnavailable:
            self.metrics.backend_failed("publish")
            raise

    def subscribe(
        self,
        websocket: WebSocket,
        channels: str | Iterable[str] = (),
        *,
        since: Position | Mapping[str, Position | None] | None = None,
        presence: Any = None,
        queue_size: int | None = None,
        queue_bytes: int | None = None,
        on_full: OnFull | None = None,
    ) -> Subscription:
        """Subscribe an accepted WebSocket: `async with hub.subscribe(websocket, "chat", since=...) as sub:`."""
        self._check_running()
        return Subscription(
            self,
            websocket,
            self.queue_size if queue_size is None else queue_size,
            on_full or self.on_full,
            initial_channels(channels, since),
            presence,
            queue_bytes,
        )

    def listen(
        self,
        channel: str,
        *,
        since: Position | None = None,
        queue_size: int | None = None,
        queue_bytes: int | None = None,
        on_full: OnFull | None = None,
    ) -> Listener:
        """Iterate a channel's frames in the app: `async with hub.listen("chat") as frames: async for f in frames:`."""
        self._check_running()
        size = self.queue_size if queue_size is None else queue_size
        return Listener(self, channel, since, size, on_full or self.on_full, queue_bytes)

    async def position(self, channel: str) -> Position:
        """The channel's current position: its epoch and the offset of its last message (0 before the first)."""
        self._check_running()
        return (await self.backend.read(check_channel(channel), None)).position

    async def history(self, channel: str, since: Position | None = None) -> Snapshot:
        """The channel's position and the messages it keeps after `since` (all it keeps, without `since`).

        The snapshot's `frames` are `(offset, frame)` pairs, or None when `since` cannot be resumed from (another
        epoch, or trimmed): the caller starts over from the position, as a client gets `recovered: false`.
        """
        self._check_running()
        name = check_channel(channel)
        try:
            if since is not None:
                return await self.backend.read(name, since)
            while True:  # trimmed between the two reads by a publish: read again from the new start
                current = (await self.backend.read(name, None)).position
                start = Position(current.epoch, max(0, current.offset - self.backend.history_size))
                snapshot = await self.backend.read(name, start)
                if snapshot.frames is not None:
                    return snapshot
        except ChannelsUnavailable:
            self.metrics.backend_failed("read")
            raise

    async def presence(self, channel: str) -> list[Member]:
        """The members of `channel` on every process."""
        self._check_running()
        return await self.backend.members(check_channel(channel))

    async def check(self) -> None:
        """Raise `ChannelsUnavailable` unless the hub is running and its backend reachable (a readiness check)."""
        if not self.running:
            raise ChannelsUnavailable("the channels hub is not running")
        await self.backend.check()

    def _check_running(self) -> None:
        if not self.running:
            raise RuntimeError(
                "the channels hub is not running: it starts with the app's lifespan "
                "(under uvicorn, or `with TestClient(app)`), or with `async with hub:`"
            )

    # Receiver: what the backend delivers

    def on_message(self, channel: str, epoch: str, offset: int, frame: str) -> None:
        ch = self._channels.get(channel)
        if ch is not None:
            self._sequence(ch, epoch, offset, frame)

    def on_event(self, channel: str, frame: str) -> None:
        ch = self._channels.get(channel)
        if ch is not None:
            message = outgoing(frame)
            deliver(ch.subscribers, message, self.uncompressed_max)
            # Presence is live only: subscribers still reading history get it too, in order with what they hold.
            deliver(ch.ahead, message, self.uncompressed_max)
            for catch_up in ch.catching_up.values():
                catch_up.frames.append((EVENT_OFFSET, message))

    def on_resubscribed(self) -> None:
        self.metrics.backend_reconnected()
        for ch in self._channels.values():
            if ch.ready is not None and ch.ready.done() and ch.sequencer.lost():
                self.spawn(f"filling {ch.name!r}", self._fill(ch))

    # Ordering and fan-out

    def _sequence(self, ch: _Channel, epoch: str, offset: int, frame: str) -> None:
        step = ch.sequencer.receive(epoch, offset, frame)
        if step is Step.DELIVER:
            self._fan_out(ch, offset, frame)
        elif step is Step.READ:
            self.spawn(f"filling {ch.name!r}", self._fill(ch))

    def _fan_out(self, ch: _Channel, offset: int, frame: str) -> None:
        message = outgoing(frame)
        if self.metrics.on and ch.subscribers:
            self.metrics.delivered(len(ch.subscribers))
            next(reversed(ch.subscribers)).probe(message, time.perf_counter())
        deliver(ch.subscribers, message, self.uncompressed_max)
        if ch.catching_up:
            for catch_up in ch.catching_up.values():
                catch_up.frames.append((offset, message))
        if ch.ahead:
            # Live delivery has caught up with their replay: from now on they are like the rest.
            caught_up = [subscriber for subscriber, had in ch.ahead.items() if offset > had]
            deliver(caught_up, message, self.uncompressed_max)
            for subscriber in caught_up:
                del ch.ahead[subscriber]
                ch.subscribers[subscriber] = None

    def _reset(self, ch: _Channel, position: Position) -> None:
        """Tell `ch`'s subscribers that it continues from `position`: what they had is no longer recoverable."""
        message = outgoing(frames.subscribed(ch.name, position, False))
        ch.subscribers.update(dict.fromkeys(ch.ahead))
        ch.ahead.clear()
        deliver(ch.subscribers, message, self.uncompressed_max)
        for catch_up in ch.catching_up.values():
            catch_up.start = position
            catch_up.frames.clear()
            catch_up.reset = True

    async def _fill(self, ch: _Channel) -> None:
        """Deliver from history what `ch` missed after its position, then the live messages held meanwhile."""
        delay = RETRY_MIN
        sequencer = ch.sequencer
        while self._channels.get(ch.name) is ch:
            since = sequencer.reading()
            try:
                snapshot = await self.backend.read(ch.name, since)
            except Exception as exc:  # whatever it is, the channel must not stay frozen: try again
                if isinstance(exc, ChannelsUnavailable):
                    self.metrics.backend_failed("read")
                self.supervisor.report(f"filling {ch.name!r} from history", exc)
                await asyncio.sleep(backoff(delay))
                delay = min(delay * 2, RETRY_MAX)
                continue
            fill = sequencer.fill(snapshot.position, snapshot.frames)
            if fill.reset is not None:
                self._reset(ch, fill.reset)
            for offset, frame in fill.frames:
                self._fan_out(ch, offset, frame)
            if not fill.again:
                self._settle(ch, snapshot.position)
                return

    def _settle(self, ch: _Channel, current: Position) -> None:
        """Go live from the last read (`current`), then place the messages held meanwhile."""
        for epoch, offset, frame in ch.sequencer.settle(current):
            self._sequence(ch, epoch, offset, frame)

    # Membership (used by subscribers)

    def new_id(self) -> str:
        return f"{self.node}.{next(self._ids)}"

    def attach(self, subscriber: Subscriber) -> None:
        self._check_running()
        self._subscribers.add(subscriber)

    def release(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def channels_of(self, subscriber: Subscriber) -> tuple[str, ...]:
        """The channels `subscriber` is in, in the order it joined them."""
        return self._memberships.get(subscriber, ())

    async def allowed(self, websocket: WebSocket, channel: str, action: Action = "subscribe") -> bool:
        if self.authorize is None:
            return True
        if self._authorize_takes_action:
            verdict = self.authorize(websocket, channel, action)  # type: ignore[call-arg]
        else:
            verdict = self.authorize(websocket, channel)  # type: ignore[call-arg]
        return bool(await verdict) if inspect.isawaitable(verdict) else bool(verdict)

    async def join(self, subscriber: Subscriber, name: str, since: Position | None) -> None:
        """Add `subscriber` to `name`: queue the `subscribed` frame and, with `since`, the history after it."""
        ch = self._channels.get(name)
        if ch is None:
            ch = self._channels[name] = _Channel(name)
            ch.ready = self.spawn(f"opening {name!r}", self._open(ch))
            self.metrics.channels_open(len(self._channels))
        assert ch.ready is not None
        ch.joining += 1
        try:
            await asyncio.shield(ch.ready)
        except BaseException:
            ch.joining -= 1
            self._close_if_unused(ch)
            raise
        ch.joining -= 1
        joined = self.channels_of(subscriber)
        if name not in joined:
            self._memberships[subscriber] = (*joined, name)
        self.metrics.subscribed(subscriber.route)
        join: Join[Message] | None = ch.sequencer.join_live(since)
        if join is None:
            assert since is not None
            catch_up = ch.catching_up[subscriber] = _CatchUp(ch.position)
            try:
                snapshot = await self.backend.read(name, since)
            except BaseException:
                self.leave(subscriber, name)
                raise
            if ch.catching_up.pop(subscriber, None) is None:
                return  # it left while the history was read
            join = ch.sequencer.join(since, catch_up.start, catch_up.reset, snapshot.frames, catch_up.frames)
        self._place(ch, subscriber, join)

    def _place(self, ch: _Channel, subscriber: Subscriber, join: Join[Message]) -> None:
        """Queue what `join` replays for `subscriber` and deliver to it from then on."""
        backlog = [outgoing(frames.subscribed(ch.name, join.position, join.recovered))]
        backlog.extend(outgoing(frame) for _, frame in join.replay)
        backlog.extend(join.held)
        if join.ahead is None:
            ch.subscribers[subscriber] = None
        else:
            ch.ahead[subscriber] = join.ahead
        subscriber.push_backlog(backlog)

    async def _open(self, ch: _Channel) -> None:
        try:
            await self.backend.subscribe(ch.name)
            ch.sequencer.reading()
            snapshot = await self.backend.read(ch.name, None)
        except BaseException as exc:
            if isinstance(exc, ChannelsUnavailable):
                self.metrics.backend_failed("subscribe")
            if self._channels.get(ch.name) is ch:
                del self._channels[ch.name]
                self.metrics.channels_open(len(self._channels))
            self.spawn(f"unsubscribing {ch.name!r}", self.backend.unsubscribe(ch.name))
            raise
        ch.sequencer.opened(snapshot.position)
        self._settle(ch, snapshot.position)

    def leave(self, subscriber: Subscriber, name: str) -> None:
        joined = self.channels_of(subscriber)
        if name in joined:
            if remaining := tuple(other for other in joined if other != name):
                self._memberships[subscriber] = remaining
            else:
                del self._memberships[subscriber]
            self.metrics.unsubscribed(subscriber.route)
        ch = self._channels.get(name)
        if ch is None:
            return
        ch.subscribers.pop(subscriber, None)
        ch.catching_up.pop(subscriber, None)
        ch.ahead.pop(subscriber, None)
        self._close_if_unused(ch)

    def _close_if_unused(self, ch: _Channel) -> None:
        """Drop `ch`, and its backend subscription, once it has nobody and is not being opened."""
        if ch.empty() and ch.ready is not None and ch.ready.done() and self._channels.get(ch.name) is ch:
            del self._channels[ch.name]
            self.metrics.channels_open(len(self._channels))
            if self.running:
                self.spawn(f"closing {ch.name!r}", self._close(ch.name))

    async def _close(self, name: str) -> None:
        if name not in self._channels:  # not reopened meanwhile
            # If the live connection is down, it resubscribes only the channels still open anyway.
            with contextlib.suppress(ChannelsUnavailable):
                await self.backend.unsubscribe(name)

    def detach(self, subscriber: Subscriber) -> None:
        """Stop delivering to `subscriber` (it stays a presence member until it leaves)."""
        for name in self.channels_of(subscriber):
            ch = self._channels.get(name)
            if ch is not None:
                ch.subscribers.pop(subscriber, None)
                ch.ahead.pop(subscriber, None)

    async def enter(self, channel: str, member: Member) -> None:
        await self.backend.add_member(channel, member)
        await asyncio.sleep(0)  # as in publish(): let the writers send the event

    async def exit(self, channel: str, member: Member) -> None:
        if not self.running:
            return  # the backend has stopped; a Redis node's members are removed when it stops
        await self.backend.remove_member(channel, member)
        await asyncio.sleep(0)

    async def _watch_sends(self) -> None:
        """Abort every connection whose writer has been stuck on one frame for `send_timeout` (a client that stopped
        reading: its TCP window is zero, so neither frames nor a close can reach it)."""
        loop = asyncio.get_running_loop()
        interval = min(1.0, self.send_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for subscriber in list(self._subscribers):
                if subscriber.stalled(now, self.send_timeout):
                    subscriber.abort(f"no frame sent for {self.send_timeout} s")

    def spawn(self, name: str, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run `coroutine` in the background, owned by the hub (cancelled when it stops; errors logged, counted)."""
        return self.supervisor.spawn(name, coroutine)


def _takes_action(hook: Callable[..., Any]) -> bool:
    parameters = inspect.signature(hook).parameters.values()
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


async def get_channels(connection: HTTPConnection) -> Channels:
    """The app's hub, as a dependency: `hub: Channels = Depends(get_channels)` (async: no thread hop per handshake)."""
    hub = getattr(connection.app, "channels", None)
    if not isinstance(hub, Channels):
        raise RuntimeError("this app has no channels hub: create it with WsAPI(channels=Channels(...))")
    return hub


ChannelsDep = Annotated[Channels, Depends(get_channels)]
