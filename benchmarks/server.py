"""The server under test: one or more uvicorn processes on free loopback ports, each pinned to its own cores, and
the redis-server some of them share; every process stopped by its PID."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Spelled out rather than left to uvicorn's "auto", so that a uvicorn upgrade cannot silently change the stack.
UVICORN_OPTIONS = ("--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio")
# Thousands of subscribers connect in bursts; uvicorn's default backlog (2048) would make some of them retry.
BACKLOG = "8192"
REDIS_SERVER = "/usr/bin/redis-server"  # Debian's package
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Server:
    """The processes serving one variant: usually one; their CPU time and memory are added up."""

    pids: tuple[int, ...]
    ports: tuple[int, ...]

    def url(self, path: str) -> str:
        """`path` on the first process."""
        return self.urls(path)[0]

    def urls(self, path: str) -> list[str]:
        """`path` on every process."""
        return [f"ws://127.0.0.1:{port}{path}" for port in self.ports]

    def cpu_seconds(self) -> float:
        """User plus system CPU time the processes have used so far."""
        total = 0
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / CLOCK_TICKS

    def rss_bytes(self) -> int:
        return sum(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE for pid in self.pids)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_listening(name: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def serve(app: str, cpus: Sequence[set[int]], env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """Run `benchmarks/apps/<app>.py` under uvicorn, one process per entry of `cpus` (the cores it may use), with
    `env` added to the environment, until the block ends."""
    processes: list[subprocess.Popen[bytes]] = []
    ports = [free_port() for _ in cpus]
    try:
        for port, allowed in zip(ports, cpus, strict=True):
            command = [sys.executable, "-m", "uvicorn", f"benchmarks.apps.{app}:app", *UVICORN_OPTIONS]
            command += ["--host", "127.0.0.1", "--port", str(port), "--backlog", BACKLOG]
            command += ["--log-level", "warning", "--no-access-log"]
            processes.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env={**os.environ, **(env or {})},
                    preexec_fn=functools.partial(os.sched_setaffinity, 0, allowed),
                )
            )
        for port, process in zip(ports, processes, strict=True):
            _wait_until_listening("uvicorn", port, process, timeout=20)
        yield Server(tuple(p.pid for p in processes), tuple(ports))
    finally:
        for process in processes:
            _stop(process)


@contextlib.contextmanager
def redis(cpus: set[int]) -> Iterator[str]:
    """A throwaway redis-server (no persistence) on a free loopback port and the given cores; yields its URL."""
    if not os.access(REDIS_SERVER, os.X_OK):
        raise RuntimeError(f"{REDIS_SERVER} not found: apt-get install redis-server")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wsapi-bench-redis-") as directory:
        command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", directory, "--maxclients", "1000"]
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=functools.partial(os.sched_setaffinity, 0, cpus),
        )
        try:
            _wait_until_listening("redis-server", port, process, timeout=10)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(process)


@contextlib.contextmanager
def redis_cluster(cpus: set[int], primaries: int = 3) -> Iterator[str]:
    """A throwaway Redis Cluster of `primaries` primaries (no replicas: the benchmark measures the app, not
    replication) on free loopback ports and the given cores; yields one node's URL."""
    if not os.access(REDIS_SERVER, os.X_OK):
        raise RuntimeError(f"{REDIS_SERVER} not found: apt-get install redis-server")
    ports = [free_port() for _ in range(primaries)]
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="wsapi-bench-cluster-") as directory:
        try:
            for port in ports:
                node = Path(directory) / str(port)
                node.mkdir()
                command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
                command += ["no", "--dir", str(node), "--maxclients", "1000", "--cluster-enabled", "yes"]
                command += ["--cluster-port", str(free_port()), "--cluster-config-file", "nodes.conf"]
                processes.append(
                    subprocess.Popen(
                        command,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        preexec_fn=functools.partial(os.sched_setaffinity, 0, cpus),
                    )
                )
            for port, process in zip(ports, processes, strict=True):
                _wait_until_listening("redis-server", port, process, timeout=10)
            nodes = [f"127.0.0.1:{port}" for port in ports]
            cli = [REDIS_SERVER.replace("redis-server", "redis-cli"), "--cluster", "create", *nodes]
            subprocess.run([*cli, "--cluster-yes"], capture_output=True, check=True, timeout=30)
            deadline = time.monotonic() + 20
            while not all(_cluster_ok(port) for port in ports):
                if time.monotonic() > deadline:
                    raise TimeoutError("the benchmark's Redis Cluster did not come up")
                time.sleep(0.1)
            yield f"redis://127.0.0.1:{ports[0]}"
        finally:
            for process in processes:
                _stop(process)


def _cluster_ok(port: int) -> bool:
    cli = [REDIS_SERVER.replace("redis-server", "redis-cli"), "-p", str(port), "CLUSTER", "INFO"]
    return "cluster_state:ok" in subprocess.run(cli, capture_output=True, text=True, timeout=10).stdout
