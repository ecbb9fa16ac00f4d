"""Profile one variant's server under one scenario with py-spy, which samples it from outside (no slowdown).

    python -m benchmarks.profile wsapi handshake [--duration S] [--output FILE]

Writes a flame graph (SVG), or py-spy's "raw" collapsed stacks for an output file ending in .txt.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.run import apps, environment, raise_fd_limit, settings_for, split_cpus
from benchmarks.scenarios import SCENARIOS
from benchmarks.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variant", choices=apps())
    parser.add_argument("scenario", choices=list(SCENARIOS))
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--output", type=Path, help="default: <temp dir>/wsapi-<variant>-<scenario>.svg")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        sys.exit("py-spy is not installed: pip install -r benchmarks/requirements.txt")
    output = args.output or Path(tempfile.gettempdir()) / f"wsapi-{args.variant}-{args.scenario}.svg"
    server_cpus, client_cpus = split_cpus()
    options = argparse.Namespace(
        quick=False, duration=args.duration, rounds=1, idle_connections=None, subscribers=[1000], cpus=1
    )
    settings = settings_for(options, client_cpus)
    raise_fd_limit(max(settings.idle_connections, settings.subscribers) + 1024)
    spec = SCENARIOS[args.scenario]
    with environment(spec, settings) as env, serve(args.variant, [set(server_cpus)], env) as server:
        # Sampling starts at once and runs past the measured window, so it covers warm-up too: a few percent.
        command = [py_spy, "record", "--pid", str(server.pids[0]), "--output", str(output), "--rate", "250"]
        command += ["--duration", str(int(args.duration) + 4), "--nonblocking"]
        command += ["--format", "raw" if output.suffix == ".txt" else "flamegraph"]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        outcome = spec.run(server, settings)
        spy.wait(timeout=args.duration + 30)
    for figure in outcome.figures:
        print(f"{figure.name}: " + ("never" if figure.value is None else f"{figure.value:,.{figure.digits}f}"))
    print(f"profile: {output}")
    return spy.returncode


if __name__ == "__main__":
    sys.exit(main())
