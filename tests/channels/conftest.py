"""Fixtures for the channels tests: a real redis-server, real uvicorn processes, backends behind one interface."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wsapi.channels import Backend, Channels, MemoryBackend, RedisBackend

HERE = Path(__file__).parent
REDIS_SERVER = "/usr/bin/redis-server"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def kill(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class RedisServer:
    """A real redis-server on a free loopback port; `persistent` keeps data across a kill (AOF, fsync always)."""

    def __init__(self, directory: Path, persistent: bool = False) -> None:
        self.port = free_port()
        self.directory = directory
        self.persistent = persistent
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        durability = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *durability]
        args += ["--dir", str(self.directory)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    def kill(self) -> None:
        kill(self.proc)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.kill()


MakeBackend = Callable[..., Backend]


@pytest.fixture(params=["memory", "redis"])
def make_backend(request: pytest.FixtureRequest) -> MakeBackend:
    """A factory of backends of one kind; options a kind does not have (presence_ttl for memory) are ignored."""
    if request.param == "memory":

        def memory(**options: Any) -> Backend:
            options.pop("presence_ttl", None)
            return MemoryBackend(**options)

        return memory
    server: RedisServer = request.getfixturevalue("redis_server")
    return lambda **options: RedisBackend(server.url, **options)


@pytest.fixture
async def hub(make_backend: MakeBackend) -> AsyncIterator[Channels]:
    async with Channels(make_backend()) as hub:
        yield hub


class ServerProcess:
    """A real uvicorn process serving tests/channels/channels_app.py."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        args = ["--app-dir", str(HERE), "channels_app:app", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *args, "--log-level", "warning"], env={**os.environ, **env}
        )

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@pytest.fixture
def serve() -> Iterator[Callable[..., list[ServerProcess]]]:
    """Start `count` uvicorn processes at once (`serve(2, REDIS_URL=...)`); each is killed by its PID afterwards."""
    started: list[ServerProcess] = []

    def start(count: int = 1, **settings: object) -> list[ServerProcess]:
        env = {f"CHANNELS_APP_{key}": str(value) for key, value in settings.items()}
        servers = [ServerProcess(env) for _ in range(count)]
        started.extend(servers)
        for server in servers:
            wait_for_port(server.port, server.proc)
        return servers

    try:
        yield start
    finally:
        for server in started:
            kill(server.proc)
