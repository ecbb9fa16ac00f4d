"""Depends and Security: sub-dependencies, caching, sync/async/classes, teardown, overrides, levels, scopes."""

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from wsapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPConnection,
    Request,
    Security,
    SecurityScopes,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
)
from wsapi.testclient import TestClient


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_sub_dependencies_sync_async_and_classes() -> None:
    async def get_token(token: str) -> str:
        return token

    def get_user(token: Annotated[str, Depends(get_token)]) -> dict[str, str]:
        return {"name": token.upper()}

    class Pagination:
        def __init__(self, skip: int = 0, limit: int = 10) -> None:
            self.skip, self.limit = skip, limit

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(
        websocket: WebSocket,
        user: dict[str, str] = Depends(get_user),
        page: Pagination = Depends(),
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"user": user, "skip": page.skip, "limit": page.limit})

    with TestClient(app).websocket_connect("/ws?token=ada&skip=5") as ws:
        assert ws.receive_json() == {"user": {"name": "ADA"}, "skip": 5, "limit": 10}


def test_a_dependency_is_called_once_per_connection_unless_use_cache_is_false() -> None:
    cached, uncached = Counter(), Counter()

    def first(a: int = Depends(cached), b: int = Depends(uncached, use_cache=False)) -> tuple[int, int]:
        return a, b

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(
        websocket: WebSocket,
        pair: tuple[int, int] = Depends(first),
        a: int = Depends(cached),
        b: int = Depends(uncached, use_cache=False),
    ) -> None:
        await websocket.accept()
        await websocket.send_json([pair, a, b])

    client = TestClient(app)
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json() == [[1, 1], 1, 2]
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json() == [[2, 3], 2, 4]


def test_connection_objects_are_injected() -> None:
    seen: list[Any] = []

    def record(conn: HTTPConnection) -> None:
        seen.append(conn)

    app = FastAPI()

    @app.websocket("/ws", dependencies=[Depends(record)])
    async def ws_endpoint(websocket: WebSocket, conn: HTTPConnection) -> None:
        await websocket.accept()
        await websocket.send_json(websocket is conn and seen[-1] is conn)

    @app.get("/http", dependencies=[Depends(record)])
    async def http_endpoint(request: Request) -> bool:
        return seen[-1] is request

    client = TestClient(app)
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json() is True
    assert client.get("/http").json() is True


def test_yield_dependencies_are_torn_down_in_reverse_order_when_the_connection_ends() -> None:
    events: list[str] = []

    async def resource_a() -> AsyncIterator[str]:
        events.append("open a")
        yield "a"
        events.append("close a")

    def resource_b(a: str = Depends(resource_a)) -> Iterator[str]:
        events.append("open b")
        yield a + "b"
        events.append("close b")

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, b: str = Depends(resource_b)) -> None:
        await websocket.accept()
        await websocket.send_text(b)
        try:
            await websocket.receive_text()
        finally:
            events.append("endpoint done")

    # The disconnect escapes the endpoint: the test client raises it when the session ends, as Starlette's does.
    with pytest.raises(WebSocketDisconnect), TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_text() == "ab"
        assert events == ["open a", "open b"]
    assert events == ["open a", "open b", "endpoint done", "close b", "close a"]


def test_teardown_runs_when_a_dependency_raises_halfway() -> None:
    events: list[str] = []

    async def opened() -> AsyncIterator[None]:
        events.append("open")
        try:
            yield
        finally:
            events.append("closed")

    async def failing(_: None = Depends(opened)) -> None:
        raise WebSocketException(4001, "quota exceeded")

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, _: None = Depends(failing)) -> None:
        raise AssertionError("must not run")

    with pytest.raises(WebSocketDisconnect) as refused, TestClient(app).websocket_connect("/ws"):
        pass
    assert (refused.value.code, refused.value.reason) == (4001, "quota exceeded")
    assert events == ["open", "closed"]


def test_teardown_sees_the_endpoints_error_and_the_client_gets_1011() -> None:
    seen: list[BaseException] = []

    async def session() -> AsyncIterator[None]:
        try:
            yield
        except Exception as exc:
            seen.append(exc)
            raise

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, _: None = Depends(session)) -> None:
        await websocket.accept()
        raise ValueError("boom")

    with (
        pytest.raises(ValueError, match="boom"),
        TestClient(app).websocket_connect("/ws") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text()
    assert closed.value.code == 1011
    assert [type(e) for e in seen] == [ValueError]


def test_http_teardown_runs_after_the_response_is_sent() -> None:
    events: list[str] = []

    async def resource() -> AsyncIterator[None]:
        yield
        events.append("teardown")

    app = FastAPI()

    @app.get("/")
    async def endpoint(_: None = Depends(resource)) -> dict[str, bool]:
        return {"teardown_ran": bool(events)}

    assert TestClient(app).get("/").json() == {"teardown_ran": False}
    assert events == ["teardown"]


def test_dependency_overrides_replace_a_dependency_for_tests() -> None:
    async def real_user(token: str) -> str:
        return f"real {token}"

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, user: str = Depends(real_user)) -> None:
        await websocket.accept()
        await websocket.send_text(user)

    client = TestClient(app)
    app.dependency_overrides[real_user] = lambda: "fake"
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "fake"
    app.dependency_overrides.clear()
    with client.websocket_connect("/ws?token=t") as ws:
        assert ws.receive_text() == "real t"


def test_app_router_include_and_route_dependencies_all_apply_to_websocket_routes_in_order() -> None:
    order: list[str] = []

    def mark(name: str) -> Any:
        async def dependency() -> None:
            order.append(name)

        return Depends(dependency)

    app = FastAPI(dependencies=[mark("app")])
    router = APIRouter(prefix="/chat", dependencies=[mark("router")])

    @router.websocket("/ws", dependencies=[mark("route")])
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(order)

    app.include_router(router, prefix="/v1", dependencies=[mark("include")])
    with TestClient(app).websocket_connect("/v1/chat/ws") as ws:
        assert ws.receive_json() == ["app", "include", "router", "route"]


def test_security_scopes_accumulate_along_the_dependency_path() -> None:
    def require(scopes: SecurityScopes) -> list[str]:
        return scopes.scopes

    def current_user(granted: list[str] = Security(require, scopes=["me"])) -> list[str]:
        return granted

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, user: list[str] = Security(current_user, scopes=["chat"])) -> None:
        await websocket.accept()
        await websocket.send_json(user)

    with TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_json() == ["chat", "me"]


def test_a_dependency_that_closes_the_socket_itself_ends_the_connection() -> None:
    """The guide's 2020 style: the dependency calls `websocket.close()` instead of raising."""

    async def must_have_token(websocket: WebSocket, token: str | None = None) -> str | None:
        if token is None:
            await websocket.close(code=1008)
        return token

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, token: str = Depends(must_have_token)) -> None:
        await websocket.accept()
        await websocket.send_text(token)

    client = TestClient(app)
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws"):
        pass
    assert refused.value.code == 1008
    with client.websocket_connect("/ws?token=t") as ws:
        assert ws.receive_text() == "t"


def test_no_dependency_is_called_once_a_parameter_failed_validation() -> None:
    called: list[str] = []

    async def needs_token(token: str) -> str:
        return token

    async def side_effect(websocket: WebSocket) -> None:
        called.append("side effect")
        await websocket.accept()

    async def outer(_: None = Depends(side_effect)) -> None:
        called.append("outer")

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, token: str = Depends(needs_token), _: None = Depends(outer)) -> None:
        called.append("endpoint")

    with pytest.raises(WebSocketDisconnect) as refused, TestClient(app).websocket_connect("/ws"):
        pass
    assert (refused.value.code, refused.value.reason) == (1008, "query.token: Field required")
    assert called == []
