"""Run the benchmark suite: every variant (benchmarks/apps/*.py) under every scenario, then print the tables.

    python -m benchmarks.run [--quick] [--duration S] [--rounds N] [--variants raw,wsapi] [--scenarios echo,handshake]

Each (scenario, variant, round) gets a fresh uvicorn process pinned to one core, with the client processes on the
other cores; every figure is printed with its ratio to the raw-ASGI variant measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import resource
import sys
from importlib import metadata
from pathlib import Path

from benchmarks.scenarios import SCENARIOS, Outcome, Settings
from benchmarks.server import UVICORN_OPTIONS, serve

APPS = Path(__file__).resolve().parent / "apps"
BASELINE = "raw"
PACKAGES = ("wsapi", "starlette", "fastapi", "litestar", "uvicorn", "uvloop", "websockets", "pydantic", "picows")
SATURATED = 0.9  # busy cores per core above which a side counts as saturated


def variants() -> list[str]:
    """The variants, one per app file: the raw floor first, wsapi last, the peers in between."""
    names = [p.stem for p in APPS.glob("*.py") if p.stem != "__init__"]
    return sorted(names, key=lambda name: (name != BASELINE, name == "wsapi", name))


def installed(variant: str) -> bool:
    """A variant is named after the package it benchmarks; raw needs none."""
    return variant == BASELINE or importlib.util.find_spec(variant) is not None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of about a minute: one round, 2 s windows, 1000 idle"
    )
    parser.add_argument("--duration", type=float, help="seconds of measured load per variant and scenario")
    parser.add_argument("--rounds", type=int, help="rounds through all variants; each variant's best one counts")
    parser.add_argument("--idle-connections", type=int, help="idle connections in the memory scenario")
    parser.add_argument("--variants", help=f"comma-separated, from: {','.join(variants())}")
    parser.add_argument("--scenarios", help=f"comma-separated, from: {','.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    args.variants = _choose(parser, "variant", args.variants, variants())
    args.scenarios = _choose(parser, "scenario", args.scenarios, list(SCENARIOS))
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
    )


def split_cpus() -> tuple[frozenset[int], frozenset[int]]:
    """The first usable core for the server, the rest for the clients (all of them on a one-core machine)."""
    cpus = sorted(os.sched_getaffinity(0))
    server = frozenset(cpus[:1])
    return server, frozenset(cpus[1:]) or server


def raise_fd_limit(needed: int) -> None:
    """Idle connections need a descriptor each, in the server and in the clients (who inherit this limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            sys.exit(f"RLIMIT_NOFILE hard limit {hard} < {needed} descriptors needed: lower --idle-connections")
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
            f"- Python {platform.python_version()}; {'; '.join(versions)}",
            f"- uvicorn {' '.join(UVICORN_OPTIONS)}; server on core {_cores(server_cpus)}, "
            f"{settings.client_processes} client processes (picows, uvloop) on core {_cores(settings.client_cpus)}",
            f"- {settings.duration:g} s of load per variant and scenario in each of {settings.rounds} round(s);"
            " each variant's best round is shown",
        ]
    )


def _cores(cpus: frozenset[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def table(name: str, results: dict[str, Outcome | str], settings: Settings) -> str:
    """A Markdown table: one row per variant, each figure followed by its ratio to the baseline."""
    description = " ".join((SCENARIOS[name].__doc__ or "").split()).format(settings=settings)
    outcomes = [o for o in results.values() if isinstance(o, Outcome)]
    if not outcomes:
        return f"## {name}: {description}\n\n" + "\n".join(f"- {v}: {r}" for v, r in results.items())
    columns = ["variant"]
    for figure in outcomes[0].figures:
        columns += [figure.name, "x raw"]
    with_cpu = outcomes[0].server_cpu is not None
    if with_cpu:
        columns += ["server CPU", "client CPU"]
    columns.append("errors")
    rows = [columns, ["---"] + ["---:"] * (len(columns) - 1)]
    baseline = results.get(BASELINE)
    notes: list[str] = []
    for variant, outcome in results.items():
        if isinstance(outcome, str):
            notes.append(f"- {variant}: {outcome}")
            continue
        row = [variant]
        for i, figure in enumerate(outcome.figures):
            row.append(f"{figure.value:,.{figure.digits}f}")
            base = baseline.figures[i].value if isinstance(baseline, Outcome) else None
            row.append(f"{figure.value / base:.2f}" if base else "-")
        if with_cpu:
            row += _cpu_cells(outcome, len(settings.client_cpus), notes)
        row.append(str(outcome.errors))
        rows.append(row)
    lines = [f"## {name}: {description}", "", *("| " + " | ".join(r) + " |" for r in rows)]
    return "\n".join([*lines, "", *dict.fromkeys(notes)]).rstrip()


def _cpu_cells(outcome: Outcome, client_cores: int, notes: list[str]) -> list[str]:
    """The server's and the clients' busy cores, marked where the server was not the only limit."""
    assert outcome.server_cpu is not None and outcome.client_cpu is not None
    server = f"{outcome.server_cpu:.0%}"
    client = f"{outcome.client_cpu:.0%}"
    if outcome.server_cpu < SATURATED:
        server += " (*)"
        notes.append(
            "- (*) the server's core was not saturated (another process took CPU, or the clients were the limit):"
            " its rates are low by that much; compare the per-server-CPU-second figures"
        )
    if outcome.client_cpu >= SATURATED * client_cores:
        client += " (!)"
        notes.append(
            "- (!) the clients' cores were nearly saturated, so the rates may be partly client-bound;"
            " the per-server-CPU-second figures are not affected by that"
        )
    return [server, client]


def run_scenario(
    name: str, variants: list[str], settings: Settings, server_cpus: frozenset[int]
) -> dict[str, Outcome | str]:
    """Each variant's best round: the rounds go through all variants in turn, so a burst of load from another
    process on this shared machine hurts one round of one variant rather than a whole variant."""
    rounds: dict[str, list[Outcome]] = {variant: [] for variant in variants}
    results: dict[str, Outcome | str] = {}
    for variant in variants:
        if not installed(variant):
            results[variant] = f"skipped: {variant} is not installed (pip install -r benchmarks/requirements.txt)"
    for number in range(1, settings.rounds + 1):
        for variant in variants:
            if variant in results:
                continue  # skipped or failed
            print(f"# {name}, round {number}: {variant}", file=sys.stderr, flush=True)
            try:
                with serve(variant, set(server_cpus)) as server:
                    rounds[variant].append(SCENARIOS[name](server, settings))
            except Exception as exc:
                results[variant] = f"failed: {type(exc).__name__}: {exc}"
    for variant in variants:
        if variant not in results:
            results[variant] = max(rounds[variant], key=_headline)
    return {variant: results[variant] for variant in variants}


def _headline(outcome: Outcome) -> float:
    first = outcome.figures[0]
    return first.value if first.higher_is_better else -first.value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server_cpus, client_cpus = split_cpus()
    settings = settings_for(args, client_cpus)
    raise_fd_limit(settings.idle_connections + 1024)
    print(header(settings, server_cpus), flush=True)
    failed = False
    for name in args.scenarios:
        results = run_scenario(name, args.variants, settings, server_cpus)
        failed |= any(isinstance(r, str) and r.startswith("failed") for r in results.values())
        print("\n" + table(name, results, settings), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
