"""Floods against the flagship chat under a real server: the flooder is limited, then closed; the room is not.

One client sends 5,000 requests as fast as it can (bounded loops) while four others sit in the room: the flooder's
requests past its burst get `rate_limited` error frames, then the connection closes with 1008; the others see only
what the limits let through, none is closed (no 1013), and the room still works for them afterwards.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.servers import served

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat"
FLOOD = 5_000


@pytest.fixture(scope="module")
def chat() -> Iterator[int]:
    with served("main:app", app_dir=CHAT, launcher="wsapi") as (port, _):
        yield port


async def joined(port: int, name: str) -> websockets.ClientConnection:
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws?name={name}", open_timeout=5)
    await ws.send(json.dumps({"type": "subscribe", "id": 0, "data": {"channel": "room:lobby"}}))
    while json.loads(await asyncio.wait_for(ws.recv(), 5)).get("type") != "subscribe.reply":
        pass
    return ws


async def drain(ws: websockets.ClientConnection, quiet: float = 0.5) -> tuple[list[dict[str, Any]], int | None]:
    """Frames until none came for `quiet` seconds; the close code if the server closed meanwhile."""
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
    except TimeoutError:
        return frames, None
    except ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else 1006


async def flood(ws: websockets.ClientConnection, requests: Iterator[dict[str, Any]]) -> tuple[Counter[str], int]:
    """Send every request without waiting for answers; what came back (by type or error code) and the close code."""
    answers: Counter[str] = Counter()

    async def read() -> int:
        try:
            while True:
                frame = json.loads(await ws.recv())
                answers[frame["data"]["code"] if frame["type"] == "error" else frame["type"]] += 1
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006

    reader = asyncio.create_task(read())
    try:
        for request in requests:
            await ws.send(json.dumps(request))
    except ConnectionClosed:
        pass
    return answers, await asyncio.wait_for(reader, 10)


def says(count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        yield {"type": "say", "id": n + 1, "data": {"room": "lobby", "text": f"spam {n}"}}


def joins_and_leaves(count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        yield {"type": "subscribe" if n % 2 else "unsubscribe", "id": n + 1, "data": {"channel": "room:lobby"}}


@pytest.mark.parametrize("requests", [says, joins_and_leaves], ids=["say", "join-leave"])
def test_a_flooder_is_limited_and_closed_while_the_room_goes_on(chat: int, requests: Any) -> None:
    async def scenario() -> None:
        others = [await joined(chat, f"member{n}") for n in range(4)]
        await asyncio.gather(*(drain(ws, 0.2) for ws in others))  # the presence events of the later joins
        flooder = await joined(chat, "flooder")
        answers, code = await flood(flooder, requests(FLOOD))
        # The burst is handled, then refusals, then the close: at most a few dozen of 5,000 got through.
        handled = answers["ack"] + answers["subscribe.reply"] + answers["subscribed"]
        print(f"flood of {FLOOD}: {dict(answers)}, closed with {code}")
        assert 1 <= handled <= 60, answers
        assert answers["rate_limited"] >= 10, answers
        assert code == 1008
        for frames, closed in await asyncio.gather(*(drain(ws) for ws in others)):
            assert closed is None  # not one 1013: the flood never got as far as their queues
            assert len(frames) <= 80, Counter(f["type"] for f in frames)
        # The room works as before for everyone else.
        await others[0].send(json.dumps({"type": "say", "id": 1, "data": {"room": "lobby", "text": "still here"}}))
        for frames, closed in await asyncio.gather(*(drain(ws) for ws in others)):
            assert closed is None
            assert [f["data"]["text"] for f in frames if f["type"] == "message"] == ["still here"]
        for ws in others:
            await ws.close()

    asyncio.run(scenario())
