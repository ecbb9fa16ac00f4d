"""Fixtures for the channels tests: a real redis-server, real uvicorn processes, backends behind one interface."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.channels.support import HERE, MakeBackend, RedisClusterNodes, RedisSentinelSet, RedisServer, ServerProcess
from wsapi.channels import Channels, MemoryBackend, RedisBackend


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


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


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """One real Redis Cluster for the whole session (each test uses a key prefix of its own)."""
    cluster = RedisClusterNodes(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.kill()


@pytest.fixture(scope="session")
def redis_sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisSentinelSet]:
    """One real Sentinel set (a primary, a replica, three sentinels) for the whole session."""
    sentinels = RedisSentinelSet(tmp_path_factory.mktemp("sentinel"))
    try:
        sentinels.start()
        yield sentinels
    finally:
        sentinels.kill()


@pytest.fixture(params=["memory", "redis"])
def make_backend(request: pytest.FixtureRequest) -> MakeBackend:
    """A factory of backends of one kind (`make_backend(history_size=3)`)."""
    if request.param == "memory":
        return lambda **options: MemoryBackend(**options)
    server: RedisServer = request.getfixturevalue("redis_server")
    return lambda **options: RedisBackend(server.url, **options)


@pytest.fixture
async def hub(make_backend: MakeBackend) -> AsyncIterator[Channels]:
    async with Channels(make_backend()) as hub:
        yield hub


@pytest.fixture
def serve() -> Iterator[Callable[..., list[ServerProcess]]]:
    """Start `count` uvicorn processes at once (`serve(2, REDIS_URL=...)`); each is killed by its PID afterwards."""
    started: list[ServerProcess] = []

    def start(count: int = 1, **settings: object) -> list[ServerProcess]:
        env = {f"CHANNELS_APP_{key}": str(value) for key, value in settings.items()}
        servers = [ServerProcess(env) for _ in range(count)]
        started.extend(servers)
        for server in servers:
            server.wait()
        return servers

    try:
        yield start
    finally:
        for server in started:
            server.kill()


def _wire_app(environment: dict[str, str]) -> Iterator[ServerProcess]:
    process = ServerProcess(environment, app="wire_app:served", app_dir=HERE)
    try:
        process.wait()
        yield process
    finally:
        process.kill()


@pytest.fixture
def wire_server() -> Iterator[ServerProcess]:
    """uvicorn serving `wire_app`."""
    yield from _wire_app({})


@pytest.fixture
def counting_wire_server() -> Iterator[ServerProcess]:
    """uvicorn serving `wire_app` behind its middleware that counts channel frames."""
    yield from _wire_app({"WIRE_APP_COUNT_SENDS": "1"})


@pytest.fixture
def compressing_wire_server() -> Iterator[ServerProcess]:
    """uvicorn serving `wire_app` with a hub that leaves every channel message to the server to compress."""
    yield from _wire_app({"WIRE_APP_UNCOMPRESSED_MAX": "0"})
