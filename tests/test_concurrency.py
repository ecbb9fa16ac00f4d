"""Which callables are awaited, and sync yield-dependencies' teardown under a full thread pool and cancellation."""

import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest

import wsapi.testclient
from wsapi import Depends, FastAPI, Request, WebSocket
from wsapi.concurrency import CallKind, call_kind
from wsapi.responses import PlainTextResponse
from wsapi.testclient import AsyncTestClient, TestClient

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def greet(name: str = "ada") -> str:
    return f"hi {name}"


class AsyncCallable:
    async def __call__(self, name: str = "ada") -> str:
        return f"hi {name}"


def passing_through(func: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[str]]:
    """A decorator whose wrapper is a plain function returning the wrapped coroutine function's coroutine."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Awaitable[str]:
        return func(*args, **kwargs)

    return wrapper


async def gen_async() -> AsyncIterator[int]:
    yield 1


def gen_sync() -> Iterator[int]:
    yield 1


class AsyncGenCallable:
    async def __call__(self) -> AsyncIterator[int]:
        yield 1


def sync_value() -> int:
    return 1


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (greet, CallKind.ASYNC),
        (functools.partial(greet, name="bo"), CallKind.ASYNC),
        (functools.partial(functools.partial(greet), name="bo"), CallKind.ASYNC),
        (AsyncCallable(), CallKind.ASYNC),
        (functools.partial(AsyncCallable(), name="bo"), CallKind.ASYNC),
        (passing_through(greet), CallKind.ASYNC),
        (AsyncCallable, CallKind.SYNC),  # the class is instantiated, not awaited
        (sync_value, CallKind.SYNC),
        (functools.partial(sync_value), CallKind.SYNC),
        (gen_async, CallKind.ASYNC_GENERATOR),
        (functools.partial(gen_async), CallKind.ASYNC_GENERATOR),
        (AsyncGenCallable(), CallKind.ASYNC_GENERATOR),
        (gen_sync, CallKind.SYNC_GENERATOR),
    ],
)
def test_call_kind_looks_through_partials_wrappers_and_dunder_call(call: Any, kind: CallKind) -> None:
    assert call_kind(call) is kind


ASYNC_DEPENDENCIES = {
    "partial": (functools.partial(greet, name="bo"), "hi bo"),
    "async __call__": (AsyncCallable(), "hi ada"),
    "wraps": (passing_through(greet), "hi ada"),
}


@pytest.mark.parametrize(("dependency", "expected"), ASYNC_DEPENDENCIES.values(), ids=ASYNC_DEPENDENCIES.keys())
def test_async_dependencies_of_every_shape_are_awaited_on_websocket_and_http(dependency: Any, expected: str) -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket, greeting: str = Depends(dependency)) -> None:
        await websocket.accept()
        await websocket.send_text(greeting)

    @app.get("/http")
    async def http_endpoint(greeting: str = Depends(dependency)) -> str:
        return greeting

    client = TestClient(app)
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == expected
    assert client.get("/http").json() == expected


def test_async_endpoints_and_exception_handlers_of_every_shape_are_awaited() -> None:
    class Refused(Exception):
        pass

    class CloseWith4000:
        async def __call__(self, websocket: WebSocket, exc: Exception) -> None:
            await websocket.close(4000, f"handled {type(exc).__name__}")

    async def endpoint(websocket: WebSocket, reply: str) -> None:
        await websocket.accept()
        await websocket.send_text(reply)
        raise Refused

    async def http_handler(request: Request, exc: Exception, status: int) -> PlainTextResponse:
        return PlainTextResponse("handled", status_code=status)

    app = FastAPI(exception_handlers={Refused: CloseWith4000()})
    app.add_api_websocket_route("/ws", functools.partial(endpoint, reply="from a partial"))
    app.add_api_websocket_route("/wrapped", passing_through(functools.partial(endpoint, reply="wrapped")))

    class HttpRefused(Exception):
        pass

    app.add_exception_handler(HttpRefused, functools.partial(http_handler, status=418))

    @app.get("/http")
    async def http_endpoint() -> None:
        raise HttpRefused

    client = TestClient(app)
    for path, reply in (("/ws", "from a partial"), ("/wrapped", "wrapped")):
        with client.websocket_connect(path) as ws:
            assert ws.receive_text() == reply
            assert ws.receive() == {"type": "websocket.close", "code": 4000, "reason": "handled Refused"}
    response = client.get("/http")
    assert (response.status_code, response.text) == (418, "handled")


async def test_sync_teardown_runs_while_every_worker_thread_waits_for_what_it_releases() -> None:
    """A pool of one connection, and one worker thread: the second connection's setup blocks in that thread until
    the first's teardown gives the connection back; the teardown must not wait for the thread."""
    pool = threading.BoundedSemaphore(1)
    waiting = threading.Event()

    def pooled() -> Iterator[None]:
        if not pool.acquire(blocking=False):
            waiting.set()
            if not pool.acquire(timeout=5):
                raise TimeoutError("the first connection's teardown never gave the pooled connection back")
        try:
            yield
        finally:
            pool.release()

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, _: None = Depends(pooled)) -> None:
        await websocket.accept()
        await websocket.send_text("got one")
        await websocket.receive()  # the disconnect

    limiter = anyio.to_thread.current_default_thread_limiter()
    tokens = limiter.total_tokens
    limiter.total_tokens = 1
    second: list[str] = []
    try:
        async with (
            AsyncTestClient(app) as client,
            anyio.create_task_group() as tasks,
            client.websocket_connect("/ws") as first,
        ):
            assert await first.receive_text() == "got one"

            async def connect_second() -> None:
                async with client.websocket_connect("/ws") as ws:
                    second.append(await ws.receive_text())

            tasks.start_soon(connect_second)
            with anyio.fail_after(5):
                while not waiting.is_set():
                    await anyio.sleep(0.01)
            # Leaving closes the first connection: its teardown must give the pooled connection back while the
            # only thread is taken by the second one's setup.
    finally:
        limiter.total_tokens = tokens
    assert second == ["got one"]


def test_sync_teardown_runs_when_the_connection_is_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wsapi.testclient, "CLOSE_GRACE", 0.05)  # then the session cancels the app
    events: list[str] = []

    def resource() -> Iterator[None]:
        events.append("open")
        try:
            yield
        finally:
            events.append("closed")

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, _: None = Depends(resource)) -> None:
        await websocket.accept()
        await websocket.send_text("open")
        await anyio.sleep_forever()  # never sees the disconnect: only cancellation ends it

    with TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_text() == "open"
    assert events == ["open", "closed"]
