"""The Python client's typed calls, server messages, tokens, close codes and offline behaviour, against uvicorn."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.client.conftest import AppServer
from wsapi.client import (
    Backoff,
    CallError,
    Client,
    ClientEvent,
    Connected,
    Disconnected,
    Reconnecting,
    default_retry_policy,
)

pytestmark = pytest.mark.anyio

Serve = Callable[..., AppServer]


def quick() -> Backoff:
    return Backoff(initial=0.1, max=0.4)


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_calls_replies_acks_errors_and_timeouts(serve: Serve) -> None:
    server = serve()
    async with Client(server.ws, token="ada", backoff=quick()) as ada:
        assert await ada.call("echo", {"n": 1}) == {"echo": {"n": 1}}
        assert await ada.call("notify", {"text": "x"}) is None
        with pytest.raises(CallError) as failed:
            await ada.call("fail")
        assert (failed.value.code, failed.value.message) == ("nope", "this always fails")
        with pytest.raises(CallError, match="unknown_type"):
            await ada.call("no-such-type")
        with pytest.raises(CallError) as invalid:
            await ada.call("slow", "soon")
        assert invalid.value.code == "validation_error" and invalid.value.errors
        assert invalid.value.errors[0]["loc"] == ["data"]
        started = time.monotonic()
        with pytest.raises(CallError, match="timeout"):
            await ada.call("slow", 1, timeout=0.2)
        assert time.monotonic() - started < 0.9
        assert await ada.call("echo", 2) == {"echo": 2}  # the connection is still fine
        notices: list[Any] = []
        ada.on("notice", notices.append)
        await ada.send("notify", {"text": "one"})
        await ada.send("notify", {"text": "two"})
        await until(lambda: len(notices) == 2, "two notices")
        assert notices == [{"text": "one"}, {"text": "two"}]


async def test_a_refused_handshake_stops_retrying(serve: Serve) -> None:
    server = serve()
    events: list[ClientEvent] = []
    bad = Client(server.ws, token="bad", backoff=quick())
    bad.on_state(events.append)
    await bad.connect()  # wsapi accepts a refused handshake to close it with a readable code
    await until(lambda: bad.state == "closed", "the refusal")
    assert Disconnected(1008, "bad token", will_retry=False) in events
    with pytest.raises(CallError, match="closed"):
        await bad.call("echo", 1)
    with pytest.raises(CallError, match="closed"):
        await bad.send("echo", 1)
    await asyncio.sleep(0.3)
    assert not any(isinstance(e, Reconnecting) for e in events)
    await bad.close()


async def test_a_fresh_token_per_connection_and_1012_retries_within_the_first_window(serve: Serve) -> None:
    server = serve()
    issued = 0

    async def token() -> str:
        nonlocal issued
        issued += 1
        return f"ada-{issued}"

    events: list[ClientEvent] = []
    async with Client(server.ws, token=token, backoff=Backoff(initial=0.3, max=5)) as ada:
        ada.on_state(events.append)
        await ada.send("close", {"code": 1012, "reason": "restarting"})
        await until(lambda: sum(isinstance(e, Connected) for e in events) == 1, "the reconnection")
        reconnecting = next(e for e in events if isinstance(e, Reconnecting))
        assert reconnecting.delay < 0.3
        assert Disconnected(1012, "restarting", will_retry=True) in events
        assert await ada.call("echo", "again") == {"echo": "again"}
    assert issued == 2


async def test_offline_calls_in_flight_fail_new_ones_wait_or_fail_fast(serve: Serve) -> None:
    server = serve()
    waiting = Client(server.ws, token="w", backoff=quick())
    failing = Client(server.ws, token="f", backoff=quick(), offline="fail")
    await asyncio.gather(waiting.connect(), failing.connect())
    try:
        in_flight = asyncio.ensure_future(waiting.call("slow", 5))
        await asyncio.sleep(0.05)
        server.kill()
        with pytest.raises(CallError, match="disconnected"):
            await in_flight
        await until(lambda: "connected" not in (waiting.state, failing.state), "both to notice")
        with pytest.raises(CallError, match="offline"):
            await failing.call("echo", 1)
        with pytest.raises(CallError, match="timeout"):
            await waiting.call("echo", 1, timeout=0.15)
        later = asyncio.ensure_future(waiting.call("echo", "after restart", timeout=15))
        server.start()
        assert await later == {"echo": "after restart"}
    finally:
        await asyncio.gather(waiting.close(), failing.close())


async def test_what_waits_for_a_connection_fails_with_closed_when_the_client_gives_up() -> None:
    nowhere = Client("ws://127.0.0.1:1/channels", retry=lambda code, reason: "stop")
    queued = [asyncio.ensure_future(nowhere.send("echo", 1)), asyncio.ensure_future(nowhere.call("echo", 1))]
    await asyncio.sleep(0)
    with pytest.raises(CallError, match="closed"):
        await nowhere.connect()
    for waiting in queued:
        with pytest.raises(CallError, match="closed"):
            await waiting
    assert nowhere.state == "closed"
    await nowhere.close()


async def test_a_server_that_accepts_and_closes_at_once_sees_the_delays_grow(serve: Serve) -> None:
    server = serve()
    retries: list[Reconnecting] = []
    expired = Client(server.ws, token="expired", backoff=Backoff(initial=0.02, max=1))
    expired.on_state(lambda event: retries.append(event) if isinstance(event, Reconnecting) else None)
    await expired.connect()
    await until(lambda: len(retries) >= 4, "four retries")
    await expired.close()
    assert [event.attempt for event in retries[:4]] == [1, 2, 3, 4]
    assert all(event.delay < 0.02 * 2**n for n, event in enumerate(retries[:4]))


def test_close_codes_refusals_stop_go_elsewhere_codes_retry_at_once_the_rest_back_off() -> None:
    for code in (1002, 1003, 1007, 1008, 1009, 1010):
        assert default_retry_policy(code, "") == "stop"
    for code in (1001, 1012, 1013):
        assert default_retry_policy(code, "") == "now"
    for code in (1000, 1006, 1011, 4000):
        assert default_retry_policy(code, "") == "backoff"


def test_a_backoff_that_could_not_grow_or_would_never_wait_is_refused() -> None:
    for initial, max in ((0, 1), (0.5, 0.1)):
        with pytest.raises(ValueError, match="initial > 0"):
            Backoff(initial=initial, max=max)


def test_backoff_windows_and_full_jitter() -> None:
    backoff = Backoff(initial=0.1, max=1)
    windows = []
    for _ in range(6):
        windows.append(backoff.window())
        backoff.next()
    assert windows == pytest.approx([0.1, 0.2, 0.4, 0.8, 1, 1])
    delays = [Backoff(initial=1, max=1).next() for _ in range(2000)]
    assert min(delays) >= 0 and max(delays) < 1
    buckets = [sum(1 for d in delays if int(d * 10) == i) for i in range(10)]
    assert all(120 < count < 280 for count in buckets), buckets
