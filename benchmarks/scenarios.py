"""Scenarios: a scenario is a function `(server, settings) -> Outcome`, registered by name with `@scenario`.

Its docstring, formatted with `settings`, heads its table.

Each one drives bounded load at a freshly started server from client processes, and returns its figures together
with the CPU the server and the clients used, so a reader can tell whether the client had headroom.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.clients import Clients, Report, echo_job, handshake_job, idle_job, split
from benchmarks.server import Server

ECHO_PAYLOAD = b"0123456789abcdef0123456789abcdef"  # a small text message: 32 ASCII bytes


@dataclass(frozen=True)
class Settings:
    duration: float  # seconds of measured load per variant and scenario
    echo_connections: int
    handshake_concurrency: int
    idle_connections: int
    client_processes: int
    client_cpus: frozenset[int]


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    higher_is_better: bool
    digits: int = 0


@dataclass
class Outcome:
    figures: list[Figure]
    server_cpu: float | None = None  # cores busy on average during the window: 1.0 is one core saturated
    client_cpu: float | None = None
    errors: int = 0
    notes: list[str] = field(default_factory=list)


Scenario = Callable[[Server, Settings], Outcome]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = function
        return function

    return register


def _measured_window(server: Server, clients: Clients, duration: float) -> tuple[list[Report], float]:
    """Start the prepared clients; returns their reports and the server's busy cores over the window."""
    cpu = server.cpu_seconds()
    start = time.monotonic()
    clients.go()
    time.sleep(duration)
    server_cpu = (server.cpu_seconds() - cpu) / (time.monotonic() - start)
    return clients.reports(timeout=duration + 60), server_cpu


def _percentile(ordered: list[int], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


@scenario("echo")
def echo(server: Server, settings: Settings) -> Outcome:
    """{settings.echo_connections} connections doing request/response round trips of a 32-byte text message."""
    parts = split(settings.echo_connections, settings.client_processes)
    args = [(server.url("/echo"), n, settings.duration, ECHO_PAYLOAD) for n in parts]
    with Clients(echo_job, args, settings.client_cpus) as clients:
        clients.wait_ready()
        reports, server_cpu = _measured_window(server, clients, settings.duration)
    count = sum(r.count for r in reports)
    latencies = sorted(latency for r in reports for latency in r.latencies_ns)
    return Outcome(
        figures=[
            Figure("msgs/s", count / settings.duration, True),
            Figure("p50 ms", _percentile(latencies, 0.50) / 1e6, False, 2),
            Figure("p99 ms", _percentile(latencies, 0.99) / 1e6, False, 2),
            Figure("msgs per server CPU-s", count / (server_cpu * settings.duration), True),
        ],
        server_cpu=server_cpu,
        client_cpu=sum(r.cpu_seconds for r in reports) / settings.duration,
        errors=sum(r.errors for r in reports),
    )


@scenario("handshake")
def handshake(server: Server, settings: Settings) -> Outcome:
    """{settings.handshake_concurrency} clients connecting with a path param, query token, header and cookie,
    reading the one message and answering the server's close, one connection after another."""
    parts = split(settings.handshake_concurrency, settings.client_processes)
    args = [(server.url(""), n, settings.duration) for n in parts]
    with Clients(handshake_job, args, settings.client_cpus) as clients:
        clients.wait_ready()
        reports, server_cpu = _measured_window(server, clients, settings.duration)
    count = sum(r.count for r in reports)
    return Outcome(
        figures=[
            Figure("conns/s", count / settings.duration, True),
            Figure("conns per server CPU-s", count / (server_cpu * settings.duration), True),
        ],
        server_cpu=server_cpu,
        client_cpu=sum(r.cpu_seconds for r in reports) / settings.duration,
        errors=sum(r.errors for r in reports),
    )


@scenario("memory")
def memory(server: Server, settings: Settings) -> Outcome:
    """The server's RSS growth for {settings.idle_connections} idle connections, over a first batch's baseline."""
    parts = split(settings.idle_connections, settings.client_processes)
    first = max(1, 50 // len(parts))  # the baseline batch: one-time allocations are not counted per connection
    args = [(server.url("/echo"), [first, n], 100) for n in parts]
    with Clients(idle_job, args, settings.client_cpus) as clients:
        clients.wait_ready()
        before = _settled_rss(server)
        clients.go()
        clients.wait_ready(timeout=120)
        after = _settled_rss(server)
        clients.go()
        reports = clients.reports()
    idle = sum(r.count for r in reports) - first * len(parts)
    return Outcome(
        figures=[
            Figure("KiB per idle conn", (after - before) / idle / 1024, False, 1),
            Figure("RSS MiB, all open", after / 2**20, False, 1),
        ]
    )


def _settled_rss(server: Server, timeout: float = 5.0) -> int:
    """The server's RSS once it stops changing (the last handshakes' objects are settled), bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    rss = server.rss_bytes()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = server.rss_bytes()
        if now == rss:
            break
        rss = now
    return rss
