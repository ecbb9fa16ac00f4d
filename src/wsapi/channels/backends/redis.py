"""Redis backend (redis-py asyncio; Valkey works the same): processes sharing one Redis behave as one app.

Per channel C (keys share the hash tag `{C}`, so a cluster keeps them on one slot):

- `<prefix>:{C}:meta`: a hash with the channel's `epoch` and `top` (last offset).
- `<prefix>:{C}:history`: a stream capped at `history_size` entries (exact trim); entry ids are `<offset>-0`.
- `<prefix>:{C}:presence`: a hash of member id to member JSON.
- pub/sub channel `<prefix>:C`: live delivery to every process subscribed to C.

A Lua script numbers, stores and publishes each message in one step, so offsets, history and live order agree.
When the meta hash is missing (Redis flushed or restarted without persistence, or `history_ttl` passed), the next
script run starts a new epoch with a random id and an empty history.

Presence: each process (node) refreshes `<prefix>:node:<node>` every `presence_ttl / 3` seconds with a time-to-live
of `presence_ttl`. Members of a node whose key has expired are left out of `members()` at once; a surviving node
then removes them and publishes their `leave` events within one more heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wsapi.channels import frames
from wsapi.channels.backends.base import Backend, Receiver, Snapshot, replay
from wsapi.channels.errors import ChannelsUnavailable
from wsapi.channels.frames import Position
from wsapi.channels.presence import Member

logger = logging.getLogger("wsapi.channels")

_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
_BACKOFF_MIN = 0.05
_BACKOFF_MAX = 2.0

# KEYS: meta, history. ARGV[1]: a fresh epoch id, ARGV[2]: history time-to-live in ms (0: none).
_ENSURE_EPOCH = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
  if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
end
"""

# ARGV[3]: channel name, ARGV[4]: data as JSON, ARGV[5]: history size, ARGV[6]: pub/sub channel.
# The frame is built here, once, in the same format as frames.message().
_PUBLISH = (
    _ENSURE_EPOCH
    + """
local offset = redis.call('HINCRBY', KEYS[1], 'top', 1)
local frame = '{"type":"message","channel":"' .. ARGV[3] .. '","epoch":"' .. epoch .. '","offset":' .. offset
  .. ',"data":' .. ARGV[4] .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], offset .. '-0', 'f', frame)
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
redis.call('PUBLISH', ARGV[6], 'm' .. offset .. ':' .. epoch .. ' ' .. frame)
return {epoch, offset}
"""
)

# ARGV[3]: the epoch to read from ('' for none), ARGV[4]: the offset after which to read.
_READ = (
    _ENSURE_EPOCH
    + """
local top = tonumber(redis.call('HGET', KEYS[1], 'top'))
local since = tonumber(ARGV[4])
local entries = {}
if ARGV[3] == epoch and since < top then
  entries = redis.call('XRANGE', KEYS[2], (since + 1) .. '-0', '+')
end
return {epoch, top, entries}
"""
)


class RedisBackend(Backend):
    """Scale-out backend. `history_size` messages are kept per channel; with `history_ttl` (seconds) a channel's
    history expires that long after its last publication. `presence_ttl` (seconds) bounds how long members of a
    process that died stay listed."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        history_size: int = 100,
        history_ttl: float | None = None,
        presence_ttl: float = 10.0,
        prefix: str = "wsapi",
    ) -> None:
        # Commands retry briefly, so that a publish to a Redis that is down fails in well under a second.
        self._redis = Redis.from_url(
            url, retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), 2), socket_connect_timeout=2
        )
        # The live connection does not retry by itself: the listen loop reconnects, then fills the gap.
        self._pubsub_redis = Redis.from_url(url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2)
        self.history_size = history_size
        self.presence_ttl = presence_ttl
        self._ttl_ms = 0 if history_ttl is None else max(1, int(history_ttl * 1000))
        self._prefix = prefix
        self._live_prefix = f"{prefix}:"
        self._publish = self._redis.register_script(_PUBLISH)
        self._read = self._redis.register_script(_READ)
        kwargs = self._redis.connection_pool.connection_kwargs
        self._where = f"{kwargs.get('host', 'unix socket')}:{kwargs.get('port', '')}"
        self._receiver: Receiver | None = None
        self._node = ""
        self._control = ""
        self._wanted: set[str] = set()
        self._confirming: dict[bytes, list[asyncio.Future[None]]] = {}
        self._pubsub: PubSub | None = None
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._members: dict[tuple[str, str], Member] = {}  # this node's, to store again if Redis loses them

    def _unavailable(self, what: str, exc: BaseException) -> ChannelsUnavailable:
        return ChannelsUnavailable(f"Redis at {self._where} is unreachable: {what} failed ({exc})")

    def _keys(self, channel: str, *names: str) -> list[str]:
        return [f"{self._prefix}:{{{channel}}}:{name}" for name in names]

    # Life cycle

    async def start(self, receiver: Receiver, node: str) -> None:
        self._receiver = receiver
        self._node = node
        self._control = f"{self._prefix}:node:{node}"
        try:
            await self._redis.ping()
        except _DOWN as exc:
            raise self._unavailable("connecting", exc) from exc
        connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tasks = [asyncio.create_task(self._listen(connected)), asyncio.create_task(self._heartbeat())]
        try:
            await connected
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks = []
        try:
            await self._reap(self._node)  # this node's members leave now, with their leave events
            await self._redis.delete(f"{self._prefix}:node:{self._node}")
        except _DOWN:
            logger.info("Redis unreachable at shutdown: this node's members expire after %s s", self.presence_ttl)
        await self._redis.aclose()
        await self._pubsub_redis.aclose()
        self._receiver = None

    async def check(self) -> None:
        if self._pubsub is None:
            raise ChannelsUnavailable(f"Redis at {self._where}: the live connection is down")
        try:
            await self._redis.ping()
        except _DOWN as exc:
            raise self._unavailable("ping", exc) from exc

    # Messages

    async def publish(self, channel: str, data: str) -> Position:
        try:
            epoch, offset = await self._publish(
                keys=self._keys(channel, "meta", "history"),
                args=(
                    secrets.token_hex(8),
                    self._ttl_ms,
                    channel,
                    data,
                    self.history_size,
                    self._live_prefix + channel,
                ),
            )
        except _DOWN as exc:
            raise self._unavailable(f"publish to {channel!r}", exc) from exc
        return Position(epoch.decode(), offset)

    async def publish_event(self, channel: str, frame: str) -> None:
        try:
            await self._redis.publish(self._live_prefix + channel, "e" + frame)
        except _DOWN as exc:
            raise self._unavailable(f"presence event on {channel!r}", exc) from exc

    async def read(self, channel: str, since: Position | None) -> Snapshot:
        args: list[Any] = [secrets.token_hex(8), self._ttl_ms, "", 0]
        if since is not None:
            args[2:] = [since.epoch, since.offset]
        try:
            epoch, top, entries = await self._read(keys=self._keys(channel, "meta", "history"), args=args)
        except _DOWN as exc:
            raise self._unavailable(f"reading {channel!r}", exc) from exc
        current = Position(epoch.decode(), top)
        if since is None:
            return Snapshot(current, [])
        after = [(int(entry_id.partition(b"-")[0]), fields[1].decode()) for entry_id, fields in entries]
        return Snapshot(current, replay(since, current, after))

    # Live delivery

    async def subscribe(self, channel: str) -> None:
        name = self._live_prefix + channel
        self._wanted.add(name)
        pubsub = self._pubsub
        if pubsub is None:
            raise ChannelsUnavailable(f"Redis at {self._where} is unreachable: live connection is down")
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirming.setdefault(name.encode(), []).append(confirmed)
        try:
            async with self._lock:
                if self._pubsub is not pubsub:  # lost while waiting: do not revive the closed connection
                    raise RedisConnectionError("live connection lost")
                await pubsub.subscribe(name)
        except _DOWN as exc:
            raise self._unavailable(f"subscribing to {channel!r}", exc) from exc
        await confirmed

    async def unsubscribe(self, channel: str) -> None:
        name = self._live_prefix + channel
        self._wanted.discard(name)
        pubsub = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(*_DOWN):  # if the connection is gone, so is the subscription
                async with self._lock:
                    if self._pubsub is pubsub:
                        await pubsub.unsubscribe(name)

    async def _listen(self, connected: asyncio.Future[None]) -> None:
        """Read the live connection forever: reconnect with backoff, resubscribe, then have the hub fill the gap."""
        delay = _BACKOFF_MIN
        control = self._control.encode()
        while True:
            pubsub = self._pubsub_redis.pubsub()
            try:
                async with self._lock:
                    # The control channel goes last: its confirmation means every channel before it is live.
                    await pubsub.subscribe(*self._wanted, self._control)
                async for item in pubsub.listen():
                    kind = item["type"]
                    if kind == "message":
                        self._deliver(item["channel"], item["data"])
                    elif kind == "subscribe" and item["channel"] == control:
                        self._pubsub = pubsub
                        delay = _BACKOFF_MIN
                        if connected.done():
                            assert self._receiver is not None
                            self._receiver.on_resubscribed()
                        else:
                            connected.set_result(None)
                    elif kind == "subscribe":
                        for waiter in self._confirming.pop(item["channel"], ()):
                            if not waiter.done():
                                waiter.set_result(None)
            except _DOWN as exc:
                if not connected.done():
                    connected.set_exception(self._unavailable("connecting", exc))
                    return
                logger.warning("Redis live connection lost (%s); reconnecting in %.2f s", exc, delay)
            finally:
                self._pubsub = None
                self._fail_confirmations()
                await _close_quietly(pubsub)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, _BACKOFF_MAX)

    def _fail_confirmations(self) -> None:
        waiting, self._confirming = self._confirming, {}
        for waiters in waiting.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(ChannelsUnavailable(f"Redis at {self._where}: live connection lost"))

    def _deliver(self, channel: bytes, payload: bytes) -> None:
        receiver = self._receiver
        assert receiver is not None
        name = channel.decode()[len(self._live_prefix) :]
        text = payload.decode()
        if text[0] == "m":
            head, _, frame = text.partition(" ")
            offset, _, epoch = head[1:].partition(":")
            receiver.on_message(name, epoch, int(offset), frame)
        else:
            receiver.on_event(name, text[1:])

    # Presence

    async def add_member(self, channel: str, member: Member) -> None:
        self._members[channel, member.id] = member
        try:
            await self._store_members([(channel, member)])
        except _DOWN as exc:
            raise self._unavailable(f"presence in {channel!r}", exc) from exc

    async def _store_members(self, members: list[tuple[str, Member]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel, member in members:
                pipe.hset(self._keys(channel, "presence")[0], member.id, member.to_json())
                pipe.sadd(f"{self._prefix}:node:{member.node}:channels", channel)
            await pipe.execute()

    async def remove_member(self, channel: str, member: Member) -> None:
        self._members.pop((channel, member.id), None)
        try:
            await self._redis.hdel(self._keys(channel, "presence")[0], member.id)
        except _DOWN as exc:
            raise self._unavailable(f"presence in {channel!r}", exc) from exc

    async def members(self, channel: str) -> list[Member]:
        try:
            entries = await self._redis.hgetall(self._keys(channel, "presence")[0])
            members = [Member.from_json(value) for value in entries.values()]
            alive = await self._alive({m.node for m in members})
        except _DOWN as exc:
            raise self._unavailable(f"presence in {channel!r}", exc) from exc
        return [m for m in members if m.node in alive]

    async def _alive(self, nodes: Iterable[str]) -> set[str]:
        others = [node for node in nodes if node != self._node]
        async with self._redis.pipeline(transaction=False) as pipe:
            for node in others:
                pipe.exists(f"{self._prefix}:node:{node}")
            found = await pipe.execute()
        return {self._node, *(node for node, exists in zip(others, found, strict=True) if exists)}

    async def _heartbeat(self) -> None:
        """Keep this node's key alive; remove the members of nodes whose key expired (one node does each).

        If this node's own key was gone (Redis lost its data, or this process stalled past `presence_ttl` and was
        reaped), its members are stored again, with their join events.
        """
        nodes_key = f"{self._prefix}:nodes"
        ttl_ms = max(1, int(self.presence_ttl * 1000))
        while True:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.set(f"{self._prefix}:node:{self._node}", 1, px=ttl_ms, get=True)
                    pipe.sadd(nodes_key, self._node)
                    was_alive, _ = await pipe.execute()
                if was_alive is None and self._members:
                    members = [(channel, member) for (channel, _), member in self._members.items()]
                    await self._store_members(members)
                    for channel, member in members:
                        await self.publish_event(channel, frames.presence("join", channel, member.to_json()))
                nodes = set(_texts(await self._redis.smembers(nodes_key)))
                alive = await self._alive(nodes)
                for node in nodes - alive:
                    if await self._redis.set(f"{self._prefix}:reap:{node}", self._node, nx=True, px=ttl_ms):
                        await self._reap(node)
            except _DOWN as exc:
                logger.info("presence heartbeat failed: %s", exc)
            await asyncio.sleep(self.presence_ttl / 3)

    async def _reap(self, node: str) -> None:
        """Remove every member `node` has, publishing their leave events."""
        channels_key = f"{self._prefix}:node:{node}:channels"
        prefix = f"{node}."
        for channel in _texts(await self._redis.smembers(channels_key)):
            key = self._keys(channel, "presence")[0]
            entries = await self._redis.hgetall(key)
            gone = {
                k: v for k, v in zip(_texts(entries), _texts(entries.values()), strict=True) if k.startswith(prefix)
            }
            if gone:
                await self._redis.hdel(key, *gone)
                for member in gone.values():
                    await self.publish_event(channel, frames.presence("leave", channel, member))
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(channels_key)
            pipe.srem(f"{self._prefix}:nodes", node)
            await pipe.execute()


async def _close_quietly(pubsub: PubSub) -> None:
    with contextlib.suppress(*_DOWN):
        await pubsub.aclose()  # type: ignore[no-untyped-call]


def _texts(values: Iterable[bytes | str]) -> list[str]:
    """Replies as text (this client leaves responses undecoded, as bytes)."""
    return [value.decode() if isinstance(value, bytes) else value for value in values]
