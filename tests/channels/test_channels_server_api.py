"""The server API over HTTP against a real uvicorn process and Redis, and a separate Python process publishing."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.channels.support import HERE, RedisServer, ServerProcess
from tests.channels.test_channels_servers import Serve, frame

pytestmark = pytest.mark.anyio

TOKEN = "s3rver-api-t0ken-for-tests"
API = "/api/channels"


@pytest.fixture
def server(serve: Serve, redis_server: RedisServer) -> ServerProcess:
    (server,) = serve(REDIS_URL=redis_server.url, API_TOKEN=TOKEN)
    return server


async def call(server: ServerProcess, method: str, path: str, token: str | None = TOKEN, **options: Any) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(base_url=server.http + API, headers=headers) as http:
        return await http.request(method, path, timeout=10, **options)


@pytest.mark.parametrize(
    ("method", "path", "options"),
    [
        ("POST", "/publish/room", {"json": "hi"}),
        ("GET", "/history/room", {}),
        ("GET", "/presence/room", {}),
        ("POST", "/disconnect", {"json": {"user": "ada"}}),
    ],
)
async def test_every_call_is_refused_without_the_token(
    server: ServerProcess, method: str, path: str, options: dict[str, Any]
) -> None:
    missing = await call(server, method, path, token=None, **options)
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    wrong = await call(server, method, path, token="not-the-token-at-all", **options)
    assert wrong.status_code == 403
    history = (await call(server, "GET", "/history/room")).json()
    assert (history["offset"], history["messages"]) == (0, [])  # nothing was published


async def test_publish_history_and_presence(server: ServerProcess) -> None:
    async with connect(server.ws + "/ws/room?name=ada", proxy=None) as ada:
        subscribed = await frame(ada)
        assert subscribed["type"] == "subscribed"
        assert (await frame(ada))["type"] == "join"

        published = await call(server, "POST", "/publish/room", json={"text": "hello"})
        assert published.status_code == 200
        epoch = published.json()["epoch"]
        assert published.json() == {"epoch": epoch, "offset": 1}
        received = await frame(ada)
        assert (received["type"], received["offset"], received["data"]) == ("message", 1, {"text": "hello"})

        await call(server, "POST", "/publish/room", json=[2])
        assert (await frame(ada))["data"] == [2]
        history = (await call(server, "GET", "/history/room")).json()
        assert (history["epoch"], history["offset"], history["recovered"]) == (epoch, 2, True)
        assert [m["data"] for m in history["messages"]] == [{"text": "hello"}, [2]]
        after = (await call(server, "GET", "/history/room", params={"since": f"{epoch}:1"})).json()
        assert [m["offset"] for m in after["messages"]] == [2]
        gone = (await call(server, "GET", "/history/room", params={"since": "ffff:1"})).json()
        assert (gone["recovered"], gone["messages"], gone["offset"]) == (False, [], 2)

        members = (await call(server, "GET", "/presence/room")).json()
        assert [m["info"] for m in members] == [{"name": "ada"}]

        assert (await call(server, "POST", "/publish/bad name!", json=1)).status_code == 422
        assert (await call(server, "GET", "/history/room", params={"since": "nonsense"})).status_code == 422


async def test_another_python_process_publishes_without_serving(
    server: ServerProcess, redis_server: RedisServer
) -> None:
    async with connect(server.ws + "/ws/news", proxy=None) as reader:
        await frame(reader)
        script = [sys.executable, str(HERE / "publisher.py"), redis_server.url, "news", json.dumps({"n": 1})]
        done = subprocess.run(script, capture_output=True, text=True, timeout=30, check=True)
        received = await frame(reader)
        assert (received["offset"], received["data"]) == (1, {"n": 1})
        assert done.stdout.strip() == f"{received['epoch']}:1"


async def test_disconnecting_a_user_closes_their_connections_only(server: ServerProcess) -> None:
    async with (
        connect(server.ws + "/users/ada", proxy=None) as ada,
        connect(server.ws + "/users/ada", proxy=None) as ada_again,
        connect(server.ws + "/users/bob", proxy=None) as bob,
    ):
        for ws in (ada, ada_again, bob):
            assert (await frame(ws))["type"] == "subscribed"
        refused = await call(server, "POST", "/disconnect", json={"user": "ada", "code": 1000})
        assert refused.status_code == 422  # not an application's close code
        order = {"user": "ada", "code": 4403, "reason": "Banned"}
        accepted = await call(server, "POST", "/disconnect", json=order)
        assert (accepted.status_code, accepted.json()) == (202, order)
        for ws in (ada, ada_again):
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await frame(ws)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Banned")
        await call(server, "POST", "/publish/lobby", json="still here")
        assert (await frame(bob))["data"] == "still here"
