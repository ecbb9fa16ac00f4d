"""Scenarios: a scenario is a function `(server, settings) -> Outcome`, registered by name with `@scenario`.

Its docstring, formatted with `settings`, heads its table. It runs over the variants of one family: the app files
`benchmarks/apps/<family>_*.py` (the generic family: every file without a family prefix), or the variants it lists.

Each one drives bounded load at a freshly started server from client processes, and returns its figures together
with the CPU the server and the clients used, so a reader can tell whether the client had headroom.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.clients import (
    Burst,
    Clients,
    Frames,
    Job,
    Report,
    echo_frames,
    echo_job,
    fanout_job,
    handshake_job,
    idle_job,
    split,
    typed_echo_frames,
)
from benchmarks.server import Server, redis, redis_cluster

FAMILIES = ("typed_echo", "fanout")  # app files named <family>_<name>.py; the others are the generic family
STEP_TIMEOUT = 30.0  # seconds a fan-out step beyond its own wait may take before the run is called failed
CONNECT_TIMEOUT = 120.0  # seconds the fan-out clients may take to connect every subscriber


@dataclass(frozen=True)
class Settings:
    duration: float  # seconds of measured load per variant and scenario, in each round
    rounds: int
    echo_connections: int
    handshake_concurrency: int
    idle_connections: int
    client_processes: int
    client_cpus: frozenset[int]
    subscribers: int  # fan-out subscribers (the runner runs `fanout` once per --subscribers count)
    scale_cpus: int  # the scale-out scenarios' cores for server processes (--cpus)
    fanout_deliveries: int  # deliveries per fan-out burst, spread over the subscribers
    fanout_bursts: int  # bursts per run of a fan-out scenario; the best one counts
    latency_publishes: int  # single publishes per run, timed one by one
    stall_messages: int  # the stalled scenario's burst: more than a stalled socket's buffers hold
    stall_size: int
    stall_wait: float  # seconds before a fan-out with stalled subscribers is given up as never finishing


@dataclass(frozen=True)
class Figure:
    name: str
    value: float | None  # None: the load never finished within its bounded wait
    higher_is_better: bool
    digits: int = 0
    compared: bool = True  # shown with its ratio to the base variant's


@dataclass
class Outcome:
    figures: list[Figure]
    server_cpu: float | None = None  # cores busy on average during the window: 1.0 is one core saturated
    client_cpu: float | None = None
    errors: int = 0


@dataclass(frozen=True)
class Variant:
    name: str  # its row in the table
    app: str  # its module in benchmarks/apps/
    processes: int = 1  # uvicorn processes, each on its own core where there are enough
    one_core: bool = False  # all of them on the server's core instead


Scenario = Callable[[Server, Settings], Outcome]
Environment = Callable[[Settings], contextlib.AbstractContextManager[dict[str, str]]]


@dataclass(frozen=True)
class Spec:
    run: Scenario
    family: str
    variants: tuple[Variant, ...] | None  # None: every app of the family, each in one process
    environment: Environment | None  # what the servers need started first; yields their extra environment
    per_subscriber_count: bool  # run once per --subscribers count, each with its own table
    compare: tuple[tuple[str, str], ...]  # pairs of variants whose ratio is printed under the table
    scales: bool  # a scale-out scenario: its variants' processes get cores of their own (--cpus)


SCENARIOS: dict[str, Spec] = {}


def scenario(
    name: str,
    family: str = "",
    *,
    variants: tuple[Variant, ...] | None = None,
    environment: Environment | None = None,
    per_subscriber_count: bool = False,
    compare: tuple[tuple[str, str], ...] = (),
    scales: bool = False,
) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = Spec(function, family, variants, environment, per_subscriber_count, compare, scales)
        return function

    return register


def _rate(
    server: Server, settings: Settings, job: Job, args: list[tuple[Any, ...]], unit: str
) -> tuple[Outcome, list[Report]]:
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
    return outcome, reports


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def _echo(server: Server, settings: Settings, frames: Frames) -> Outcome:
    parts = split(settings.echo_connections, settings.client_processes)
    args = [(server.url("/echo"), n, settings.duration, frames) for n in parts]
    outcome, reports = _rate(server, settings, echo_job, args, "msgs")
    latencies = sorted(latency for r in reports for latency in r.latencies_ns)
    outcome.figures[1:1] = [
        Figure("p50 ms", _percentile(latencies, 0.50) / 1e6, False, 2),
        Figure("p99 ms", _percentile(latencies, 0.99) / 1e6, False, 2),
    ]
    return outcome


@scenario("echo")
def echo(server: Server, settings: Settings) -> Outcome:
    """{settings.echo_connections} connections doing request/response round trips of a 32-byte text message."""
    return _echo(server, settings, echo_frames)


@scenario("handshake")
def handshake(server: Server, settings: Settings) -> Outcome:
    """{settings.handshake_concurrency} clients connecting with a path param, query token, header and cookie,
    reading the one message and answering the server's close, one connection after another."""
    parts = split(settings.handshake_concurrency, settings.client_processes)
    args = [(server.url(""), n, settings.duration) for n in parts]
    return _rate(server, settings, handshake_job, args, "conns")[0]


def _memory(server: Server, settings: Settings, path: str, compressed: bool = False) -> Outcome:
    parts = split(settings.idle_connections, settings.client_processes)
    first = max(1, 50 // len(parts))  # the baseline batch: one-time allocations are not counted per connection
    args = [(server.url(path), [first, n], 100, compressed) for n in parts]
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


@scenario("memory")
def memory(server: Server, settings: Settings) -> Outcome:
    """The server's RSS growth for {settings.idle_connections} idle connections, over a first batch's baseline."""
    return _memory(server, settings, "/echo")


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


@scenario("typed_echo", "typed_echo", compare=(("typed_echo_dependency", "typed_echo_messages"),))
def typed_echo(server: Server, settings: Settings) -> Outcome:
    """{settings.echo_connections} connections doing round trips of a typed message,
    `{{"type":"echo","id":n,"data":{{"text":...}}}}` answered by `{{"type":"echo.reply","id":n,...}}`; the base is
    wsapi's `receive_json`/`send_json` by hand."""
    return _echo(server, settings, typed_echo_frames)


# Fan-out: the client processes run `fanout_job`, one step per burst; the runner lets each step go when every
# process is ready for it, so a step's server CPU time is what the server used between two goes.


@dataclass
class _Step:
    seconds: float | None  # from the first publish until every subscriber had the whole burst; None: not in time
    deliveries_ns: list[int]  # publish-to-delivery of the burst's last message, one per subscriber that got it
    window: float  # seconds from this step's go until every client process was ready for the next one
    server_cpu_seconds: float  # in the window
    client_cpu_seconds: float


def _fan_out(
    server: Server,
    settings: Settings,
    subscribers: int,
    stalled: int,
    bursts: Sequence[Burst],
    compressed: bool = False,
) -> tuple[list[_Step], int]:
    """Run `bursts` against `subscribers` (of which `stalled` never read) spread over the servers' processes, each
    offering permessage-deflate if `compressed`; each step's figures and the number of subscribers the server
    closed."""
    parts = split(subscribers - stalled, settings.client_processes)
    args = [(server.urls(""), n, stalled if i == 0 else 0, i == 0, bursts, compressed) for i, n in enumerate(parts)]
    cpu: list[float] = []
    clock: list[float] = []
    with Clients(fanout_job, args, settings.client_cpus) as clients:
        for k in range(len(bursts)):
            # Ready for step k means done with step k-1, which may have taken its whole wait.
            clients.wait_ready(timeout=STEP_TIMEOUT + bursts[k - 1].wait if k else CONNECT_TIMEOUT)
            cpu.append(server.cpu_seconds())
            clock.append(time.monotonic())
            clients.go()
        reports = clients.reports(timeout=STEP_TIMEOUT + bursts[-1].wait)
        cpu.append(server.cpu_seconds())
        clock.append(time.monotonic())
    steps = []
    for k, _ in enumerate(bursts):
        started = next(s for r in reports if (s := r.steps[k].started_ns) is not None)
        arrivals = [a for r in reports for a in r.steps[k].arrivals_ns]
        complete = len(arrivals) == subscribers - stalled
        steps.append(
            _Step(
                (max(arrivals) - started) / 1e9 if complete else None,
                [a - started for a in arrivals],
                clock[k + 1] - clock[k],
                cpu[k + 1] - cpu[k],
                sum(r.steps[k].cpu_seconds for r in reports),
            )
        )
    return steps, sum(r.errors for r in reports)


@scenario("fanout", "fanout", per_subscriber_count=True)
def fanout(server: Server, settings: Settings) -> Outcome:
    """One publisher, {settings.subscribers} subscribers on one channel: deliveries/s over a burst of 100-byte
    messages (the best of {settings.fanout_bursts}), and single publishes timed until the last subscriber has it
    (median) and per delivery (p99, over {settings.latency_publishes} publishes)."""
    return _fan_out_outcome(server, settings)


@scenario("fanout_deflate", "fanout", per_subscriber_count=True)
def fanout_deflate(server: Server, settings: Settings) -> Outcome:
    """`fanout` with {settings.subscribers} subscribers that offer permessage-deflate, as browsers do, to a server
    that accepts it (uvicorn's default); the clients inflate every compressed frame."""
    return _fan_out_outcome(server, settings, compressed=True)


def _fan_out_outcome(server: Server, settings: Settings, compressed: bool = False) -> Outcome:
    n = settings.subscribers
    single = Burst(1, 100, STEP_TIMEOUT)
    # At most 200 a burst: wsapi's default send queue holds 256 frames, and a burst fills it faster than it drains.
    burst = Burst(min(200, max(10, settings.fanout_deliveries // n)), 100, 60)
    plan = [single] * (1 + settings.latency_publishes) + [burst] * settings.fanout_bursts  # the first: a warm-up
    steps, closed = _fan_out(server, settings, n, 0, plan, compressed)
    singles = steps[1 : 1 + settings.latency_publishes]
    bursts = steps[1 + settings.latency_publishes :]
    missed = sum(s.seconds is None for s in steps)
    finished = [s for s in bursts if s.seconds is not None]
    best = min(finished, key=lambda s: s.seconds or 0.0) if finished else bursts[0]
    rate = n * burst.messages / best.seconds if best.seconds else None
    lasts = [s.seconds * 1e3 for s in singles if s.seconds is not None]
    deliveries = sorted(ns / 1e6 for s in singles for ns in s.deliveries_ns)
    return Outcome(
        figures=[
            Figure("deliveries/s", rate, True),
            Figure("last sub ms", statistics.median(lasts) if lasts else None, False, 1),
            Figure("p99 delivery ms", _percentile(deliveries, 0.99) if deliveries else None, False, 1),
            Figure(
                "deliveries per server CPU-s",
                n * burst.messages / best.server_cpu_seconds if best.server_cpu_seconds else None,
                True,
            ),
        ],
        server_cpu=best.server_cpu_seconds / best.window,
        client_cpu=best.client_cpu_seconds / best.window,
        errors=closed + missed,
    )


@scenario("fanout_stall", "fanout")
def fanout_stall(server: Server, settings: Settings) -> Outcome:
    """{settings.subscribers} subscribers get a burst of {settings.stall_messages} messages of
    {settings.stall_size} bytes (more than a stalled socket's buffers hold): seconds until every healthy subscriber
    has it all, with none stalled, then with 1% stalled (connected first, never reading); `never`: not within
    {settings.stall_wait:g} s."""
    n = settings.subscribers
    burst = Burst(settings.stall_messages, settings.stall_size, settings.stall_wait)
    plan = [Burst(1, 100, STEP_TIMEOUT), burst]
    healthy, closed = _fan_out(server, settings, n, 0, plan)
    stalled, closed_stalled = _fan_out(server, settings, n, max(1, n // 100), plan)
    alone, among = healthy[-1].seconds, stalled[-1].seconds
    return Outcome(
        figures=[
            Figure("s, none stalled", alone, False, 2),
            Figure("s, 1% stalled", among, False, 2),
            Figure("stalled / none", among / alone if among and alone else None, False, 2, compared=False),
        ],
        errors=closed + closed_stalled + (healthy[-1].seconds is None),
    )


@contextlib.contextmanager
def _redis_environment(settings: Settings) -> Iterator[dict[str, str]]:
    with redis(set(settings.client_cpus)) as url:
        yield {"FANOUT_REDIS_URL": url}


@scenario(
    "fanout_redis",
    "fanout",
    variants=(
        Variant("1 process", "fanout_wsapi"),
        Variant("2 processes", "fanout_wsapi", processes=2),
        Variant("2 processes, 1 core", "fanout_wsapi", processes=2, one_core=True),
    ),
    environment=_redis_environment,
)
def fanout_redis(server: Server, settings: Settings) -> Outcome:
    """wsapi's channels over Redis (one redis-server, on the clients' cores): {settings.subscribers} subscribers
    spread over the uvicorn processes, one publisher on the first; the figures of `fanout`. The second process
    gets the next core, shared with the clients and Redis where there are too few; "1 core" puts both on the
    first process's core (the same CPU budget as 1 process)."""
    return _fan_out_outcome(server, settings)


@scenario("fanout_memory", "fanout")
def fanout_memory(server: Server, settings: Settings) -> Outcome:
    """The server's RSS growth for {settings.idle_connections} idle subscribers (wsapi: subscribed to a channel),
    over a first batch's baseline; the base is an idle raw ASGI connection kept in a list."""
    return _memory(server, settings, "/sub")


@scenario("fanout_memory_deflate", "fanout")
def fanout_memory_deflate(server: Server, settings: Settings) -> Outcome:
    """`fanout_memory` with subscribers that offer permessage-deflate, as browsers do: each compressed connection
    keeps its own zlib state; the base is an idle raw ASGI connection that negotiated it too."""
    return _memory(server, settings, "/sub", compressed=True)


SCALE_OUT = tuple(Variant(f"{n} process{'es' * (n > 1)}", "fanout_wsapi", processes=n) for n in (1, 2, 4, 8, 16, 32))


def _scale_out(server: Server, settings: Settings) -> Outcome:
    outcome = _fan_out_outcome(server, settings)
    rate, _, _, per_cpu = outcome.figures
    processes = len(server.pids)
    per_process = None if rate.value is None else rate.value / processes
    outcome.figures = [
        rate,
        Figure("deliveries/s per process", per_process, True),
        per_cpu,
        outcome.figures[1],
        outcome.figures[2],
    ]
    return outcome


@scenario("scaleout_redis", "fanout", variants=SCALE_OUT, environment=_redis_environment, scales=True)
def scaleout_redis(server: Server, settings: Settings) -> Outcome:
    """Scale-out over one Redis: N uvicorn processes of wsapi's channels, each on a core of its own (up to
    --cpus={settings.scale_cpus}), {settings.subscribers} subscribers spread over them, one publisher on the first;
    bursts as in `fanout`. Redis and the clients run on the other cores (on all of them where none are left)."""
    return _scale_out(server, settings)


@contextlib.contextmanager
def _cluster_environment(settings: Settings) -> Iterator[dict[str, str]]:
    with redis_cluster(set(settings.client_cpus)) as url:
        yield {"FANOUT_REDIS_CLUSTER_URL": url}


@scenario("scaleout_cluster", "fanout", variants=SCALE_OUT, environment=_cluster_environment, scales=True)
def scaleout_cluster(server: Server, settings: Settings) -> Outcome:
    """Scale-out over a Redis Cluster (three primaries, no replicas, sharded pub/sub): as `scaleout_redis`, up to
    --cpus={settings.scale_cpus} processes, {settings.subscribers} subscribers."""
    return _scale_out(server, settings)
