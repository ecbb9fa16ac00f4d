"""Fixtures for the Python client's tests: the clients test app under real uvicorn, killed and restarted by PID."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.channels.conftest import persistent_redis, redis_server  # noqa: F401 (the same Redis fixtures here)
from tests.channels.support import ServerProcess

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


def assert_spread(times: list[float], window: float, what: str) -> str:
    """Assert that `times` (seconds) spread over `window` as full jitter spreads them, not in a burst; a summary."""
    times = sorted(times)
    spread, deviation = times[-1] - times[0], statistics.pstdev(times)
    busiest = max(sum(1 for t in times if start <= t < start + 0.1) for start in times)
    summary = (
        f"{what}: {times[0]:.2f}-{times[-1]:.2f} s after the kill, spread {spread:.2f} s, stdev {deviation:.2f} s, "
        f"busiest 100 ms: {busiest} of {len(times)}"
    )
    print(summary)
    # Uniform over the window has a stdev of 0.29 x window; without jitter they all come within a few ms.
    assert spread > 0.5 * window and deviation > 0.15 * window, summary
    assert busiest <= 0.4 * len(times), summary
    return summary
