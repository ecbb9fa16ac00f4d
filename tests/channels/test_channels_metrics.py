"""Metrics and readiness over HTTP from real uvicorn workers after a scripted session: the numbers a scrape shows."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.channels.support import HERE, RedisServer
from tests.channels.test_channels_servers import Serve
from tests.servers import uvicorn_server

pytestmark = pytest.mark.anyio

WORKERS = 2
ROUTE = "/ws/{channel}"


@pytest.fixture
def workers(tmp_path: Path, redis_server: RedisServer) -> Iterator[str]:
    """`uvicorn --workers 2` serving the channels test app over Redis with metrics in multiprocess mode."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "CHANNELS_APP_METRICS": "1",
        "CHANNELS_APP_REDIS_URL": redis_server.url,
        "CHANNELS_APP_QUEUE_SIZE": "4",
    }
    # Stopped with SIGTERM: the supervisor stops its workers (a SIGKILL would leave them running).
    with uvicorn_server("channels_app:app", app_dir=HERE, extra_args=("--workers", str(WORKERS)), env=env) as port:
        yield f"127.0.0.1:{port}"


async def scrape(host: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The metrics, as Prometheus scrapes them: a scrape cut off (a worker restarted by uvicorn's supervisor on a
    loaded machine) is tried again, up to three times; the figures come from every worker's files either way."""
    for attempt in range(3):
        try:
            async with httpx2.AsyncClient() as http:
                response = await http.get(f"http://{host}/metrics", timeout=10)
            break
        except httpx2.TransportError:
            if attempt == 2:
                raise
            await asyncio.sleep(0.5)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def until(
    host: str, name: str, expected: float, **labels: str
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Scrape until `name` shows `expected` (a worker updates its figures as its own clients act), up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        samples = await scrape(host)
        if value(samples, name, **labels) == expected or time.monotonic() > deadline:
            assert value(samples, name, **labels) == expected, (name, labels)
            return samples
        await asyncio.sleep(0.1)


async def publish(host: str, channel: str, data: object) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(f"http://{host}/publish/{channel}", json=data, timeout=10)


async def test_a_scripted_session_shows_in_the_workers_summed_metrics(workers: str, redis_server: RedisServer) -> None:
    host = workers
    url = f"ws://{host}/ws/room"
    async with (
        connect(url, compression=None, proxy=None) as a,
        connect(url, compression=None, proxy=None) as b,
        connect(url, compression=None, proxy=None) as c,
    ):
        for ws in (a, b, c):
            assert json.loads(await ws.recv())["type"] == "subscribed"
        # Connections land on either worker; the figures are their sum, whichever worker answers the scrape.
        samples = await until(host, "wsapi_websocket_connections", 3, route=ROUTE)
        assert value(samples, "wsapi_channel_subscriptions", route=ROUTE) == 3
        assert value(samples, "wsapi_channels_open") >= 1

        for n in range(5):
            assert (await publish(host, "room", n)).status_code == 200
        for ws in (a, b, c):
            assert [json.loads(await ws.recv())["data"] for _ in range(5)] == list(range(5))
        samples = await until(host, "wsapi_channel_deliveries_total", 15)
        assert value(samples, "wsapi_channel_publishes_total") == 5
        assert value(samples, "wsapi_channel_delivery_seconds_count") >= 5  # one per message per worker at least
        assert value(samples, "wsapi_channel_delivery_seconds_sum") > 0

        # A handshake refused by validation (a malformed `since`): counted by its close code, never as open.
        with pytest.raises((InvalidStatus, ConnectionClosed)):
            async with connect(f"{url}?since=nonsense", proxy=None) as refused:
                await refused.recv()
        await until(host, "wsapi_websocket_refused_total", 1, route=ROUTE, code="1008")

        # A client that stops reading, with a queue of 4 frames: closed with 1013, counted once.
        async with connect(
            f"ws://{host}/ws/stalled", max_queue=1, ping_interval=None, compression=None, proxy=None
        ) as stalled:
            await stalled.recv()
            size = 32 * 1024
            count = _kernel_buffer_bytes() // size + 40
            async with httpx2.AsyncClient() as http:
                response = await http.post(
                    f"http://{host}/burst/stalled", params={"count": count, "size": size, "pause": 0.0005}, timeout=30
                )
                assert response.status_code == 200
            samples = await until(host, "wsapi_channel_slow_consumer_closes_total", 1)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(stalled.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013

    await until(host, "wsapi_websocket_connections", 0, route=ROUTE)
    samples = await until(host, "wsapi_channel_subscriptions", 0, route=ROUTE)
    assert value(samples, "wsapi_websocket_connections", route=ROUTE) == 0


async def test_readiness_follows_the_backend(serve: Serve, redis_server: RedisServer) -> None:
    # One process: under --workers, uvicorn would stop every worker once one of them (restarted after a hiccup on a
    # loaded machine) fails to start without Redis.
    (server,) = serve(REDIS_URL=redis_server.url, METRICS=1)
    host = f"127.0.0.1:{server.port}"
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"http://{host}/health", timeout=10)
        assert (response.status_code, response.json()) == (200, {"status": "ok", "channels": "up"})
        redis_server.kill()
        deadline = time.monotonic() + 20
        while (response := await http.get(f"http://{host}/health", timeout=10)).status_code == 200:
            assert time.monotonic() < deadline, "still ready 20 s after Redis was killed"
            await asyncio.sleep(0.1)
        assert response.status_code == 503
        assert response.json()["channels"] == "down"
        assert "Redis at 127.0.0.1" in response.json()["detail"]
        assert (await http.post(f"http://{host}/publish/room", json=1, timeout=10)).status_code == 500
    samples = await scrape(host)
    assert value(samples, "wsapi_channels_backend_errors_total", operation="publish") == 1


def _kernel_buffer_bytes() -> int:
    _, _, send_max = Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()
    _, receive_default, _ = Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()
    return int(send_max) + 2 * int(receive_default)
