"""Run the benchmark suite: every scenario over its variants (benchmarks/apps/*.py), then print the tables.

    python -m benchmarks.run [--quick] [--duration S] [--rounds N] [--variants raw,wsapi] [--scenarios echo,fanout]
                             [--cpus N]

Each (scenario, variant, round) gets fresh uvicorn processes pinned to their own cores, with the client processes
on the other cores; every figure is printed with its ratio to the scenario's base variant measured in the same run
(raw ASGI for the generic scenarios, `<family>_raw` for a family's).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import importlib
import os
import platform
import resource
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from benchmarks.scenarios import FAMILIES, SCENARIOS, Outcome, Settings, Spec, Variant
from benchmarks.server import REDIS_SERVER, UVICORN_OPTIONS, serve

APPS = Path(__file__).resolve().parent / "apps"
BASELINE = "raw"
PACKAGES = (
    "wsapi",
    "starlette",
    "fastapi",
    "litestar",
    "uvicorn",
    "uvloop",
    "websockets",
    "pydantic",
    "redis",
    "picows",
)
SATURATED = 0.9  # busy cores per core above which a side counts as saturated


def apps() -> list[str]:
    """Every app file's name."""
    return sorted(p.stem for p in APPS.glob("*.py") if p.stem != "__init__")


def family(app: str) -> str:
    return next((f for f in FAMILIES if app.startswith(f + "_")), "")


def variants(spec: Spec, chosen: list[str], cpus: int) -> list[Variant]:
    """The scenario's variants among the `chosen` apps, its base first: the family's apps (raw first, the peers,
    wsapi last) unless the scenario lists its own (a scale-out scenario's: those that fit in `cpus` cores)."""
    if spec.variants is not None:
        return [v for v in spec.variants if v.app in chosen and (not spec.scales or v.processes <= cpus)]
    base = f"{spec.family}_{BASELINE}" if spec.family else BASELINE
    names = [app for app in chosen if family(app) == spec.family]
    return [Variant(app, app) for app in sorted(names, key=lambda app: (app != base, app == "wsapi", app))]


def short(variant: Variant, spec: Spec) -> str:
    """A variant's name without its family's prefix, as the ratio columns name the base."""
    return variant.name.removeprefix(f"{spec.family}_")


def missing_module(app: str) -> str | None:
    """The module an app needs that is not installed, if any (the peers are in benchmarks/requirements.txt)."""
    try:
        importlib.import_module(f"benchmarks.apps.{app}")
    except ModuleNotFoundError as exc:
        return exc.name or str(exc)
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of about two minutes: one round, short windows"
    )
    parser.add_argument("--duration", type=float, help="seconds of measured load per variant and scenario")
    parser.add_argument("--rounds", type=int, help="rounds through all variants; each variant's best one counts")
    parser.add_argument("--idle-connections", type=int, help="idle connections in the memory scenarios")
    parser.add_argument(
        "--subscribers",
        help="comma-separated fan-out subscriber counts (default 1000,5000): `fanout` runs at each,"
        " the other fan-out scenarios at the first",
    )
    parser.add_argument(
        "--cpus",
        type=int,
        help="cores for the scale-out scenarios' server processes (default: every usable core, at least 2): they run"
        " 1, 2, 4, ... processes up to that many, one core each; the clients and Redis get the remaining cores, or"
        " share them all when none remain",
    )
    parser.add_argument("--variants", help=f"comma-separated, from: {','.join(apps())}")
    parser.add_argument("--scenarios", help=f"comma-separated, from: {','.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    args.variants = _choose(parser, "variant", args.variants, apps())
    args.scenarios = _choose(parser, "scenario", args.scenarios, list(SCENARIOS))
    try:
        args.subscribers = [int(n) for n in (args.subscribers or "1000,5000").split(",")]
    except ValueError:
        parser.error(f"--subscribers takes comma-separated integers, not {args.subscribers!r}")
    usable = len(os.sched_getaffinity(0))
    args.cpus = args.cpus or max(2, usable)
    if not 1 <= args.cpus <= max(2, usable):
        parser.error(f"--cpus: between 1 and {max(2, usable)} (this process may use {usable} cores)")
    if min(args.subscribers) < 2:
        parser.error("--subscribers: counts must be at least 2 (one of them may be the stalled one)")
    return args


def _choose(parser: argparse.ArgumentParser, what: str, given: str | None, known: list[str]) -> list[str]:
    if given is None:
        return known
    chosen = [name.strip() for name in given.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        parser.error(f"unknown {what}(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [name for name in known if name in chosen]


def settings_for(args: argparse.Namespace, client_cpus: frozenset[int]) -> Settings:
    return Settings(
        duration=args.duration or (2.0 if args.quick else 5.0),
        rounds=args.rounds or (1 if args.quick else 2),
        echo_connections=50,
        handshake_concurrency=50,
        idle_connections=args.idle_connections or (1000 if args.quick else 3000),
        client_processes=max(2, len(client_cpus)),
        client_cpus=client_cpus,
        subscribers=args.subscribers[0],
        scale_cpus=args.cpus,
        fanout_deliveries=100_000 if args.quick else 200_000,
        fanout_bursts=2 if args.quick else 3,
        latency_publishes=20 if args.quick else 50,
        stall_messages=48,
        stall_size=64 * 1024,
        stall_wait=3.0 if args.quick else 5.0,
    )


def split_cpus(servers: int = 1) -> tuple[frozenset[int], frozenset[int]]:
    """The first `servers` usable cores for the server, the rest for the clients (all of them if none are left)."""
    cpus = sorted(os.sched_getaffinity(0))
    server = frozenset(cpus[:servers])
    return server, frozenset(cpus[servers:]) or frozenset(cpus)


def process_cpus(variant: Variant, server_cpus: frozenset[int], client_cpus: frozenset[int]) -> list[set[int]]:
    """A core for each of the variant's processes: the server's first, then the clients' in turn (shared with them
    when the machine has fewer cores than processes plus clients), or the server's for all."""
    cores = sorted(server_cpus) + ([] if variant.one_core else sorted(client_cpus - server_cpus))
    return [{cores[i % len(cores)]} for i in range(variant.processes)]


def raise_fd_limit(needed: int) -> None:
    """Idle connections need a descriptor each, in the server and in the clients (who inherit this limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            sys.exit(f"RLIMIT_NOFILE hard limit {hard} < {needed} descriptors needed: fewer connections, please")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def header(settings: Settings, server_cpus: frozenset[int]) -> str:
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return "\n".join(
        [
            f"# wsapi benchmarks, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
            "",
            f"- machine: {_cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}",
            f"- Python {platform.python_version()}; {'; '.join(versions)}; {_redis_version()}",
            f"- uvicorn {' '.join(UVICORN_OPTIONS)}; server on core {_cores(server_cpus)}, "
            f"{settings.client_processes} client processes (picows, uvloop) on core {_cores(settings.client_cpus)}",
            f"- {settings.duration:g} s of load per variant and scenario in each of {settings.rounds} round(s);"
            " each variant's best round is shown",
        ]
    )


def _redis_version() -> str:
    try:
        output = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return "redis-server (not installed)"
    version = next((word for word in output.split() if word.startswith("v=")), "v=?")
    return f"redis-server {version[2:]}"


def _cores(cpus: frozenset[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def title(name: str, spec: Spec, settings: Settings) -> str:
    return f"{name} ({settings.subscribers} subscribers)" if spec.per_subscriber_count else name


def table(
    name: str,
    spec: Spec,
    chosen: list[Variant],
    results: dict[str, Outcome | str],
    settings: Settings,
    server_cpus: frozenset[int],
) -> str:
    """A Markdown table: one row per variant, each figure followed by its ratio to the base variant."""
    description = " ".join((spec.run.__doc__ or "").split()).format(settings=settings)
    heading = f"## {title(name, spec, settings)}: {description}"
    outcomes = [o for o in results.values() if isinstance(o, Outcome)]
    if not outcomes:
        return heading + "\n\n" + "\n".join(f"- {v}: {r}" for v, r in results.items())
    base = results.get(chosen[0].name)
    ratio = f"x {short(chosen[0], spec)}"
    columns = ["variant"]
    for figure in outcomes[0].figures:
        columns += [figure.name, ratio] if figure.compared else [figure.name]
    with_cpu = any(o.server_cpu is not None for o in outcomes)
    if with_cpu:
        columns += ["server CPU", "client CPU"]
    columns.append("errors")
    rows = [columns, ["---"] + ["---:"] * (len(columns) - 1)]
    notes: list[str] = []
    for variant in chosen:
        outcome = results[variant.name]
        if isinstance(outcome, str):
            notes.append(f"- {variant.name}: {outcome}")
            continue
        row = [variant.name]
        for i, figure in enumerate(outcome.figures):
            row.append("never" if figure.value is None else f"{figure.value:,.{figure.digits}f}")
            reference = base.figures[i].value if isinstance(base, Outcome) else None
            if figure.compared:
                row.append(f"{figure.value / reference:.2f}" if figure.value is not None and reference else "-")
        if with_cpu:
            cores = len({core for cpus in process_cpus(variant, server_cpus, settings.client_cpus) for core in cpus})
            row += _cpu_cells(outcome, cores, len(settings.client_cpus), notes)
        row.append(str(outcome.errors))
        rows.append(row)
    lines = [heading, "", *("| " + " | ".join(r) + " |" for r in rows), ""]
    lines += [_compare(spec, results, a, b) for a, b in spec.compare if a in results and b in results]
    return "\n".join([*lines, *dict.fromkeys(notes)]).rstrip()


def _compare(spec: Spec, results: dict[str, Outcome | str], a: str, b: str) -> str:
    """One variant's figures as ratios to another's (e.g. the cost of one per-message dependency)."""
    first, second = results[a], results[b]
    if not (isinstance(first, Outcome) and isinstance(second, Outcome)):
        return f"- {a} / {b}: -"
    ratios = [
        f"{x.name} {x.value / y.value:.2f}"
        for x, y in zip(first.figures, second.figures, strict=True)
        if x.value is not None and y.value
    ]
    return f"- {a} / {b}: {', '.join(ratios)}"


def _cpu_cells(outcome: Outcome, server_cores: int, client_cores: int, notes: list[str]) -> list[str]:
    """The server's and the clients' busy cores, marked where the server was not the only limit."""
    if outcome.server_cpu is None or outcome.client_cpu is None:
        return ["-", "-"]
    server = f"{outcome.server_cpu:.0%}"
    client = f"{outcome.client_cpu:.0%}"
    if outcome.server_cpu < SATURATED * server_cores:
        server += " (*)"
        notes.append(
            "- (*) the server's cores were not saturated (another process took CPU, or the clients were the limit):"
            " its rates are low by that much; compare the per-server-CPU-second figures"
        )
    if outcome.client_cpu >= SATURATED * client_cores:
        client += " (!)"
        notes.append(
            "- (!) the clients' cores were nearly saturated, so the rates may be partly client-bound;"
            " the per-server-CPU-second figures are not affected by that"
        )
    return [server, client]


@contextlib.contextmanager
def environment(spec: Spec, settings: Settings) -> Iterator[dict[str, str]]:
    """What the scenario's servers need (e.g. a redis-server), started for the whole scenario."""
    if spec.environment is None:
        yield {}
    else:
        with spec.environment(settings) as env:
            yield env


def run_scenario(
    spec: Spec, chosen: list[Variant], settings: Settings, server_cpus: frozenset[int], label: str
) -> tuple[dict[str, Outcome | str], dict[str, list[Outcome]]]:
    """Each variant's best round, and every round: the rounds go through all variants in turn, so a burst of load
    from another process on this shared machine hurts one round of one variant rather than a whole variant."""
    rounds: dict[str, list[Outcome]] = {variant.name: [] for variant in chosen}
    results: dict[str, Outcome | str] = {}
    for variant in chosen:
        if (module := missing_module(variant.app)) is not None:
            results[variant.name] = f"skipped: {module} is not installed (pip install -r benchmarks/requirements.txt)"
    if spec.scales:  # the server processes get cores of their own, as many as the largest variant needs
        server_cpus, client_cpus = split_cpus(max(v.processes for v in chosen))
        settings = dataclasses.replace(settings, client_cpus=client_cpus, client_processes=max(2, len(client_cpus)))
    with environment(spec, settings) as env:
        for number in range(1, settings.rounds + 1):
            for variant in chosen:
                if variant.name in results:
                    continue  # skipped or failed
                print(f"# {label}, round {number}: {variant.name}", file=sys.stderr, flush=True)
                cpus = process_cpus(variant, server_cpus, settings.client_cpus)
                try:
                    with serve(variant.app, cpus, env) as server:
                        rounds[variant.name].append(spec.run(server, settings))
                except Exception as exc:
                    results[variant.name] = f"failed: {type(exc).__name__}: {exc}"
    for variant in chosen:
        if variant.name not in results:
            results[variant.name] = max(rounds[variant.name], key=_headline)
    return {variant.name: results[variant.name] for variant in chosen}, rounds


def ranges(spec: Spec, chosen: list[Variant], rounds: dict[str, list[Outcome]]) -> list[str]:
    """Per variant, each compared figure's ratio to the base's in the same round, lowest to highest over the rounds:
    the spread a single table hides (the unfavourable rounds included)."""
    base = rounds.get(chosen[0].name, [])
    lines = []
    for variant in chosen[1:]:
        pairs = list(zip(rounds.get(variant.name, []), base, strict=False))
        if len(pairs) < 2:
            continue
        spans = []
        for i, figure in enumerate(pairs[0][0].figures):
            if not figure.compared:
                continue
            ratios = [
                a.figures[i].value / b.figures[i].value
                for a, b in pairs
                if a.figures[i].value is not None and b.figures[i].value
            ]
            if ratios:
                spans.append(f"{figure.name} {min(ratios):.2f}-{max(ratios):.2f}")
        lines.append(f"- {short(variant, spec)} x {short(chosen[0], spec)}, per round: {', '.join(spans)}")
    return lines


def _headline(outcome: Outcome) -> float:
    first = outcome.figures[0]
    if first.value is None:
        return float("-inf")
    return first.value if first.higher_is_better else -first.value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server_cpus, client_cpus = split_cpus()
    settings = settings_for(args, client_cpus)
    raise_fd_limit(max(settings.idle_connections, *args.subscribers) + 1024)
    print(header(settings, server_cpus), flush=True)
    failed = False
    for name in args.scenarios:
        spec = SCENARIOS[name]
        chosen = variants(spec, args.variants, args.cpus)
        if not chosen:
            print(f"# {name}: none of the chosen variants belongs to it, skipped", file=sys.stderr, flush=True)
            continue
        for count in args.subscribers if spec.per_subscriber_count else args.subscribers[:1]:
            sized = dataclasses.replace(settings, subscribers=count)
            results, every = run_scenario(spec, chosen, sized, server_cpus, title(name, spec, sized))
            failed |= any(isinstance(r, str) and r.startswith("failed") for r in results.values())
            print("\n" + table(name, spec, chosen, results, sized, server_cpus), flush=True)
            spread = ranges(spec, chosen, every)
            if spread:
                print("\n".join(["", *spread]), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
