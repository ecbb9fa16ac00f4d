"""Real servers for tests: uvicorn in a subprocess on a free loopback port, stopped by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout}s")


@contextlib.contextmanager
def uvicorn_server(
    app: str, *, app_dir: Path | str, extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Iterator[int]:
    """Run `uvicorn app` from `app_dir`, with `env` added to the environment; yields the port."""
    with served(app, app_dir=app_dir, extra_args=extra_args, env=env) as (port, _):
        yield port


@contextlib.contextmanager
def served(
    app: str,
    *,
    app_dir: Path | str,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    launcher: str = "uvicorn",
    log_level: str = "warning",
    output: IO[bytes] | None = None,
) -> Iterator[tuple[int, int]]:
    """`python -m <launcher> app` (uvicorn, or wsapi's launcher) from `app_dir`; yields its port and PID.

    The server's stdout and stderr go to `output` if given (a file), else to the test's.
    """
    port = free_port()
    command = [sys.executable, "-m", launcher, app, "--app-dir", str(app_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", log_level, *extra_args]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=output)
    try:
        wait_for_port(port, process)
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
