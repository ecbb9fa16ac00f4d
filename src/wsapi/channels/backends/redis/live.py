"""The live (pub/sub) connection of one process: subscribe, read, and notice a Redis that stopped answering.

redis-py reads a pub/sub connection without a timeout, so a Redis that is frozen (stopped, paused, cut off without a
reset) would leave it waiting forever. Here the connection is pinged whenever it has been quiet for `timeout`
seconds, and given up if the PING is not answered within `timeout` more; the supervised loop then reconnects with
backoff, resubscribes, and tells the receiver to fill what it missed from history.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wsapi.channels.errors import ChannelsUnavailable

DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


class Subscriptions:
    """What a live connection keeps across reconnections, whatever it runs on (one Redis's pub/sub, a cluster's
    sharded pub/sub): the names wanted, and the confirmations that `subscribe()` waits for."""

    # Errors that mean "the connection is not usable now" while subscribing.
    unreachable: tuple[type[BaseException], ...] = (*DOWN, TimeoutError)

    def __init__(
        self,
        timeout: float,
        on_payload: Callable[[bytes, bytes], None],
        on_resubscribed: Callable[[], None],
        describe: Callable[[str, BaseException | None], ChannelsUnavailable],
    ) -> None:
        self._timeout = timeout
        self._on_payload = on_payload
        self._on_resubscribed = on_resubscribed
        self._describe = describe
        self._wanted: set[str] = set()
        self._confirming: dict[bytes, list[asyncio.Future[None]]] = {}
        self._pubsub: PubSub | None = None
        self._lock = asyncio.Lock()
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def up(self) -> bool:
        """Whether the connection is established and every wanted name subscribed."""
        return self._pubsub is not None

    async def subscribe(self, name: str) -> None:
        """Subscribe `name`; returns once Redis confirmed it (within `timeout`), else `ChannelsUnavailable`."""
        self._wanted.add(name)
        pubsub = self._pubsub
        if pubsub is None:
            raise self._describe(f"subscribing to {name!r}", None)
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirming.setdefault(name.encode(), []).append(confirmed)
        try:
            async with asyncio.timeout(self._timeout):
                async with self._lock:
                    if self._pubsub is not pubsub:  # lost while waiting: do not revive the closed connection
                        raise RedisConnectionError("live connection lost")
                    await self._send_subscribe(pubsub, name)
                await confirmed
        except self.unreachable as exc:
            confirmed.cancel()
            raise self._describe(f"subscribing to {name!r}", exc) from exc

    async def unsubscribe(self, name: str) -> None:
        self._wanted.discard(name)
        pubsub = self._pubsub
        if pubsub is not None:
            # If the connection is gone, so is the subscription; a frozen Redis gets `timeout` and no more.
            with contextlib.suppress(*self.unreachable):
                async with asyncio.timeout(self._timeout), self._lock:
                    if self._pubsub is pubsub:
                        await self._send_unsubscribe(pubsub, name)

    async def _send_subscribe(self, pubsub: PubSub, name: str) -> None:
        raise NotImplementedError

    async def _send_unsubscribe(self, pubsub: PubSub, name: str) -> None:
        raise NotImplementedError

    def _confirm(self, name: bytes) -> None:
        for waiter in self._confirming.pop(name, ()):
            if not waiter.done():
                waiter.set_result(None)

    def _fail_confirmations(self) -> None:
        waiting, self._confirming = self._confirming, {}
        for waiters in waiting.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(self._describe("live connection", RedisConnectionError("lost")))


class LiveConnection(Subscriptions):
    """Subscriptions to pub/sub names, kept across reconnections; payloads go to `on_payload(name, payload)`.

    `run()` is one connection's life: it returns never, and raises when the connection is lost; run it again (the
    hub's supervisor does) to reconnect. The control name is subscribed last, so its confirmation means every name
    before it is live.
    """

    def __init__(
        self,
        redis: Redis,
        control: str,
        timeout: float,
        on_payload: Callable[[bytes, bytes], None],
        on_resubscribed: Callable[[], None],
        describe: Callable[[str, BaseException | None], ChannelsUnavailable],
    ) -> None:
        super().__init__(timeout, on_payload, on_resubscribed, describe)
        self._redis = redis
        self._control = control

    async def _send_subscribe(self, pubsub: PubSub, name: str) -> None:
        await pubsub.subscribe(name)

    async def _send_unsubscribe(self, pubsub: PubSub, name: str) -> None:
        await pubsub.unsubscribe(name)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        control = self._control.encode()
        pubsub = self._redis.pubsub()
        try:
            async with asyncio.timeout(self._timeout):
                async with self._lock:
                    await pubsub.subscribe(*self._wanted, self._control)
            heard = loop.time()
            pinged: float | None = None
            while True:
                item = await pubsub.get_message(timeout=min(self._timeout, 0.5))
                now = loop.time()
                if item is None:
                    if pinged is not None and now - pinged > self._timeout:
                        raise RedisTimeoutError(f"no answer to PING within {self._timeout} s")
                    if pinged is None and now - heard > self._timeout:
                        pinged = now
                        await pubsub.ping()
                    continue
                heard, pinged = now, None
                kind = item["type"]
                if kind == "message":
                    self._on_payload(item["channel"], item["data"])
                    # One read may carry hundreds of messages: let the writers send each before the next.
                    await asyncio.sleep(0)
                elif kind == "subscribe" and item["channel"] == control:
                    self._pubsub = pubsub
                    if self.connected.done():
                        self._on_resubscribed()
                    else:
                        self.connected.set_result(None)
                elif kind == "subscribe":
                    self._confirm(item["channel"])
        except TimeoutError as exc:  # the (re)subscription was not confirmed in time
            raise RedisTimeoutError(f"subscribing took more than {self._timeout} s") from exc
        finally:
            self._pubsub = None
            self._fail_confirmations()
            with contextlib.suppress(*DOWN, TimeoutError):
                async with asyncio.timeout(self._timeout):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
