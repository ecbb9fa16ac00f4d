"""The load generator: client processes pinned to the cores the server does not use, each running one job.

A job is an async function run in a client process with uvloop and picows (a Cython WebSocket client, about twice
as cheap per message as the `websockets` client, so the client keeps headroom). It prepares (connects, warms up),
calls `await phase.ready()` to tell the runner it is prepared and wait for the go, then does its measured part and
returns a `Report`. The runner may call for several phases (the memory scenario measures between them).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import queue
import socket
import time
import traceback
import zlib
from array import array
from collections.abc import Callable, Coroutine, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, cast

import uvloop
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from benchmarks.apps import CLIENT, ITEM_ID, ITEM_REPLY, SESSION, TOKEN

GO_TIMEOUT = 300.0  # seconds a prepared client waits for the runner before giving up
IO_TIMEOUT = 10.0  # seconds for any single connect, close or reply
HANDSHAKE_PATH = f"/items/{ITEM_ID}/ws?token={TOKEN}"
HANDSHAKE_HEADERS = {"x-client": CLIENT, "cookie": f"session={SESSION}"}


@dataclass
class Report:
    """What one client process did in its measured phase."""

    count: int = 0  # round trips or connections completed inside the window
    errors: int = 0  # wrong replies, refused or dropped connections
    cpu_seconds: float = 0.0  # this process's CPU time during the window
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))
    steps: list[Step] = field(default_factory=list)  # a fan-out job's steps, in order


@dataclass
class Step:
    """One fan-out step (a burst of publishes) as one client process saw it."""

    started_ns: int | None  # when the first message went out (the publishing process only)
    arrivals_ns: array[int]  # for each of this process's subscribers that got the whole burst in time: when
    cpu_seconds: float  # this process's CPU time from the go until its subscribers had it or the wait ended


class Phase:
    """A client process's side of the handshake with the runner."""

    def __init__(self, index: int, go: Any, events: Any) -> None:
        self.index = index
        self.go = go
        self.events = events

    async def ready(self) -> None:
        self.events.put(("ready", self.index, None))
        await asyncio.to_thread(self.go.get, True, GO_TIMEOUT)


Job = Callable[..., Coroutine[Any, Any, Report]]


def _child(job: Job, args: tuple[Any, ...], cpus: AbstractSet[int], index: int, go: Any, events: Any) -> None:
    os.sched_setaffinity(0, cpus)
    try:
        report = uvloop.run(job(Phase(index, go, events), *args))
    except BaseException:
        events.put(("error", index, traceback.format_exc()))
    else:
        events.put(("done", index, report))


class Clients:
    """One client process per entry of `args`, each running `job(phase, *args[i])` on `cpus`; killed on exit."""

    def __init__(self, job: Job, args: Sequence[tuple[Any, ...]], cpus: AbstractSet[int]) -> None:
        context = multiprocessing.get_context("spawn")
        self.events = context.Queue()
        self.gos = [context.Queue() for _ in args]
        self.processes = [
            context.Process(target=_child, args=(job, a, cpus, i, self.gos[i], self.events), daemon=True)
            for i, a in enumerate(args)
        ]

    def __enter__(self) -> Clients:
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes:
            process.join(timeout=IO_TIMEOUT if exc_info[0] is None else 0)
            if process.is_alive():
                process.kill()
                process.join()

    def _collect(self, kind: str, timeout: float) -> list[Any]:
        """One `kind` event from every process, in process order; a client's failure is raised here."""
        found: dict[int, Any] = {}
        deadline = time.monotonic() + timeout
        while len(found) < len(self.processes):
            try:
                event, index, payload = self.events.get(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                dead = [i for i, p in enumerate(self.processes) if i not in found and p.exitcode is not None]
                if dead:
                    raise RuntimeError(f"client process {dead[0]} died without a report") from None
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"client processes did not report {kind!r} within {timeout}s") from None
                continue
            if event == "error":
                raise RuntimeError(f"client process {index} failed:\n{payload}")
            assert event == kind, (event, kind)
            found[index] = payload
        return [found[i] for i in range(len(self.processes))]

    def wait_ready(self, timeout: float = 60.0) -> None:
        self._collect("ready", timeout)

    def go(self) -> None:
        for go in self.gos:
            go.put("go")

    def reports(self, timeout: float = 60.0) -> list[Report]:
        reports: list[Report] = self._collect("done", timeout)
        return reports


def split(total: int, parts: int) -> list[int]:
    """`total` spread over `parts` as evenly as possible, leaving out empty parts."""
    return [n for n in (total // parts + (i < total % parts) for i in range(parts)) if n]


# Echo: closed-loop round trips on already-open connections.

ECHO_PAYLOAD = b"0123456789abcdef0123456789abcdef"  # a small text message: 32 ASCII bytes
Frames = Callable[[int], tuple[bytes, bytes]]  # the n-th request of a connection and the reply it must get


def echo_frames(n: int) -> tuple[bytes, bytes]:
    """The plain echo: the same 32 bytes back and forth."""
    return ECHO_PAYLOAD, ECHO_PAYLOAD


def typed_echo_frames(n: int) -> tuple[bytes, bytes]:
    """The typed echo (benchmarks/apps/typed_echo_*.py): an envelope with an id, answered by a reply with that id."""
    data = b'{"text":"%s"}' % ECHO_PAYLOAD
    return b'{"type":"echo","id":%d,"data":%s}' % (n, data), b'{"type":"echo.reply","id":%d,"data":%s}' % (n, data)


class _EchoListener(WSListener):
    def __init__(self) -> None:
        self.transport: WSTransport | None = None
        self.done: asyncio.Future[None] | None = None
        self.sent = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def start(self, frames: Frames, rounds: int, deadline_ns: int, report: Report | None) -> asyncio.Future[None]:
        """Do `rounds` round trips of `frames` or stop at `deadline_ns`; record them in `report` if given."""
        self.frames, self.rounds, self.deadline_ns, self.report = frames, rounds, deadline_ns, report
        self.done = asyncio.get_running_loop().create_future()
        self._send()
        return self.done

    def _send(self) -> None:
        assert self.transport is not None
        self.sent += 1
        request, self.expected = self.frames(self.sent)
        self.sent_ns = time.perf_counter_ns()
        self.transport.send(WSMsgType.TEXT, request)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not WSMsgType.TEXT or self.done is None or self.done.done():
            return
        now = time.perf_counter_ns()
        report = self.report
        if report is not None:
            if frame.get_payload_as_bytes() != self.expected:
                report.errors += 1
            elif now <= self.deadline_ns:
                report.count += 1
                report.latencies_ns.append(now - self.sent_ns)
        self.rounds -= 1
        if self.rounds > 0 and now < self.deadline_ns:
            self._send()
        else:
            self.done.set_result(None)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("the server closed an echo connection"))


async def echo_job(phase: Phase, url: str, connections: int, duration: float, frames: Frames) -> Report:
    """Open `connections`, warm them up, then do round trips for `duration` seconds."""
    opened = [await ws_connect(_EchoListener, url, websocket_handshake_timeout=IO_TIMEOUT) for _ in range(connections)]
    listeners = [cast(_EchoListener, listener) for _, listener in opened]
    warm_deadline = time.perf_counter_ns() + int(IO_TIMEOUT * 1e9)
    await asyncio.gather(*(listener.start(frames, 50, warm_deadline, None) for listener in listeners))
    await phase.ready()

    report = Report()
    cpu = time.process_time()
    deadline = time.perf_counter_ns() + int(duration * 1e9)
    rounds = int(duration * 1_000_000)  # a count bound far above any loopback rate
    runs = [listener.start(frames, rounds, deadline, report) for listener in listeners]
    await asyncio.wait_for(asyncio.gather(*runs), duration + IO_TIMEOUT)
    report.cpu_seconds = time.process_time() - cpu
    for transport, _ in opened:
        transport.disconnect()
    return report


# Handshakes: connect with the four checked inputs, read the one reply, answer the server's close.


class _HandshakeListener(WSListener):
    def __init__(self) -> None:
        self.reply: str | None = None
        self.close_code: WSCloseCode | None = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            self.reply = frame.get_payload_as_utf8_text()
        elif frame.msg_type is WSMsgType.CLOSE:
            self.close_code = frame.get_close_code()
            transport.send_close(self.close_code)  # the server then closes the TCP connection


async def _handshake(url: str) -> bool:
    """One connection's life; True if the reply and the close code were the expected ones."""
    try:
        transport, listener = await ws_connect(
            _HandshakeListener, url, extra_headers=HANDSHAKE_HEADERS, websocket_handshake_timeout=IO_TIMEOUT
        )
    except Exception:
        return False
    try:
        await asyncio.wait_for(transport.wait_disconnected(), IO_TIMEOUT)
    except TimeoutError:
        transport.disconnect()
        return False
    checked = cast(_HandshakeListener, listener)
    return checked.reply == ITEM_REPLY and checked.close_code is WSCloseCode.OK


async def handshake_job(phase: Phase, base_url: str, concurrency: int, duration: float) -> Report:
    """`concurrency` loops, each opening one connection after another for `duration` seconds."""
    url = base_url + HANDSHAKE_PATH
    warm = await asyncio.gather(*(_handshake(url) for _ in range(concurrency)))
    if not all(warm):
        raise RuntimeError(f"{warm.count(False)} of {concurrency} warm-up handshakes to {url} failed")
    await phase.ready()

    report = Report()
    cpu = time.process_time()
    deadline = time.monotonic() + duration
    limit = int(duration * 100_000)  # a count bound far above any loopback rate

    async def loop() -> None:
        for _ in range(limit):
            if time.monotonic() >= deadline:
                return
            ok = await _handshake(url)
            if time.monotonic() <= deadline:
                report.count += ok
                report.errors += not ok

    await asyncio.wait_for(asyncio.gather(*(loop() for _ in range(concurrency))), duration + 2 * IO_TIMEOUT)
    report.cpu_seconds = time.process_time() - cpu
    return report


# Idle connections: open, hold while the runner reads the server's memory, close.


DEFLATE_OFFER = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}  # what browsers send
DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 strips it from each compressed message; inflating needs it back


async def idle_job(
    phase: Phase, url: str, batches: Sequence[int], concurrency: int, compressed: bool = False
) -> Report:
    """Open each batch of idle connections in turn (at most `concurrency` connecting at once), offering
    permessage-deflate if `compressed`; ready after each."""
    gate = asyncio.Semaphore(concurrency)
    transports: list[WSTransport] = []
    offer = DEFLATE_OFFER if compressed else None

    async def open_one() -> None:
        async with gate:
            transport, _ = await ws_connect(
                WSListener, url, websocket_handshake_timeout=IO_TIMEOUT, extra_headers=offer
            )
            transports.append(transport)

    for size in batches:
        await asyncio.gather(*(open_one() for _ in range(size)))
        await phase.ready()
    for transport in transports:
        transport.disconnect()
    return Report(count=len(transports))


# Fan-out: subscribers on /sub, one publisher on /pub; every step is a burst of publishes awaited by every subscriber.

FANOUT_PREFIX = b'{"type":"message"'  # the frame every fan-out app sends a subscriber, one per published text
CONNECT_BATCH = 200  # subscribers connecting at once


@dataclass(frozen=True)
class Burst:
    messages: int  # published back to back
    size: int  # bytes of text per message
    wait: float  # seconds the subscribers get to have them all


class _Tally:
    """The arrival of a burst's last message at each subscriber of this process."""

    def __init__(self) -> None:
        self.missing = 0
        self.arrivals_ns: array[int] = array("q")
        self.done = asyncio.Event()

    def expect(self, subscribers: Sequence[_Subscriber], messages: int) -> None:
        self.missing = len(subscribers)
        self.arrivals_ns = array("q")
        self.done.clear()
        for subscriber in subscribers:
            subscriber.goal = subscriber.count + messages

    def arrived(self) -> None:
        self.arrivals_ns.append(time.perf_counter_ns())
        self.missing -= 1
        if self.missing == 0:
            self.done.set()


class _Subscriber(WSListener):
    def __init__(self, tally: _Tally, compressed: bool) -> None:
        self.tally = tally
        self.count = 0
        self.goal = -1
        self.closed = False
        # picows leaves extensions to the listener: a compressed frame (RSV1) is inflated here, every one of them,
        # since each may refer back to the ones before (context takeover).
        self.inflate = zlib.decompressobj(wbits=-15) if compressed else None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            payload: bytes | memoryview = frame.get_payload_as_memoryview()
            if frame.rsv1 and self.inflate is not None:
                payload = self.inflate.decompress(bytes(payload) + DEFLATE_TAIL)
            # Other frames (wsapi's "subscribed") are not deliveries.
            if payload[: len(FANOUT_PREFIX)] == FANOUT_PREFIX:
                self.count += 1
                if self.count == self.goal:
                    self.tally.arrived()
        elif frame.msg_type is WSMsgType.CLOSE:
            self.closed = True
            transport.disconnect()


def _stalled_subscriber(url: str) -> socket.socket:
    """A subscriber that completes the handshake and never reads again; its tiny receive buffer backs up at once."""
    host, port = url.removeprefix("ws://").split("/", 1)[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2304)  # set before connecting, so the window stays small
    sock.settimeout(IO_TIMEOUT)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /sub HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response and len(response) < 4096:
        response += sock.recv(4096)
    if not response.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"stalled subscriber refused: {response[:40]!r}")
    return sock


async def fanout_job(
    phase: Phase,
    base_urls: Sequence[str],
    subscribers: int,
    stalled: int,
    publisher: bool,
    bursts: Sequence[Burst],
    compressed: bool = False,
) -> Report:
    """Connect `stalled` subscribers that never read (first, so a naive loop meets them first), then `subscribers`
    that do, spread over the servers, offering permessage-deflate if `compressed`; the publishing process also
    connects to the first server's /pub. Then each burst is one step: ready, go, the publisher sends it, every
    process waits (bounded) for its subscribers."""
    urls = [f"{base}/sub" for base in base_urls]
    offer = DEFLATE_OFFER if compressed else None
    stuck = [_stalled_subscriber(urls[i % len(urls)]) for i in range(stalled)]
    tally = _Tally()
    opened: list[tuple[WSTransport, WSListener]] = []
    for start in range(0, subscribers, CONNECT_BATCH):
        opened += await asyncio.gather(
            *(
                ws_connect(
                    lambda: _Subscriber(tally, compressed),
                    urls[i % len(urls)],
                    websocket_handshake_timeout=IO_TIMEOUT,
                    extra_headers=offer,
                )
                for i in range(start, min(subscribers, start + CONNECT_BATCH))
            )
        )
    listeners = [cast(_Subscriber, listener) for _, listener in opened]
    sender = None
    if publisher:
        sender, _ = await ws_connect(WSListener, f"{base_urls[0]}/pub", websocket_handshake_timeout=IO_TIMEOUT)
        sock = sender.underlying_transport.get_extra_info("socket")

    report = Report()
    for burst in bursts:
        tally.expect(listeners, burst.messages)
        text = b"x" * burst.size
        await phase.ready()
        cpu = time.process_time()
        started_ns = None
        if sender is not None:
            started_ns = time.perf_counter_ns()
            # Corked, the burst leaves in full segments: the server reads it in as few reads as its size allows,
            # the same way in every run, rather than as the client's scheduling happens to split it.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            for _ in range(burst.messages):
                sender.send(WSMsgType.TEXT, text)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        if tally.missing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tally.done.wait(), burst.wait)
        report.steps.append(Step(started_ns, tally.arrivals_ns, time.process_time() - cpu))
    report.errors = sum(listener.closed for listener in listeners)
    for sock in stuck:
        sock.close()
    if sender is not None:
        sender.disconnect()
    for transport, _ in opened:
        transport.disconnect()
    return report
