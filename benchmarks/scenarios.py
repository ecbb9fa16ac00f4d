"""Scenarios: a scenario is a function `(server, settings) -> Outcome`, registered by name with `@scenario`.

Its docstring, formatted with `settings`, heads its table.

Each one drives bounded load at a freshly started server from client processes, and returns its figures together
with the CPU the server and the clients used, so a reader can tell whether the client had headroom.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.clients import Clients, Job, Report, echo_job, handshake_job, idle_job, split
from benchmarks.server import Server

ECHO_PAYLOAD = b"0123456789abcdef0123456789abcdef"  # a small text message: 32 ASCII bytes


@dataclass(frozen=True)
class Settings:
    duration: float  # seconds of measured load per variant and scenario, in each round
    rounds: int
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


@dataclass
class Measured:
    """A rate scenario's outcome, with the client reports it came from."""

    outcome: Outcome
    reports: list[Report]


Scenario = Callable[[Server, Settings], Outcome]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = function
        return function

    return register


def _rate(server: Server, settings: Settings, job: Job, args: list[tuple[Any, ...]], unit: str) -> Measured:
    """Run `job` in the client processes for one window: its rate, and its rate per second of server CPU."""
    with Clients(job, args, settings.client_cpus) as clients:
        clients.wait_ready()
        cpu = server.cpu_seconds()
        start = time.monotonic()
        clients.go()
        time.sleep(settings.duration)
        server_cpu = (server.cpu_seconds() - cpu) / (time.monotonic() - start)
        reports = clients.reports(timeout=settings.duration + 60)
    count = sum(r.count for r in reports)
    outcome = Outcome(
        figures=[
            Figure(f"{unit}/s", count / settings.duration, True),
            Figure(f"{unit} per server CPU-s", count / (server_cpu * settings.duration), True),
        ],
        server_cpu=server_cpu,
        client_cpu=sum(r.cpu_seconds for r in reports) / settings.duration,
        errors=sum(r.errors for r in reports),
    )
    return Measured(outcome, reports)


def _percentile(ordered: list[int], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


@scenario("echo")
def echo(server: Server, settings: Settings) -> Outcome:
    """{settings.echo_connections} connections doing request/response round trips of a 32-byte text message."""
    parts = split(settings.echo_connections, settings.client_processes)
    args = [(server.url("/echo"), n, settings.duration, ECHO_PAYLOAD) for n in parts]
    measured = _rate(server, settings, echo_job, args, "msgs")
    latencies = sorted(latency for r in measured.reports for latency in r.latencies_ns)
    measured.outcome.figures[1:1] = [
        Figure("p50 ms", _percentile(latencies, 0.50) / 1e6, False, 2),
        Figure("p99 ms", _percentile(latencies, 0.99) / 1e6, False, 2),
    ]
    return measured.outcome


@scenario("handshake")
def handshake(server: Server, settings: Settings) -> Outcome:
    """{settings.handshake_concurrency} clients connecting with a path param, query token, header and cookie,
    reading the one message and answering the server's close, one connection after another."""
    parts = split(settings.handshake_concurrency, settings.client_processes)
    args = [(server.url(""), n, settings.duration) for n in parts]
    return _rate(server, settings, handshake_job, args, "conns").outcome


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
