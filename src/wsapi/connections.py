"""The app's open WebSocket connections on this process: the checks a handshake passes before any route sees it,
whose each connection is, when its credentials expire, and how many there are.

Per handshake, in order (each refusal is an HTTP denial, so no socket is ever opened):

1. `Origin` not allowed: 403 (see `wsapi.origins`);
2. too many new connections from this IP (`Limits.handshakes_per_ip`): 429 with `Retry-After`;
3. too many open connections on this process (`max_connections`): 503; from this IP (`max_connections_per_ip`): 429.

A route's endpoint or dependency says whose the connection is with `identify(websocket, user_id, expires_at=...)`:
that applies the per-user limits (429 before accept, 1008 after), lets `hub.disconnect_user` find it, and closes it
with 4401 at `expires_at` unless it is called again with a later one (a refresh).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections.abc import Hashable
from datetime import datetime
from time import monotonic
from typing import Any

from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from wsapi.exceptions import HTTPException
from wsapi.limits import Limits, RateLimit, RateLimited, TokenBucket
from wsapi.origins import OriginPolicy, handshake_origin

logger = logging.getLogger("wsapi")

CONNECTION_KEY = "wsapi.connection"
CLOSE_EXPIRED = 4401  # the credentials' expiry passed without a refresh
CLOSE_REVOKED = 4403  # the app disconnected the user (`hub.disconnect_user`)
CLOSE_RATE_LIMITED = 1008
CLOSE_TOO_BIG = 1009
_PRUNE_AT = 10_000  # remembered handshake buckets (IPs, users) before the full ones are forgotten

current_connection: contextvars.ContextVar[Connection | None] = contextvars.ContextVar("wsapi.connection", default=None)

__all__ = ["CLOSE_EXPIRED", "CLOSE_REVOKED", "Connection", "Connections", "identify"]


class Connection:
    """One open WebSocket: its client's IP, its user once identified, its buckets, its expiry timer."""

    __slots__ = (
        "_send",
        "closed",
        "current",
        "expiry",
        "inbound",
        "ip",
        "limits",
        "max_message_size",
        "publishes",
        "raw_receive",
        "user",
        "websocket",
    )

    def __init__(self, ip: str, receive: Receive, send: Send, limits: Limits) -> None:
        self.ip = ip
        self.limits = limits
        self.user: Hashable | None = None
        self.inbound: TokenBucket | None = limits.messages.bucket() if limits.messages else None
        self.publishes: TokenBucket | None = None  # made on the first publish
        self.max_message_size = limits.max_message_size
        self.expiry: asyncio.TimerHandle | None = None
        self.websocket: WebSocket | None = None
        self.closed: tuple[int, str] | None = None
        self.raw_receive = receive
        self._send = send
        self.current: contextvars.Token[Connection | None] | None = None  # while it is `current_connection`

    def use_limits(self, rate_limit: RateLimit | None, max_message_size: int) -> None:
        """A route's own limits, in place of the app's."""
        self.inbound = rate_limit.bucket() if rate_limit else None
        self.max_message_size = max_message_size

    async def close(self, code: int, reason: str) -> None:
        """Close from the server's side; the endpoint's later sends end it as the client leaving would.

        The close goes out through whatever sends for the WebSocket now: under a channels subscription, its queue,
        behind the frames already in it.
        """
        if self.closed is not None:
            return
        self.closed = (code, reason)
        if self.expiry is not None:
            self.expiry.cancel()
        send = self._send
        websocket = self.websocket
        if websocket is not None:
            send = websocket._send
            websocket._send = _gone  # Starlette turns an OSError from the transport into WebSocketDisconnect
        try:
            await send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:  # the client is gone already
            logger.debug("could not send close %d", code, exc_info=True)

    def expire_at(self, when: float | datetime) -> None:
        deadline = when.timestamp() if isinstance(when, datetime) else float(when)
        delay = deadline - time.time()
        if delay <= 0:
            raise WebSocketException(CLOSE_EXPIRED, "Credentials expired")
        if self.expiry is not None:
            self.expiry.cancel()
        self.expiry = asyncio.get_running_loop().call_later(delay, self._expired)

    def _expired(self) -> None:
        self.expiry = None
        logger.info("closing a connection of %r: its credentials expired", self.user)
        _spawn(self.close(CLOSE_EXPIRED, "Credentials expired"))

    async def receive(self) -> Message:
        """The next message, read no faster than the inbound limit, closed with 1009 when larger than allowed."""
        message = await self.raw_receive()
        if message["type"] == "websocket.receive":
            # Inlined (no calls) but for the clock: this runs for every message of a plain route.
            text = message.get("text")
            limit = self.max_message_size
            # A character is at most 4 bytes in UTF-8: only long texts need encoding to be measured.
            if (
                (len(text) > limit >> 2 and len(text.encode()) > limit)
                if text is not None
                else len(message.get("bytes") or b"") > limit
            ):
                await self.close(CLOSE_TOO_BIG, f"Message larger than {limit} bytes")
                return {"type": "websocket.disconnect", "code": CLOSE_TOO_BIG, "reason": "Message too big"}
            bucket = self.inbound
            if bucket is not None and (wait := bucket.take(monotonic())):
                await asyncio.sleep(wait)
        return message


async def _gone(message: Message) -> None:
    raise OSError("the server closed this connection")


_background: set[asyncio.Task[Any]] = set()


def _spawn(coroutine: Any) -> None:
    task = asyncio.ensure_future(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


class Connections:
    """The app's connections on this process and the limits on opening them; it runs in front of the routes."""

    def __init__(self, limits: Limits, origins: OriginPolicy) -> None:
        self.limits = limits
        self.origins = origins
        self.route_origins: list[tuple[BaseRoute, OriginPolicy]] = []
        self.open = 0
        self.per_ip: dict[str, int] = {}
        self.users: dict[Hashable, set[Connection]] = {}
        self.ip_handshakes: dict[str, TokenBucket] = {}
        self.user_handshakes: dict[Hashable, TokenBucket] = {}

    def policy_for(self, scope: Scope) -> OriginPolicy:
        for route, policy in self.route_origins:
            if route.matches(scope)[0] is Match.FULL:
                return policy
        return self.origins

    def admit(self, scope: Scope, receive: Receive, send: Send) -> Connection:
        """Check the handshake: the connection, counted and findable until `release()`; else `Refused`."""
        origin, host = handshake_origin(scope)
        if origin is not None and not self.policy_for(scope).allows(origin, host):
            logger.info("WebSocket %s refused: origin %r is not allowed", scope["path"], origin)
            raise Refused(403, "Origin not allowed")
        client = scope.get("client")
        ip = client[0] if client else ""
        limits = self.limits
        if limits.handshakes_per_ip is not None:
            wait = _take(self.ip_handshakes, ip, limits.handshakes_per_ip)
            if wait:
                logger.info("WebSocket %s refused: too many handshakes from %s", scope["path"], ip)
                raise Refused(429, "Too many new connections", _retry_after(wait))
        if limits.max_connections is not None and self.open >= limits.max_connections:
            logger.warning("WebSocket %s refused: %d connections open (max_connections)", scope["path"], self.open)
            raise Refused(503, "Too many connections")
        from_ip = self.per_ip.get(ip, 0)
        if limits.max_connections_per_ip is not None and from_ip >= limits.max_connections_per_ip:
            logger.info("WebSocket %s refused: %d connections open from %s", scope["path"], from_ip, ip)
            raise Refused(429, "Too many connections from this address")
        connection = Connection(ip, receive, send, limits)
        scope[CONNECTION_KEY] = connection
        self.open += 1
        self.per_ip[ip] = from_ip + 1
        connection.current = current_connection.set(connection)
        return connection

    def release(self, connection: Connection) -> None:
        """The connection has ended: no longer counted, nor current."""
        if connection.current is not None:
            current_connection.reset(connection.current)
            connection.current = None
        self._forget(connection)

    def _forget(self, connection: Connection) -> None:
        self.open -= 1
        left = self.per_ip[connection.ip] - 1
        if left:
            self.per_ip[connection.ip] = left
        else:
            del self.per_ip[connection.ip]
        if connection.expiry is not None:
            connection.expiry.cancel()
        if connection.user is not None:
            self._unlink(connection)

    def _unlink(self, connection: Connection) -> None:
        same_user = self.users.get(connection.user)
        if same_user is not None:
            same_user.discard(connection)
            if not same_user:
                del self.users[connection.user]

    def identify(self, connection: Connection, user: Hashable) -> None:
        if connection.user == user:
            return
        limits = self.limits
        same_user = self.users.get(user, ())
        if limits.max_connections_per_user is not None and len(same_user) >= limits.max_connections_per_user:
            raise HTTPException(429, "Too many connections for this user")
        if limits.handshakes_per_user is not None:
            wait = _take(self.user_handshakes, user, limits.handshakes_per_user)
            if wait:
                raise HTTPException(429, "Too many new connections for this user", _retry_after(wait))
        if connection.user is not None:
            self._unlink(connection)
        connection.user = user
        self.users.setdefault(user, set()).add(connection)

    async def disconnect_user(self, user: Hashable, code: int, reason: str) -> int:
        """Close every connection of `user` on this process; how many there were."""
        connections = list(self.users.get(user, ()))
        if connections:
            logger.info("disconnecting %d connection(s) of %r: %d %s", len(connections), user, code, reason)
            await asyncio.gather(*(connection.close(code, reason) for connection in connections))
        return len(connections)


def _take(buckets: dict[Any, TokenBucket], key: Hashable, limit: RateLimit) -> float:
    now = time.monotonic()
    bucket = buckets.get(key)
    if bucket is None:
        if len(buckets) >= _PRUNE_AT:
            for stale in [k for k, b in buckets.items() if b.full(now)]:
                del buckets[stale]
        bucket = buckets[key] = limit.bucket()
    return bucket.take(now)


def _retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}


class Refused(Exception):
    """A handshake refused before any route sees it."""

    def __init__(self, status_code: int, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code, text)
        self.status_code = status_code
        self.text = text
        self.headers = headers

    async def deny(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the refusal: an HTTP denial response, or a bare close where the server has none."""
        if "websocket.http.response" in scope.get("extensions", {}):
            response = PlainTextResponse(self.text, status_code=self.status_code, headers=self.headers)
            await WebSocket(scope, receive, send).send_denial_response(response)
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": self.text})


def charge_publish() -> None:
    """Count a publish against the connection being handled, if any: `RateLimited` when over `Limits.publishes`."""
    connection = current_connection.get()
    if connection is None or connection.limits.publishes is None:
        return
    bucket = connection.publishes
    if bucket is None:
        bucket = connection.publishes = connection.limits.publishes.bucket()
    wait = bucket.take(time.monotonic())
    if wait:
        raise RateLimited("too many publishes", wait)


def identify(connection: HTTPConnection, user: Hashable, *, expires_at: float | datetime | None = None) -> None:
    """Say whose `connection` is (a user id: a string or an integer), and until when its credentials hold.

    Call it from a security dependency or the endpoint; on an HTTP request it does nothing. The per-user limits
    apply (HTTP 429 before `accept()`, close 1008 after); `hub.disconnect_user(user)` closes it, on every process;
    at `expires_at` (a Unix time, as a token's `exp`, or an aware datetime) it is closed with 4401 unless
    `identify` is called again with a later one, typically from a message by which the client sends a fresh token.
    """
    if connection.scope["type"] != "websocket":
        return  # an HTTP request: one security dependency can serve both kinds of route
    record = connection.scope.get(CONNECTION_KEY)
    if not isinstance(record, Connection):
        raise RuntimeError("identify() needs a WebSocket served by a WsAPI app")
    registry = connection.scope["app"].connections
    registry.identify(record, user)
    if expires_at is not None:
        record.expire_at(expires_at)
