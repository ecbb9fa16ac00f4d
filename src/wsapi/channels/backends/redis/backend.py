"""`RedisBackend`: numbering, history and live delivery through Redis, presence with heartbeats; see `layout` for the
keys and scripts, `commands` for timeouts and retries, `live` for the pub/sub connection.

Presence: each process (node) refreshes its heartbeat key every `presence_ttl / 3` seconds with a time-to-live of
`presence_ttl`. Members of a node whose key has expired are left out of `members()` at once; a surviving node's
reaper (a task apart from the heartbeat, so a large reap never delays it) removes them and publishes their `leave`
events within one more period. A removal that fails (Redis unreachable) is retried by the heartbeat until it is done.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable
from typing import TypedDict, Unpack

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from wsapi.channels import frames
from wsapi.channels.backends.base import Backend, Receiver, Snapshot, replay
from wsapi.channels.backends.redis.commands import Commands, client_options
from wsapi.channels.backends.redis.layout import PUBLISH, READ, SHARDED_PUBLISH, Keys, LiveMessage, parse_payload
from wsapi.channels.backends.redis.live import LiveConnection
from wsapi.channels.backends.redis.sharded import ShardedLiveConnection
from wsapi.channels.errors import ChannelsUnavailable
from wsapi.channels.frames import Position
from wsapi.channels.presence import Member
from wsapi.channels.supervisor import Supervisor

logger = logging.getLogger("wsapi.channels")

DEFAULT_HISTORY_TTL = 86400.0
DEFAULT_TIMEOUT = 2.0


class RedisOptions(TypedDict, total=False):
    """The options every Redis deployment's backend takes (`RedisBackend`'s docstring says what they do)."""

    history_size: int  # default 200
    history_ttl: float | None  # default DEFAULT_HISTORY_TTL
    presence_ttl: float  # default 10.0
    timeout: float  # default DEFAULT_TIMEOUT
    prefix: str  # default "wsapi"


class RedisBackend(Backend):
    """Scale-out backend. `history_size` messages (200) are kept per channel; a channel's keys expire `history_ttl`
    seconds (default a day; None: never) after its last publication, and its next message starts a new epoch.
    `presence_ttl` (seconds, 10) bounds how long members of a process that died stay listed. `timeout` (seconds,
    2) bounds every call to Redis, retries included: past it, the call raises `ChannelsUnavailable`."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", **options: Unpack[RedisOptions]) -> None:
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        self._configure(Commands.from_url(url, timeout), sharded=False, **options)
        self._live_redis: Redis | RedisCluster = Redis.from_url(url, **client_options(timeout))  # type: ignore[arg-type]

    def _configure(
        self,
        commands: Commands,
        *,
        sharded: bool,
        history_size: int = 200,
        history_ttl: float | None = DEFAULT_HISTORY_TTL,
        presence_ttl: float = 10.0,
        timeout: float = DEFAULT_TIMEOUT,
        prefix: str = "wsapi",
    ) -> None:
        """What every deployment shares (one Redis, Sentinel, a cluster): the options, the scripts, the state."""
        if history_size < 1 or presence_ttl <= 0 or timeout <= 0:
            raise ValueError("history_size must be at least 1, presence_ttl and timeout positive")
        self.history_size = history_size
        self.presence_ttl = presence_ttl
        self.timeout = timeout
        self.keys = keys = Keys(prefix, sharded)
        self._ttl_ms = 0 if history_ttl is None else max(1, int(history_ttl * 1000))
        self._commands = commands
        self._publish = commands.redis.register_script(SHARDED_PUBLISH if keys.sharded else PUBLISH)
        self._read = commands.redis.register_script(READ)
        self._receiver: Receiver | None = None
        self._supervisor = Supervisor()
        self._live: LiveConnection | ShardedLiveConnection | None = None
        self._node = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._members: dict[tuple[str, str], Member] = {}  # this node's, to store again if Redis loses them
        self._leaving: dict[tuple[str, str], Member] = {}  # removals that failed, retried by the heartbeat

    # Life cycle

    async def start(self, receiver: Receiver, node: str, supervisor: Supervisor) -> None:
        self._receiver = receiver
        self._node = node
        self._supervisor = supervisor
        await self._commands.call("connecting", lambda _: self._commands.sync_clock())
        self._live = live = self._live_connection(receiver)
        self._tasks = [
            supervisor.keep_running("Redis live connection", live.run),
            supervisor.keep_running("Redis presence heartbeat", self._heartbeat),
            supervisor.keep_running("Redis presence reaper", self._reaper),
        ]
        try:
            await asyncio.wait_for(asyncio.shield(live.connected), 2 * self.timeout)
        except TimeoutError as exc:
            await self.stop()
            raise self._commands.unavailable("connecting", exc) from exc

    def _live_connection(self, receiver: Receiver) -> LiveConnection | ShardedLiveConnection:
        assert isinstance(self._live_redis, Redis)
        return LiveConnection(
            self._live_redis,
            self.keys.node(self._node),  # the node's control name: subscribed last, its confirmation: "all live"
            self.timeout,
            self._deliver,
            receiver.on_resubscribed,
            self._commands.unavailable,
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks = []
        if self._node and self._commands.healthy:
            try:
                async with asyncio.timeout(self.timeout):
                    await self._reap(self._node)  # this node's members leave now, with their leave events
                    await self._commands.redis.delete(self.keys.node(self._node))
            except (ChannelsUnavailable, TimeoutError):
                logger.info("Redis unreachable at shutdown: this node's members expire after %s s", self.presence_ttl)
        await self._commands.aclose()
        try:
            async with asyncio.timeout(self.timeout):
                await self._live_redis.aclose()
        except (OSError, TimeoutError):
            pass
        self._receiver = None

    async def check(self) -> None:
        if self._live is None or not self._live.up:
            raise ChannelsUnavailable(f"Redis at {self._commands.where}: the live connection is down")
        await self._commands.run("ping", self._commands.redis.ping)

    # Messages

    async def publish(self, channel: str, data: str) -> Position:
        """Exactly one offset per call: a retried attempt (its reply was lost) finds the message it already stored.

        Raises `ChannelsUnavailable` within `timeout`; then the message was not published, unless a reply was lost
        and every retry failed too: it may then have been published, once (the script refuses to run after the
        caller's deadline, so it cannot appear later than that).
        """
        call_id = secrets.token_hex(8)
        meta, history = self.keys.channel(channel)
        live = self.keys.live(channel)
        deadline = self._commands.deadline_ms(margin=min(0.25, self.timeout / 4))

        async def attempt(retry: int) -> list[bytes | int]:
            args = (secrets.token_hex(8), self._ttl_ms, channel, data, self.history_size, live)
            reply: list[bytes | int] = await self._publish(
                keys=[meta, history], args=(*args, call_id, "1" if retry else "0", deadline)
            )
            return reply

        epoch, offset = await self._commands.call(f"publish to {channel!r}", attempt)
        if not epoch:
            raise ChannelsUnavailable(f"Redis at {self._commands.where} ran publish to {channel!r} too late: dropped")
        assert isinstance(epoch, bytes) and isinstance(offset, int)
        return Position(epoch.decode(), offset)

    async def read(self, channel: str, since: Position | None) -> Snapshot:
        args: list[str | int] = [secrets.token_hex(8), self._ttl_ms, "", 0]
        if since is not None:
            args[2:] = [since.epoch, since.offset]

        async def attempt(_: int) -> list[object]:
            reply: list[object] = await self._read(keys=list(self.keys.channel(channel)), args=args)
            return reply

        epoch, top, entries = await self._commands.call(f"reading {channel!r}", attempt)
        assert isinstance(epoch, bytes) and isinstance(top, int) and isinstance(entries, list)
        current = Position(epoch.decode(), top)
        if since is None:
            return Snapshot(current, [])
        after = [(int(entry_id.partition(b"-")[0]), fields[1].decode()) for entry_id, fields in entries]
        return Snapshot(current, replay(since, current, after))

    # Live delivery

    async def subscribe(self, channel: str) -> None:
        assert self._live is not None, "the backend is not started"
        await self._live.subscribe(self.keys.live(channel))

    async def unsubscribe(self, channel: str) -> None:
        if self._live is not None:
            await self._live.unsubscribe(self.keys.live(channel))

    def _deliver(self, name: bytes, payload: bytes) -> None:
        receiver = self._receiver
        if receiver is None:
            return
        channel = self.keys.channel_of(name.decode())
        if not channel:
            return  # a control message: none are defined yet
        parsed = parse_payload(channel, payload)
        if parsed is None:
            self._supervisor.report("Redis payload skipped", f"not a wsapi payload on {name.decode()!r}")
        elif isinstance(parsed, LiveMessage):
            receiver.on_message(channel, parsed.epoch, parsed.offset, parsed.frame)
        else:
            receiver.on_event(channel, parsed.frame)

    # Presence

    async def add_member(self, channel: str, member: Member) -> None:
        key = channel, member.id
        self._members[key] = member
        self._leaving.pop(key, None)
        await self._commands.call(f"presence in {channel!r}", lambda _: self._store_members([(channel, member)]))
        await self._event(channel, frames.presence("join", channel, member.to_json()))

    async def remove_member(self, channel: str, member: Member) -> None:
        """Remove the member and publish its leave event; if Redis cannot be reached, the heartbeat retries."""
        key = channel, member.id
        self._members.pop(key, None)
        self._leaving[key] = member
        if self._commands.healthy:
            try:
                await self._remove(channel, member)
            except ChannelsUnavailable as exc:
                logger.info("removal of %s from %r delayed: %s", member.id, channel, exc)

    async def _remove(self, channel: str, member: Member) -> None:
        last_here = not any(c == channel for c, _ in self._members)

        async def attempt(_: int) -> None:
            async with self._commands.redis.pipeline(transaction=False) as pipe:
                pipe.hdel(self.keys.presence(channel), member.id)
                if last_here:
                    pipe.srem(self.keys.node_channels(self._node), channel)
                await pipe.execute()

        await self._commands.call(f"presence in {channel!r}", attempt)
        await self._event(channel, frames.presence("leave", channel, member.to_json()))
        self._leaving.pop((channel, member.id), None)

    async def _event(self, channel: str, frame: str) -> None:
        redis, live, payload = self._commands.redis, self.keys.live(channel), "e" + frame
        send = redis.spublish if self.keys.sharded else redis.publish
        await self._commands.call(f"presence event on {channel!r}", lambda _: send(live, payload))

    async def _store_members(self, members: list[tuple[str, Member]]) -> None:
        keep_ms = self._keep_ms
        async with self._commands.redis.pipeline(transaction=False) as pipe:
            for channel, member in members:
                pipe.hset(self.keys.presence(channel), member.id, member.to_json())
                pipe.pexpire(self.keys.presence(channel), keep_ms)
                pipe.sadd(self.keys.node_channels(member.node), channel)
            pipe.pexpire(self.keys.node_channels(self._node), keep_ms)
            await pipe.execute()

    @property
    def _keep_ms(self) -> int:
        """How long presence keys outlive their last heartbeat: long enough for a survivor to reap them first."""
        return max(1, int(self.presence_ttl * 3000))

    async def members(self, channel: str) -> list[Member]:
        async def attempt(_: int) -> list[Member]:
            entries = await self._commands.redis.hgetall(self.keys.presence(channel))
            members = [Member.from_json(value) for value in entries.values()]
            alive = await self._alive({m.node for m in members})
            return [m for m in members if m.node in alive]

        return await self._commands.call(f"presence in {channel!r}", attempt)

    async def _alive(self, nodes: Iterable[str]) -> set[str]:
        others = [node for node in nodes if node != self._node]
        async with self._commands.redis.pipeline(transaction=False) as pipe:
            for node in others:
                pipe.exists(self.keys.node(node))
            found = await pipe.execute()
        return {self._node, *(node for node, exists in zip(others, found, strict=True) if exists)}

    async def _heartbeat(self) -> None:
        """Keep this node's key alive, retry failed removals, re-store members if Redis lost them.

        If this node's own key was gone (Redis lost its data, or this process stalled past `presence_ttl` and was
        reaped), its members are stored again, with their join events.
        """
        while True:
            try:
                await self._beat()
            except Exception as exc:
                self._supervisor.report("Redis presence heartbeat", exc)
            await asyncio.sleep(self.presence_ttl / 3)

    async def _beat(self) -> None:
        ttl_ms = max(1, int(self.presence_ttl * 1000))
        keep_ms = self._keep_ms
        local_channels = {channel for channel, _ in self._members}

        async def attempt(_: int) -> list[object]:
            async with self._commands.redis.pipeline(transaction=False) as pipe:
                pipe.set(self.keys.node(self._node), 1, px=ttl_ms, get=True)
                pipe.sadd(self.keys.nodes, self._node)
                pipe.pexpire(self.keys.node_channels(self._node), keep_ms)
                for channel in local_channels:
                    pipe.pexpire(self.keys.presence(channel), keep_ms)
                replies: list[object] = await pipe.execute()
                return replies

        was_alive = (await self._commands.call("presence heartbeat", attempt))[0]
        if was_alive is None and self._members:
            members = [(channel, member) for (channel, _), member in self._members.items()]
            await self._commands.call("presence", lambda _: self._store_members(members))
            for channel, member in members:
                await self._event(channel, frames.presence("join", channel, member.to_json()))
        for (channel, _), member in list(self._leaving.items()):
            await self._remove(channel, member)
        await self._commands.call("clock", lambda _: self._commands.sync_clock())

    async def _reaper(self) -> None:
        """Remove the members of nodes whose heartbeat key expired (one surviving node does each)."""
        ttl_ms = max(1, int(self.presence_ttl * 1000))
        while True:
            await asyncio.sleep(self.presence_ttl / 3)
            try:
                commands = self._commands
                nodes = _texts(await commands.run("presence", commands.redis.smembers, self.keys.nodes))
                for node in set(nodes) - await commands.run("presence", self._alive, nodes):
                    if await commands.run("presence", self._claim, node, ttl_ms):
                        await self._reap(node)
            except Exception as exc:
                self._supervisor.report("Redis presence reaper", exc)

    async def _claim(self, node: str, ttl_ms: int) -> bool:
        """Whether this node is the one to reap `node`."""
        return bool(await self._commands.redis.set(self.keys.reap(node), self._node, nx=True, px=ttl_ms))

    async def _reap(self, node: str) -> None:
        """Remove every member `node` has, publishing their leave events."""
        commands, redis = self._commands, self._commands.redis
        channels_key = self.keys.node_channels(node)
        prefix = f"{node}."
        for channel in _texts(await commands.run("presence", redis.smembers, channels_key)):
            key = self.keys.presence(channel)
            entries = await commands.run("presence", redis.hgetall, key)
            gone = {
                k: v for k, v in zip(_texts(entries), _texts(entries.values()), strict=True) if k.startswith(prefix)
            }
            if gone:
                await commands.run("presence", redis.hdel, key, *gone)
                for member in gone.values():
                    await self._event(channel, frames.presence("leave", channel, member))

        async def forget(_: int) -> None:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.delete(channels_key)
                pipe.srem(self.keys.nodes, node)
                await pipe.execute()

        await self._commands.call("presence", forget)


def _texts(values: Iterable[bytes | str]) -> list[str]:
    """Replies as text (this client leaves responses undecoded, as bytes)."""
    return [value.decode() if isinstance(value, bytes) else value for value in values]
