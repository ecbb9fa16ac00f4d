"""Real parts for the channels tests: a redis-server and uvicorn processes on free loopback ports, killed by PID."""

from __future__ import annotations

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
        args += ["--dir", str(self.directory)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    def kill(self) -> None:
        kill(self.proc)
        self.proc = None


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
