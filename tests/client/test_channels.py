"""The Python client's subscriptions: order, presence, refusals, resume across restarts, the reconnect spread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from tests.channels.support import RedisServer
from tests.client.conftest import AppServer, assert_spread
from tests.client.test_calls import quick, until
from wsapi.channels import Member, Position
from wsapi.client import Backoff, CallError, Client, Connected, Connecting, Subscribed, Subscription

pytestmark = pytest.mark.anyio

Serve = Callable[..., AppServer]


@dataclass
class Seen:
    messages: list[Any] = field(default_factory=list)
    subscribed: list[Subscribed] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    subscription: Subscription | None = None


def record(client: Client, channel: str, **options: Any) -> Seen:
    seen = Seen()

    def message(data: Any, position: Position) -> None:
        seen.messages.append(data)

    def join(member: Member) -> None:
        seen.joins.append(member.info["name"])

    def leave(member: Member) -> None:
        seen.leaves.append(member.info["name"])

    def error(error: CallError) -> None:
        seen.errors.append(error.code)

    seen.subscription = client.subscribe(
        channel,
        on_message=message,
        on_subscribed=seen.subscribed.append,
        on_join=join,
        on_leave=leave,
        on_error=error,
        **options,
    )
    return seen


def names(subscription: Subscription | None) -> list[str]:
    assert subscription is not None
    return sorted(m.info["name"] for m in subscription.members.values())


async def test_messages_in_order_presence_and_refusals(serve: Serve) -> None:
    server = serve()
    async with Client(server.ws, token="ada") as ada, Client(server.ws, token="bob") as bob:
        numbers = record(ada, "numbers")
        assert numbers.subscription is not None
        await numbers.subscription.ready()
        for n in range(1, 6):
            await ada.publish("numbers", n)
        await until(lambda: len(numbers.messages) == 5, "five messages")
        assert numbers.messages == [1, 2, 3, 4, 5]
        assert numbers.subscription.position is not None and numbers.subscription.position.offset == 5

        ada_room, bob_room = record(ada, "room"), record(bob, "room")
        assert ada_room.subscription and bob_room.subscription
        await asyncio.gather(ada_room.subscription.ready(), bob_room.subscription.ready())
        await until(lambda: names(ada_room.subscription) == ["ada", "bob"], "ada to see bob")
        assert names(bob_room.subscription) == ["ada", "bob"]
        assert sorted(m.info["name"] for m in await ada.presence("room")) == ["ada", "bob"]
        bob_room.subscription.unsubscribe()
        await until(lambda: ada_room.leaves == ["bob"], "bob to leave")

        refused = record(ada, "private:x")
        assert refused.subscription is not None
        with pytest.raises(CallError, match="channel_refused"):
            await refused.subscription.ready()
        assert refused.errors == ["channel_refused"] and refused.subscription.state == "unsubscribed"
        with pytest.raises(CallError, match="channel_refused"):
            await ada.publish("readonly:news", 1)
        await ada.publish("numbers", 6)
        await until(lambda: len(numbers.messages) == 6, "the other subscription goes on")


async def test_history_and_a_position_beyond_it_is_reported_unrecovered(serve: Serve) -> None:
    server = serve(CLIENTS_APP_HISTORY_SIZE="3")
    async with Client(server.ws, token="ada") as ada:
        first = [await ada.publish("short", n) for n in range(1, 6)]
        recent = record(ada, "short", history=10)
        await until(lambda: len(recent.messages) == 3, "the kept history")
        assert recent.messages == [3, 4, 5] and recent.subscribed[0].recovered
        async with Client(server.ws, token="cy") as cy:
            late = record(cy, "short", since=first[0].position)
            await until(lambda: len(late.subscribed) == 1, "the subscribed frame")
            assert late.subscribed == [Subscribed(first[-1].position, recovered=False, resumed=True)]


async def test_memory_backend_restart_reconnects_and_reports_the_lost_history(serve: Serve) -> None:
    server = serve()
    async with Client(server.ws, token="ada", backoff=quick()) as ada:
        seen = record(ada, "restart")
        assert seen.subscription is not None
        await seen.subscription.ready()
        await ada.publish("restart", "before")
        await until(lambda: len(seen.messages) == 1, "the first message")
        server.kill()
        server.start()
        await until(lambda: len(seen.subscribed) == 2, "the resubscription")
        assert (seen.subscribed[1].recovered, seen.subscribed[1].resumed) == (False, True)
        for text in ("after 1", "after 2"):
            await ada.publish("restart", text)
        await until(lambda: len(seen.messages) == 3, "the new messages")
        assert seen.messages == ["before", "after 1", "after 2"]


async def publish_when_ready(client: Client, channel: str, data: Any) -> None:
    """Publish once the server's Redis is back (a publish that failed published nothing)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            await client.publish(channel, data)
            return
        except CallError as exc:
            if exc.code != "unavailable" or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_redis_server_and_redis_restarted_resume_exactly_once(
    serve: Serve, persistent_redis: RedisServer
) -> None:
    first, other = serve(CLIENTS_APP_REDIS_URL=persistent_redis.url), serve(CLIENTS_APP_REDIS_URL=persistent_redis.url)
    async with (
        Client(first.ws, token="ada", backoff=quick()) as ada,
        Client(other.ws, token="pub", backoff=quick()) as publisher,
    ):
        seen = record(ada, "feed")
        assert seen.subscription is not None
        await seen.subscription.ready()
        for n in range(1, 6):
            await publisher.publish("feed", n)
        await until(lambda: len(seen.messages) == 5, "the first five")
        first.kill()  # ada's server is gone, the others go on publishing
        for n in range(6, 11):
            await publisher.publish("feed", n)
        persistent_redis.kill()
        persistent_redis.start()  # another Redis process, with the same data
        await publish_when_ready(publisher, "probe", "probe")
        for n in range(11, 16):
            await publisher.publish("feed", n)
        first.start()  # another uvicorn process at ada's address
        await until(lambda: len(seen.subscribed) == 2, "the resubscription", timeout=15)
        assert seen.subscribed[1].recovered is True
        for n in range(16, 21):
            await publisher.publish("feed", n)
        await until(lambda: len(seen.messages) >= 20, "all twenty")
        await asyncio.sleep(0.1)
        assert seen.messages == list(range(1, 21))


async def test_fifty_clients_spread_their_reconnects_over_the_backoff_window(serve: Serve) -> None:
    server = serve()
    window = 1.0
    clients = [Client(server.ws, token=f"c{n}", backoff=Backoff(initial=window, max=window)) for n in range(50)]
    attempts: dict[int, list[float]] = {n: [] for n in range(50)}  # when each attempt to connect started
    back: dict[int, float] = {}  # when the attempt that got each client back in started, after the kill
    killed_at: list[float] = []
    for n, client in enumerate(clients):

        def watch(event: object, n: int = n) -> None:
            if isinstance(event, Connecting):
                attempts[n].append(time.monotonic())
            elif isinstance(event, Connected) and killed_at:
                back.setdefault(n, attempts[n][-1] - killed_at[0])

        client.on_state(watch)
    try:
        await asyncio.gather(*(client.connect() for client in clients))
        server.kill()
        killed_at.append(time.monotonic())
        await anyio.to_thread.run_sync(server.start)  # the clients go on retrying meanwhile
        await until(lambda: len(back) == 50, "every client back", timeout=20)
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    first = [min(t for t in times if t > killed_at[0]) - killed_at[0] for times in attempts.values()]
    assert_spread(first, window, "50 clients' first retries")
    assert_spread(list(back.values()), window, "50 clients' successful attempts")


async def test_a_history_expired_by_its_ttl_is_reported_unrecovered(serve: Serve) -> None:
    server = serve(CLIENTS_APP_HISTORY_TTL="0.3")
    async with Client(server.ws, token="ada") as ada:
        kept = await ada.publish("ttl", "old")
        await asyncio.sleep(0.6)  # the channel's history expires 0.3 s after its last publication
        fresh = await ada.publish("ttl", "new")
        assert fresh.position.epoch != kept.position.epoch  # a new history, a new epoch
        seen = record(ada, "ttl", since=kept.position)
        await until(lambda: len(seen.subscribed) == 1, "the subscribed frame")
        assert seen.subscribed == [Subscribed(fresh.position, recovered=False, resumed=True)]
        assert seen.messages == []
