"""The hub's delivery semantics, the same cases on the memory and the Redis backend."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from starlette.websockets import WebSocket, WebSocketState

from tests.channels.support import MakeBackend
from wsapi.channels import Channels, InvalidChannel, Listener, MemoryBackend, Position, SlowConsumer
from wsapi.channels.backends.base import Snapshot
from wsapi.channels.presence import Member

pytestmark = pytest.mark.anyio


async def take(frames: Listener, count: int) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(anext(frames), 5) for _ in range(count)]


async def test_offsets_increase_by_one_and_frames_carry_the_position(hub: Channels) -> None:
    async with hub.listen("news") as frames:
        (subscribed,) = await take(frames, 1)
        assert subscribed == {
            "type": "subscribed",
            "channel": "news",
            "epoch": subscribed["epoch"],
            "offset": 0,
            "recovered": False,
        }
        positions = [await hub.publish("news", {"n": n}) for n in range(3)]
        assert [p.offset for p in positions] == [1, 2, 3]
        assert {p.epoch for p in positions} == {subscribed["epoch"]}
        messages = await take(frames, 3)
    assert messages == [
        {"type": "message", "channel": "news", "epoch": subscribed["epoch"], "offset": n + 1, "data": {"n": n}}
        for n in range(3)
    ]


async def test_resume_returns_exactly_the_missed_messages_then_live(hub: Channels) -> None:
    async with hub.listen("room") as frames:
        await take(frames, 1)
        await hub.publish("room", "a")
        await hub.publish("room", "b")
        last = (await take(frames, 2))[-1]
    for text in "cde":
        await hub.publish("room", text)
    async with hub.listen("room", since=Position(last["epoch"], last["offset"])) as frames:
        subscribed, *missed = await take(frames, 4)
        assert subscribed["recovered"] is True
        assert (subscribed["epoch"], subscribed["offset"]) == (last["epoch"], 2)
        assert [(m["offset"], m["data"]) for m in missed] == [(3, "c"), (4, "d"), (5, "e")]
        await hub.publish("room", "f")
        (live,) = await take(frames, 1)
        assert (live["offset"], live["data"]) == (6, "f")


async def test_resume_at_the_current_position_misses_nothing(hub: Channels) -> None:
    position = await hub.publish("room", "a")
    async with hub.listen("room", since=position) as frames:
        (subscribed,) = await take(frames, 1)
        assert (subscribed["recovered"], subscribed["offset"]) == (True, 1)
        await hub.publish("room", "b")
        assert (await take(frames, 1))[0]["offset"] == 2


async def test_switch_from_history_to_live_has_no_gap_and_no_duplicate(hub: Channels) -> None:
    """Resumes land while a publisher runs flat out: every resumed stream is contiguous, whatever the timing."""
    latest = await hub.publish("busy", 0)
    stop = asyncio.Event()

    async def publisher() -> None:
        nonlocal latest
        for n in range(1, 5000):
            if stop.is_set():
                return
            latest = await hub.publish("busy", n)
            await asyncio.sleep(0)

    task = asyncio.create_task(publisher())
    try:
        for _ in range(5):
            since = Position(latest.epoch, max(0, latest.offset - 20))
            async with hub.listen("busy", since=since, queue_size=10_000) as frames:
                subscribed, *received = await take(frames, 41)
            assert (subscribed["recovered"], subscribed["offset"]) == (True, since.offset)
            assert [f["offset"] for f in received] == list(range(since.offset + 1, since.offset + 41))
            assert [f["data"] for f in received] == list(range(since.offset, since.offset + 40))
    finally:
        stop.set()
        await task


async def test_position_older_than_history_is_not_recoverable(make_backend: MakeBackend) -> None:
    async with Channels(make_backend(history_size=3)) as hub:
        positions = [await hub.publish("short", n) for n in range(10)]
        async with hub.listen("short", since=positions[1]) as frames:
            (subscribed,) = await take(frames, 1)
            assert subscribed["recovered"] is False
            assert (subscribed["epoch"], subscribed["offset"]) == (positions[-1].epoch, 10)
            await hub.publish("short", "next")
            assert (await take(frames, 1))[0]["offset"] == 11
        # History now holds offsets 9 to 11: the oldest position it replays from is 8.
        async with hub.listen("short", since=positions[7]) as frames:
            subscribed, *missed = await take(frames, 4)
            assert subscribed["recovered"] is True
            assert [m["offset"] for m in missed] == [9, 10, 11]


@pytest.mark.parametrize("shift", ["other epoch", "ahead of the channel"])
async def test_position_from_another_epoch_or_the_future_is_not_recoverable(hub: Channels, shift: str) -> None:
    current = await hub.publish("room", "a")
    since = Position("0123abcd", 1) if shift == "other epoch" else Position(current.epoch, 5)
    async with hub.listen("room", since=since) as frames:
        (subscribed,) = await take(frames, 1)
    assert subscribed["recovered"] is False
    assert (subscribed["epoch"], subscribed["offset"]) == (current.epoch, 1)


async def test_history_expiry_starts_a_new_epoch(make_backend: MakeBackend) -> None:
    async with Channels(make_backend(history_ttl=0.2)) as hub:
        old = await hub.publish("ephemeral", "a")
        await asyncio.sleep(0.35)
        async with hub.listen("ephemeral", since=old) as frames:
            (subscribed,) = await take(frames, 1)
            assert subscribed["recovered"] is False
            assert subscribed["epoch"] != old.epoch
            new = await hub.publish("ephemeral", "b")
            assert (new.epoch, new.offset) == (subscribed["epoch"], 1)
            assert (await take(frames, 1))[0]["data"] == "b"


async def test_drop_oldest_keeps_the_newest_and_the_gap_shows(hub: Channels) -> None:
    async with hub.listen("fast", queue_size=3, on_full="drop_oldest") as frames:
        await take(frames, 1)
        for n in range(10):
            await hub.publish("fast", n)
        await asyncio.sleep(0.05)  # Redis delivers asynchronously
        assert [f["offset"] for f in await take(frames, 3)] == [8, 9, 10]
        assert frames.dropped == 7


async def test_close_policy_ends_a_listener_that_falls_behind(hub: Channels) -> None:
    async with hub.listen("fast", queue_size=3) as frames:
        await take(frames, 1)
        for n in range(5):
            await hub.publish("fast", n)
        await asyncio.sleep(0.05)
        with pytest.raises(SlowConsumer):
            await take(frames, 5)


async def test_one_listener_falling_behind_does_not_hold_up_another(hub: Channels) -> None:
    async with hub.listen("fan", queue_size=2) as slow, hub.listen("fan", queue_size=100) as fast:
        await take(slow, 1)
        await take(fast, 1)
        for n in range(20):
            await hub.publish("fan", n)
        assert [f["data"] for f in await take(fast, 20)] == list(range(20))
        with pytest.raises(SlowConsumer):
            await take(slow, 20)


async def test_channels_are_independent(hub: Channels) -> None:
    async with hub.listen("a") as a, hub.listen("b") as b:
        await take(a, 1)
        await take(b, 1)
        await hub.publish("a", "for a")
        await hub.publish("b", "for b")
        assert [f["data"] for f in await take(a, 1)] == ["for a"]
        assert [f["data"] for f in await take(b, 1)] == ["for b"]


@pytest.mark.parametrize("name", ["", "has space", "x" * 201, "brace{}", 'quote"', "ünïcode"])
async def test_malformed_channel_names_are_rejected(hub: Channels, name: str) -> None:
    with pytest.raises(InvalidChannel):
        await hub.publish(name, "x")
    with pytest.raises(InvalidChannel):
        hub.listen(name)


async def test_calls_before_the_hub_starts_say_so(make_backend: MakeBackend) -> None:
    hub = Channels(make_backend())
    with pytest.raises(RuntimeError, match="not running"):
        await hub.publish("a", 1)
    async with hub:
        await hub.publish("a", 1)
    with pytest.raises(RuntimeError, match="not running"):
        hub.listen("a")


async def test_stopping_the_hub_ends_listeners_after_their_queued_frames(make_backend: MakeBackend) -> None:
    hub = Channels(make_backend())
    await hub.start()
    async with hub.listen("bye") as frames:
        await take(frames, 1)
        await hub.publish("bye", "last")
        await asyncio.sleep(0.05)
        await hub.stop()
        assert [f["data"] async for f in frames] == ["last"]


async def test_a_listener_iterated_outside_its_block_says_how_to_use_it(hub: Channels) -> None:
    with pytest.raises(RuntimeError, match=r"async with hub.listen"):
        async for _ in hub.listen("room"):
            pass


async def test_drop_oldest_drops_channel_frames_never_the_handlers_own() -> None:
    sent: list[dict[str, Any]] = []
    stalled = asyncio.Event()  # the client's socket is full until this is set

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            await stalled.wait()
        sent.append(message)

    connected = False

    async def receive() -> dict[str, Any]:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        await asyncio.Event().wait()
        raise AssertionError("never")

    websocket = WebSocket({"type": "websocket", "path": "/", "headers": []}, receive, send)
    await websocket.accept()
    async with (
        Channels(MemoryBackend()) as hub,
        hub.subscribe(websocket, "room", queue_size=3, on_full="drop_oldest") as subscription,
    ):
        own = [asyncio.create_task(websocket.send_text(f"own {n}")) for n in range(2)]
        for n in range(20):
            await hub.publish("room", n)
            await asyncio.sleep(0)
        stalled.set()
        await asyncio.wait_for(asyncio.gather(*own), 5)
        while subscription._writer is not None:
            await asyncio.sleep(0.01)
    texts = [m["text"] for m in sent if m["type"] == "websocket.send"]
    assert [t for t in texts if t.startswith("own")] == ["own 0", "own 1"]
    offsets = [json.loads(t)["offset"] for t in texts if not t.startswith("own")]
    assert offsets[-1] == 20 and offsets == sorted(offsets)  # the newest channel frames, in order
    assert subscription.dropped == 20 - len(offsets) + 1  # + the `subscribed` frame queued first


def fake_client(sent: list[str], full: asyncio.Event | None = None) -> WebSocket:
    """A connected WebSocket whose sends are recorded; while `full` is unset, its socket takes nothing."""

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send" and full is not None:
            await full.wait()
        if "text" in message:
            sent.append(message["text"])

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("never")

    websocket = WebSocket({"type": "websocket", "path": "/", "headers": []}, receive, send)
    websocket.client_state = websocket.application_state = WebSocketState.CONNECTED
    return websocket


async def test_a_send_that_waits_holds_up_only_its_own_connection() -> None:
    """In one fan-out, the subscribers after a full socket get each message at once; the full one gets them all, in
    order, once its socket drains."""
    full = asyncio.Event()
    received: list[list[str]] = [[], [], []]
    first, stuck, last = (
        fake_client(received[0]),
        fake_client(received[1], full),
        fake_client(received[2]),
    )
    async with Channels(MemoryBackend()) as hub, contextlib.AsyncExitStack() as stack:
        for websocket in (first, stuck, last):
            await stack.enter_async_context(hub.subscribe(websocket, "room"))
        full.set()
        await asyncio.sleep(0.01)  # the `subscribed` frames
        full.clear()
        for n in range(5):
            await hub.publish("room", n)
            delivered = [[json.loads(t).get("data") for t in texts[1:]] for texts in received]
            assert delivered == [list(range(n + 1)), [], list(range(n + 1))]
        full.set()
        await asyncio.sleep(0.01)
        assert [json.loads(t)["data"] for t in received[1][1:]] == [0, 1, 2, 3, 4]


class SlowHistory(MemoryBackend):
    """History answers only when let: a resuming subscriber stays in its catch-up meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.answer = asyncio.Event()

    async def read(self, channel: str, since: Position | None) -> Snapshot:
        if since is not None:
            self.reading.set()
            await self.answer.wait()
        return await super().read(channel, since)


class LateLive(MemoryBackend):
    """Live delivery held back while `holding`: a message is in history before its live copy reaches the hub, as
    when a Redis pub/sub message is still on its way."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = False
        self.held: list[tuple[str, str, int, str]] = []

    async def start(self, receiver: Any, node: str, supervisor: Any) -> None:
        await super().start(self, node, supervisor)
        self.hub = receiver

    def on_message(self, channel: str, epoch: str, offset: int, frame: str) -> None:
        if self.holding:
            self.held.append((channel, epoch, offset, frame))
        else:
            self.hub.on_message(channel, epoch, offset, frame)

    def on_event(self, channel: str, frame: str) -> None:
        self.hub.on_event(channel, frame)

    def release(self) -> None:
        self.holding = False
        for message in self.held:
            self.hub.on_message(*message)
        self.held.clear()


async def test_a_subscriber_whose_history_is_ahead_of_live_delivery_gets_each_message_once() -> None:
    backend = LateLive()
    async with Channels(backend) as hub, hub.listen("room") as live:
        start = await hub.publish("room", "a")
        await hub.publish("room", "b")
        backend.holding = True
        await hub.publish("room", "c")  # in history, not yet delivered live
        async with hub.listen("room", since=start) as resuming:
            subscribed, *replayed = await take(resuming, 3)
            backend.release()  # "c" arrives live: the resuming listener has it already
            await hub.publish("room", "d")  # the first live message past its replay
            await hub.publish("room", "e")
            after = await take(resuming, 2)
            await hub.publish("room", "f")
            after += await take(resuming, 1)  # the next frame after "e": nothing came twice in between
        everything = await take(live, 7)
    assert subscribed["recovered"] is True
    assert [f["data"] for f in replayed] == ["b", "c"]
    assert [(f["offset"], f["data"]) for f in after] == [(4, "d"), (5, "e"), (6, "f")]
    assert [f.get("data") for f in everything[1:]] == ["a", "b", "c", "d", "e", "f"]


async def test_a_subscriber_catching_up_on_history_gets_presence_events_in_order() -> None:
    backend = SlowHistory()
    async with Channels(backend) as hub:
        start = await hub.publish("room", "a")
        await hub.publish("room", "b")
        listener = hub.listen("room", since=Position(start.epoch, 0))
        entering = asyncio.create_task(listener.__aenter__())
        await asyncio.wait_for(backend.reading.wait(), 5)
        await hub.enter("room", Member("node.1", {"name": "ada"}))
        await hub.publish("room", "c")
        backend.answer.set()
        frames = await asyncio.wait_for(entering, 5)
        try:
            subscribed, *received = await take(frames, 5)
            await hub.publish("room", "d")
            assert [f["data"] for f in await take(frames, 1)] == ["d"]
        finally:
            await listener.__aexit__(None, None, None)
    assert subscribed["recovered"] is True
    # Presence is live only: the join comes after the history the read returned ("c" was in it by then).
    assert [(f["type"], f.get("data", f.get("client"))) for f in received] == [
        ("message", "a"),
        ("message", "b"),
        ("message", "c"),
        ("join", {"id": "node.1", "info": {"name": "ada"}}),
    ]
