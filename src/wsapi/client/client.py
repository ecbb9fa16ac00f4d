"""The client: one WebSocket to a wsapi route, kept open, with typed calls and channel subscriptions over it."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from wsapi.channels.frames import Position
from wsapi.channels.presence import Member
from wsapi.client.backoff import Backoff, RetryPolicy, default_retry_policy
from wsapi.client.errors import CallError
from wsapi.client.events import (
    ClientEvent,
    ClientState,
    Closed,
    Connected,
    Connecting,
    Disconnected,
    Reconnecting,
)
from wsapi.client.subscription import Handler, Subscription

logger = logging.getLogger("wsapi.client")

Token = str | Callable[[], str | Awaitable[str]]
_CHANNEL_FRAMES = frozenset({"subscribed", "message", "join", "leave"})
_NO_DATA: Any = object()


@dataclass(frozen=True, slots=True)
class Published:
    channel: str
    position: Position


class _Pending:
    __slots__ = ("future", "sent")

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self.future = future
        self.sent = False


class Client:
    """A connection to a wsapi route that reconnects by itself: `async with Client(url, token=...) as client:`.

    - `token`: a string or a (sync or async) function returning a fresh one for each (re)connection, sent as the
      query parameter `token_param`.
    - `backoff`, `retry`: when to reconnect (full-jitter exponential backoff; what a close code means).
    - `timeout`: seconds a call waits for its reply, offline time included.
    - `offline`: calls and sends made while disconnected "wait" (queued until connected, within their timeout) or
      "fail" at once with code `offline`.
    - `headers`: extra handshake headers (a service may send `Authorization` this way; a browser cannot).
    """

    def __init__(
        self,
        url: str,
        *,
        token: Token | None = None,
        token_param: str = "token",
        backoff: Backoff | None = None,
        retry: RetryPolicy = default_retry_policy,
        timeout: float = 10.0,
        offline: Literal["wait", "fail"] = "wait",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if offline not in ("wait", "fail"):
            raise ValueError(f"offline must be 'wait' or 'fail', not {offline!r}")
        self.url = url
        self.state: ClientState = "disconnected"
        self._token = token
        self._token_param = token_param
        self._backoff = backoff or Backoff()
        self._retry = retry
        self._timeout = timeout
        self._offline = offline
        self._headers = dict(headers or {})
        self._socket: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._closed_error: CallError | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._handlers: dict[str, list[Handler]] = {}
        self._listeners: list[Callable[[ClientEvent], None]] = []

    # Connection

    async def connect(self) -> None:
        """Start connecting (and keep reconnecting); return once connected, or raise `CallError("closed")` if the
        server refused the client for good."""
        if self._runner is None or self._runner.done():
            self._closed_error = None
            self._backoff.reset()
            self._runner = asyncio.create_task(self._run())
        await self._wait_connected()

    async def close(self) -> None:
        """Close for good: no reconnect; pending calls raise `CallError("closed")`."""
        runner, self._runner = self._runner, None
        socket = self._socket
        self._stop(CallError("closed", "the client was closed"))
        if socket is not None:
            with contextlib.suppress(Exception):
                await socket.close()
        for task in [runner, *self._tasks]:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        await asyncio.gather(*(t for t in [runner, *self._tasks] if t is not None), return_exceptions=True)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def on_state(self, listener: Callable[[ClientEvent], None]) -> Callable[[], None]:
        """Call `listener` with each lifecycle event (`Connecting`, `Connected`, `Disconnected`, `Reconnecting`,
        `Closed`); returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # Typed messages

    async def call(self, type: str, data: Any = _NO_DATA, *, timeout: float | None = None) -> Any:
        """Send a request and return its reply's data (None for an ack); an `error` frame raises `CallError`."""
        self._check_available()
        id = next(self._ids)
        envelope: dict[str, Any] = {"type": type, "id": id}
        if data is not _NO_DATA:
            envelope["data"] = data
        pending = self._pending[id] = _Pending(asyncio.get_running_loop().create_future())
        limit = self._timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                await self._transmit(json.dumps(envelope), pending)
                return await pending.future
        except TimeoutError:
            raise CallError("timeout", f"{type}: no reply within {limit} s") from None
        finally:
            self._pending.pop(id, None)

    async def send(self, type: str, data: Any = _NO_DATA) -> None:
        """Send a message without waiting for an answer; returns once it is handed to the connection."""
        self._check_available()
        envelope: dict[str, Any] = {"type": type} if data is _NO_DATA else {"type": type, "data": data}
        try:
            async with asyncio.timeout(self._timeout):
                await self._transmit(json.dumps(envelope), None)
        except TimeoutError:
            raise CallError("timeout", f"{type}: not connected within {self._timeout} s") from None

    def on(self, type: str, handler: Handler) -> Callable[[], None]:
        """Call `handler(data)` for each server message of `type`; returns a function that removes it."""
        handlers = self._handlers.setdefault(type, [])
        handlers.append(handler)
        return lambda: handlers.remove(handler)

    # Channels (the standard channels route, `ChannelsRouter`)

    def subscribe(
        self,
        channel: str,
        *,
        since: Position | None = None,
        history: int = 0,
        on_message: Handler | None = None,
        on_subscribed: Handler | None = None,
        on_join: Handler | None = None,
        on_leave: Handler | None = None,
        on_error: Handler | None = None,
    ) -> Subscription:
        """Subscribe to `channel`, kept across reconnects and resumed from its last position.

        `on_message(data, position)`, `on_subscribed(Subscribed)`, `on_join(member)`, `on_leave(member)`,
        `on_error(CallError)`. `since` resumes after a position kept elsewhere; `history` starts that many
        messages back when there is no position.
        """
        if channel in self._subscriptions:
            raise ValueError(f"already subscribed to {channel!r}")
        subscription = Subscription(
            channel,
            since=since,
            history=history,
            on_message=on_message,
            on_subscribed=on_subscribed,
            on_join=on_join,
            on_leave=on_leave,
            on_error=on_error,
            leave=self._leave,
        )
        self._subscriptions[channel] = subscription
        if self.state == "connected":
            self._spawn(self._subscribe(subscription))
        return subscription

    async def publish(self, channel: str, data: Any, *, timeout: float | None = None) -> Published:
        """Publish to a channel (if the route allows it); the new message's position."""
        reply = await self.call("publish", {"channel": channel, "data": data}, timeout=timeout)
        return Published(channel, Position(reply["epoch"], reply["offset"]))

    async def presence(self, channel: str, *, timeout: float | None = None) -> list[Member]:
        """The channel's members, from the server."""
        reply = await self.call("presence", {"channel": channel}, timeout=timeout)
        return [Member(m["id"], m.get("info")) for m in reply["members"]]

    # Internals

    def _check_available(self) -> None:
        if self._closed_error is not None:
            raise CallError("closed", self._closed_error.message)
        if self._offline == "fail" and self.state != "connected":
            raise CallError("offline", "not connected")

    async def _transmit(self, text: str, pending: _Pending | None) -> None:
        while self._socket is None:
            if self._closed_error is not None:
                raise CallError("closed", self._closed_error.message)
            await self._connected.wait()
        try:
            await self._socket.send(text)
        except ConnectionClosed:
            raise CallError("disconnected", "the connection closed before the message went out") from None
        if pending is not None:
            pending.sent = True

    async def _wait_connected(self) -> None:
        while self.state != "connected":
            if self._closed_error is not None:
                raise self._closed_error
            await self._connected.wait()

    async def _run(self) -> None:
        while True:
            self._set_state("connecting", Connecting(self._backoff.attempt))
            opened = time.monotonic()
            code, reason, connected = await self._connection()
            if self._closed_error is not None:
                return
            # The backoff starts over only after a connection that lasted: a server that accepts and closes at once
            # (a refusal that retrying cannot cure, an overloaded one) sees the delays grow, whatever the code says.
            lasted = connected and time.monotonic() - opened >= self._backoff.max
            if lasted:
                self._backoff.reset()
            decision = self._retry(code, reason)
            self._set_state("disconnected", Disconnected(code, reason, decision != "stop"))
            if decision == "stop":
                suffix = f": {reason}" if reason else ""
                self._stop(CallError("closed", f"the server closed the connection for good ({code}{suffix})"))
                return
            delay = self._backoff.soon() if decision == "now" and lasted else self._backoff.next()
            self._emit(Reconnecting(delay, self._backoff.attempt))
            await asyncio.sleep(delay)

    async def _connection(self) -> tuple[int, str, bool]:
        """One connection, from the handshake to its close: the close code and reason, and whether it opened."""
        try:
            socket = await websocket_connect(await self._address(), additional_headers=self._headers)
        except InvalidStatus as exc:
            status = exc.response.status_code
            # A denial: refused for good (403, 404...), except when it says "later" (429, 5xx).
            return (1008 if 400 <= status < 500 and status != 429 else 1006), f"HTTP {status}", False
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            return 1006, str(exc), False
        except Exception as exc:  # a token function that failed is a failed attempt like any other
            logger.warning("connecting to %s failed", self.url, exc_info=True)
            return 1006, f"{type(exc).__name__}: {exc}", False
        self._socket = socket
        self._set_state("connected", Connected())
        for subscription in self._subscriptions.values():
            self._spawn(self._subscribe(subscription))
        self._connected.set()
        try:
            async for text in socket:
                if isinstance(text, str):
                    await self._receive(text)
        except ConnectionClosed:
            pass
        finally:
            self._socket = None
            self._connected.clear()
            await self._lost()
        received = socket.protocol.close_rcvd
        return (received.code, received.reason, True) if received is not None else (1006, "", True)

    async def _lost(self) -> None:
        for pending in list(self._pending.values()):
            if pending.sent and not pending.future.done():
                pending.future.set_exception(CallError("disconnected", "the connection closed before the reply"))
        for subscription in self._subscriptions.values():
            subscription.disconnected()

    async def _address(self) -> str:
        if self._token is None:
            return self.url
        token = self._token() if callable(self._token) else self._token
        if inspect.isawaitable(token):
            token = await token
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != self._token_param]
        query.append((self._token_param, str(token)))
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _stop(self, error: CallError) -> None:
        self._closed_error = error
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(error)
        for subscription in self._subscriptions.values():
            subscription.closed(error)
        self._subscriptions.clear()
        self._connected.set()  # wake whoever waits for a connection: there will be none
        if self.state != "closed":
            self._set_state("closed", Closed())

    async def _subscribe(self, subscription: Subscription) -> None:
        while self._subscriptions.get(subscription.channel) is subscription and self.state == "connected":
            try:
                reply = await self.call("subscribe", subscription.request())
            except CallError as error:
                if (
                    error.code in ("disconnected", "closed")
                    or self._subscriptions.get(subscription.channel) is not subscription
                ):
                    return  # resubscribed on reconnect
                if await subscription.refused(error):
                    self._subscriptions.pop(subscription.channel, None)
                    return
                await asyncio.sleep(self._backoff.initial + self._backoff.soon())
                continue
            await subscription.accepted(reply["members"])
            return

    def _leave(self, subscription: Subscription) -> None:
        if self._subscriptions.get(subscription.channel) is not subscription:
            return
        del self._subscriptions[subscription.channel]
        if self.state == "connected":
            self._spawn(self._quietly(self.call("unsubscribe", {"channel": subscription.channel})))

    @staticmethod
    async def _quietly(call: Awaitable[Any]) -> None:
        with contextlib.suppress(CallError):
            await call

    async def _receive(self, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            return  # not ours to understand
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        id = frame.get("id")
        answer = kind in ("ack", "error") or (isinstance(kind, str) and kind.endswith(".reply"))
        if answer and isinstance(id, int) and (pending := self._pending.get(id)) is not None:
            if not pending.future.done():
                if kind == "error":
                    data = frame.get("data") or {}
                    error = CallError(data.get("code", "error"), data.get("message", ""), data.get("errors"))
                    pending.future.set_exception(error)
                else:
                    pending.future.set_result(frame.get("data"))
            return
        if kind in _CHANNEL_FRAMES and isinstance(frame.get("channel"), str):
            subscription = self._subscriptions.get(frame["channel"])
            if subscription is not None:
                await subscription.frame(frame)
            return
        for handler in list(self._handlers.get(kind, ())) if isinstance(kind, str) else ():
            result = handler(frame.get("data"))
            if inspect.isawaitable(result):
                await result

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _set_state(self, state: ClientState, event: ClientEvent) -> None:
        self.state = state
        self._emit(event)

    def _emit(self, event: ClientEvent) -> None:
        for listener in list(self._listeners):
            listener(event)
