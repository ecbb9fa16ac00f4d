"""Fan-out benchmark: one publisher, many subscribers on one uvicorn server, three ways of broadcasting.

- wsapi: channels with the memory backend (benchmarks/apps/fanout_wsapi.py), a bounded queue and writer per socket;
- fastapi: the FastAPI guide's `ConnectionManager.broadcast`, awaiting each send in turn (apps/fanout_fastapi.py);
- raw: a raw ASGI app doing the same loop with no framework at all (apps/fanout_raw.py).

All three send the same JSON frame, encoded once per publish. Measured per variant, each on a fresh server:

- deliveries/s: a burst of small messages, subscribers x messages / time until the last subscriber has the last one;
- time to last subscriber: one message at a time, from the publish until every subscriber has it (median);
- stalled: 1% of the subscribers never read (raw sockets with a small receive buffer); a burst of large messages,
  more than a stalled socket's buffers hold, and the time until every healthy subscriber has all of it, beside the
  same burst with no one stalled. A loop that awaits each send never finishes: that wait is bounded;
- idle memory: the server's resident memory per connected, idle subscriber.

    python benchmarks/fanout.py [--subscribers 1000] [--variants wsapi,fastapi,raw] [--stall-wait 10]
                                [--redis-url redis://127.0.0.1:6379/0]

Needs picows and fastapi (benchmarks/requirements.txt). The server runs on CPU 0, this client on the others.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

ROOT = Path(__file__).resolve().parent.parent  # apps are imported as benchmarks.apps.*, beside the suite's own
MESSAGE_PREFIX = b'{"type":"message"'
CONNECT_BATCH = 200


class Tally:
    """How many subscribers still lack the message they are waiting for, and when the last one got it."""

    def __init__(self) -> None:
        self.missing = 0
        self.done = asyncio.Event()
        self.finished = 0.0

    def expect(self, subscribers: list[Subscriber], more: int) -> None:
        self.done.clear()
        self.missing = len(subscribers)
        for subscriber in subscribers:
            subscriber.goal = subscriber.count + more

    def arrived(self) -> None:
        self.missing -= 1
        if self.missing == 0:
            self.finished = time.perf_counter()
            self.done.set()


class Subscriber(WSListener):  # type: ignore[misc]
    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.count = 0
        self.goal = -1

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            if bytes(frame.get_payload_as_memoryview()[: len(MESSAGE_PREFIX)]) == MESSAGE_PREFIX:
                self.count += 1
                if self.count == self.goal:
                    self.tally.arrived()
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()


class Publisher(WSListener):  # type: ignore[misc]
    pass


REDIS_URL = ""  # set by --redis-url: the variant "wsapi-redis" is wsapi's app on the Redis backend


@contextmanager
def server(variant: str) -> Iterator[tuple[int, int]]:
    """A uvicorn process on CPU 0 serving benchmarks/apps/fanout_<variant>.py; yields (port, pid), killed by PID."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    module, _, backend = variant.partition("-")
    env = {**os.environ, "FANOUT_REDIS_URL": REDIS_URL} if backend == "redis" else None
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT), f"benchmarks.apps.fanout_{module}:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--backlog", "8192"]
    process = subprocess.Popen(command, env=env, preexec_fn=lambda: os.sched_setaffinity(0, {0}))
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{variant} server did not start") from None
                time.sleep(0.05)
        yield port, process.pid
    finally:
        process.kill()
        process.wait()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def stalled_socket(port: int) -> socket.socket:
    """A subscriber that completes the handshake and never reads again (a small buffer, so it backs up soon)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2304)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /sub HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    if not response.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"stalled subscriber refused: {response[:40]!r}")
    return sock


@dataclass
class Setup:
    port: int
    pid: int
    subscribers: list[Subscriber]
    tally: Tally
    publisher: WSTransport


async def connect(port: int, count: int, tally: Tally) -> list[Subscriber]:
    subscribers: list[Subscriber] = []
    for start in range(0, count, CONNECT_BATCH):
        batch = min(CONNECT_BATCH, count - start)
        pairs = await asyncio.gather(
            *(ws_connect(lambda: Subscriber(tally), f"ws://127.0.0.1:{port}/sub") for _ in range(batch))
        )
        subscribers.extend(listener for _, listener in pairs)
    return subscribers


async def publish_and_wait(setup: Setup, messages: list[bytes], timeout: float) -> float | None:
    """Seconds from the first publish until every subscriber has all `messages`; None if not within `timeout`."""
    setup.tally.expect(setup.subscribers, len(messages))
    started = time.perf_counter()
    for message in messages:
        setup.publisher.send(WSMsgType.TEXT, message)
    try:
        await asyncio.wait_for(setup.tally.done.wait(), timeout)
    except TimeoutError:
        return None
    return setup.tally.finished - started


async def prepare(variant: str, port: int, pid: int, subscribers: int) -> tuple[Setup, float]:
    """Connect the subscribers and the publisher, deliver a first message; the server's KiB per idle subscriber."""
    tally = Tally()
    await asyncio.sleep(0.3)
    idle_before = rss_kib(pid)
    subs = await connect(port, subscribers, tally)
    publisher, _ = await ws_connect(Publisher, f"ws://127.0.0.1:{port}/pub")
    setup = Setup(port, pid, subs, tally, publisher)
    if await publish_and_wait(setup, [b"warm-up"], 30) is None:
        raise RuntimeError(f"{variant}: the warm-up message did not reach every subscriber")
    await asyncio.sleep(0.5)
    return setup, (rss_kib(pid) - idle_before) / subscribers


async def fan_out(variants: list[str], subscribers: int, burst: int, rounds: int) -> dict[str, dict[str, float]]:
    """Every variant's server at once, measured in turns, so that a passing load on the machine hits all alike."""
    results: dict[str, dict[str, float]] = {}
    with ExitStack() as stack:
        setups = {}
        for variant in variants:
            port, pid = stack.enter_context(server(variant))
            setups[variant], idle = await prepare(variant, port, pid, subscribers)
            results[variant] = {"idle_kib_per_subscriber": idle, "deliveries_per_s": 0.0}
        latencies: dict[str, list[float]] = {variant: [] for variant in variants}
        payload = b"x" * 100
        for round_ in range(rounds):
            for variant, setup in setups.items():
                for n in range(10):
                    elapsed = await publish_and_wait(setup, [f"latency {round_}.{n}".encode()], 30)
                    assert elapsed is not None
                    latencies[variant].append(elapsed)
                elapsed = await publish_and_wait(setup, [payload] * burst, 60)
                assert elapsed is not None
                rate = subscribers * burst / elapsed
                results[variant]["deliveries_per_s"] = max(results[variant]["deliveries_per_s"], rate)
        for variant, setup in setups.items():
            setup.publisher.disconnect()
            ordered = sorted(latencies[variant])
            results[variant]["time_to_last_ms"] = statistics.median(ordered) * 1000
            results[variant]["time_to_last_p99_ms"] = ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)] * 1000
    return results


async def stalled(variant: str, subscribers: int, stuck: int, size: int, burst: int, wait: float) -> float | None:
    """Seconds until every healthy subscriber has the whole burst, with `stuck` subscribers never reading."""
    with server(variant) as (port, _pid):
        tally = Tally()
        sockets = [stalled_socket(port) for _ in range(stuck)]
        subs = await connect(port, subscribers - stuck, tally)
        publisher, _ = await ws_connect(Publisher, f"ws://127.0.0.1:{port}/pub")
        setup = Setup(port, _pid, subs, tally, publisher)
        assert await publish_and_wait(setup, [b"warm-up"], 30) is not None, "warm-up not delivered"
        elapsed = await publish_and_wait(setup, [b"y" * size] * burst, wait)
        publisher.disconnect()
        for sock in sockets:
            sock.close()
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--variants", default="wsapi,fastapi,raw")
    parser.add_argument("--burst", type=int, default=200, help="messages per deliveries/s round")
    parser.add_argument("--rounds", type=int, default=5, help="turns through the variants; each keeps its best")
    parser.add_argument("--stall-size", type=int, default=64 * 1024, help="bytes per message in the stalled case")
    parser.add_argument("--stall-burst", type=int, default=48, help="messages in the stalled case")
    parser.add_argument("--stall-wait", type=float, default=10.0, help="seconds before giving up on a stalled run")
    parser.add_argument("--stall-rounds", type=int, default=2, help="runs of each stalled case (0: skip); the best")
    parser.add_argument("--redis-url", default="", help="also measure wsapi on the Redis backend (variant wsapi-redis)")
    args = parser.parse_args()
    global REDIS_URL
    REDIS_URL = args.redis_url
    os.sched_setaffinity(0, (os.sched_getaffinity(0) - {0}) or {0})
    variants = args.variants.split(",") + (["wsapi-redis"] if args.redis_url else [])
    stuck = max(1, args.subscribers // 100)

    async def run() -> None:
        results: dict[str, dict[str, float | None]] = dict(
            await fan_out(variants, args.subscribers, args.burst, args.rounds)  # type: ignore[arg-type]
        )
        for variant in variants:
            for label, count in (("no_stall_s", 0), ("stall_s", stuck)):
                times = [
                    await stalled(variant, args.subscribers, count, args.stall_size, args.stall_burst, args.stall_wait)
                    for _ in range(args.stall_rounds)
                ]
                finished = [t for t in times if t is not None]
                results[variant][label] = min(finished) if finished else None
            print(variant, results[variant], flush=True)
        report(results, args, stuck)

    uvloop.run(run())


def report(results: dict[str, dict[str, float | None]], args: argparse.Namespace, stuck: int) -> None:
    base = results.get("raw")
    print(f"\n{args.subscribers} subscribers on one server; ratios against the raw ASGI loop of this run")
    print(f"{'variant':11} {'deliveries/s':>13} {'ratio':>6} {'last sub ms':>12} {'p99':>6} ", end="")
    print(f"{'idle KiB/sub':>13} ", end="")
    print(f"{'burst s':>8} {f'{stuck} stalled s':>14} {'stall/no':>9}")
    for variant, r in results.items():
        ratio = f"{r['deliveries_per_s'] / base['deliveries_per_s']:.2f}" if base else "-"  # type: ignore[operator]
        no_stall, stall = r["no_stall_s"], r["stall_s"]
        stall_text = f"{stall:.2f}" if stall is not None else f">{args.stall_wait:.0f} (never)"
        burst_text = f"{no_stall:.2f}" if no_stall is not None else f">{args.stall_wait:.0f}"
        if not args.stall_rounds:
            stall_text = burst_text = "-"
        stall_ratio = f"{stall / no_stall:.2f}" if stall is not None and no_stall else "-"
        print(f"{variant:11} {r['deliveries_per_s']:13,.0f} {ratio:>6} {r['time_to_last_ms']:12.1f} ", end="")
        print(f"{r['time_to_last_p99_ms']:6.1f} ", end="")
        print(f"{r['idle_kib_per_subscriber']:13.1f} {burst_text:>8} {stall_text:>14} {stall_ratio:>9}")


if __name__ == "__main__":
    main()
