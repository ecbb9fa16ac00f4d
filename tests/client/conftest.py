"""Fixtures for the Python client's tests: the clients test app under real uvicorn, killed and restarted by PID."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.channels.support import RedisServer, ServerProcess

HERE = Path(__file__).parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class AppServer:
    """tests/client/app.py under uvicorn on a port of its own; `kill()` (SIGKILL) and `start()` again on it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: ServerProcess | None = None
        self.port: int | None = None

    def start(self) -> AppServer:
        self.process = ServerProcess(self.env, app="app:app", app_dir=HERE, port=self.port)
        self.port = self.process.port
        self.process.wait()
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/channels"


@pytest.fixture
def serve() -> Iterator[Callable[..., AppServer]]:
    """Start the app (`serve(CLIENTS_APP_HISTORY_SIZE=3)`); every server started is killed afterwards."""
    started: list[AppServer] = []

    def start(**env: str) -> AppServer:
        server = AppServer(env)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.kill()


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.kill()
