"""Real parts for the channels tests: a redis-server and uvicorn processes on free loopback ports, killed by PID."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.servers import free_port, wait_for_port
from wsapi.channels import Backend

HERE = Path(__file__).parent
REDIS_SERVER = "/usr/bin/redis-server"

MakeBackend = Callable[..., Backend]


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
        args += ["--dir", str(self.directory), "--enable-debug-command", "local"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    def kill(self) -> None:
        kill(self.proc)
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the process keeps its sockets (the kernel still accepts connections) and answers nothing."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)


class DroppingProxy:
    """A loopback TCP proxy in front of Redis that, once armed with a marker, loses the reply to the first command
    containing it: it closes both sides instead of forwarding that reply (a connection cut right after Redis
    answered)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.marker: bytes | None = None
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def __aenter__(self) -> DroppingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        armed = asyncio.Event()

        async def upstream() -> None:
            while data := await client_reader.read(65536):
                if self.marker is not None and self.marker in data:
                    self.marker = None
                    armed.set()
                server_writer.write(data)
                await server_writer.drain()

        async def downstream() -> None:
            while data := await server_reader.read(65536):
                if armed.is_set():
                    self.dropped += 1
                    break  # the reply is lost with the connection
                client_writer.write(data)
                await client_writer.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except OSError:
            pass
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_writer, server_writer):
                writer.close()


class ServerProcess:
    """A real uvicorn process on a free port (by default serving tests/channels/channels_app.py); `kill()` by PID."""

    def __init__(
        self, env: dict[str, str], app: str = "channels_app:app", app_dir: Path = HERE, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        args = ["--app-dir", str(app_dir), app, "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *args, "--log-level", "warning"], env={**os.environ, **env}
        )

    def wait(self) -> None:
        wait_for_port(self.port, self.proc)

    def kill(self) -> None:
        kill(self.proc)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"
