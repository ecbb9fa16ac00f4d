"""Solving: when yield-dependencies of each scope are torn down, and which dependencies one solve shares."""

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import pytest

from wsapi import Depends, FastAPI, Header, HTTPException, MessageRouter, Security, SecurityScopes, WebSocket
from wsapi.responses import StreamingResponse
from wsapi.testclient import TestClient


class Events(list[str]):
    def resource(self, name: str, scope: str | None = None) -> object:
        async def opened() -> AsyncIterator[str]:
            self.append(f"open {name}")
            yield name
            self.append(f"close {name}")

        return Depends(opened, scope=scope)  # type: ignore[arg-type]


@pytest.mark.parametrize("sync_teardown", [False, True])
def test_websocket_function_scope_ends_with_the_endpoint_and_request_scope_with_the_connection(
    sync_teardown: bool,
) -> None:
    events = Events()

    def sync_resource() -> Iterator[str]:
        events.append("open function")
        yield "function"
        events.append("close function")

    function_scoped = (
        Depends(sync_resource, scope="function") if sync_teardown else events.resource("function", "function")
    )
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(
        websocket: WebSocket,
        a: Annotated[str, events.resource("request", "request")],
        b: Annotated[str, function_scoped],
        c: Annotated[str, events.resource("default")],
    ) -> None:
        await websocket.accept()
        await websocket.send_json([a, b, c])
        await websocket.receive_text()
        events.append("endpoint returns")

    with TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_json() == ["request", "function", "default"]
        ws.send_text("bye")
    assert events[3:] == ["endpoint returns", "close function", "close default", "close request"]


def test_http_function_scope_ends_before_the_response_is_sent_request_scope_after() -> None:
    events = Events()
    app = FastAPI()

    @app.get("/")
    async def endpoint(
        a: Annotated[str, events.resource("request", "request")],
        b: Annotated[str, events.resource("function", "function")],
    ) -> StreamingResponse:
        async def body() -> AsyncIterator[str]:
            yield ",".join(events)

        return StreamingResponse(body())

    assert TestClient(app).get("/").text == "open request,open function,close function"
    assert events[-1] == "close request"


def test_message_router_function_scope_is_the_connection_for_the_connect_hook_and_the_message_for_a_handler() -> None:
    events = Events()
    session_dependency = events.resource("session", "function")
    chat = MessageRouter()

    @chat.on_connect
    async def connect(session: Annotated[str, session_dependency]) -> None:
        pass

    @chat.on("ping")
    async def ping(
        session: Annotated[str, session_dependency],
        scratch: Annotated[str, events.resource("scratch", "function")],
    ) -> str:
        return ", ".join(events)

    app = FastAPI()
    app.add_api_websocket_route("/ws", chat)
    with TestClient(app).websocket_connect("/ws") as ws:
        # The connect hook's session is reused by the handler; the handler's own scratch closes with its message.
        assert ws.request("ping")["data"] == "open session, open scratch"
        assert ws.request("ping")["data"] == "open session, open scratch, close scratch, open scratch"
    assert events[-2:] == ["close scratch", "close session"]


def test_one_dependency_reached_through_security_and_directly_is_called_once() -> None:
    calls: list[str] = []

    async def database() -> str:
        calls.append("database")
        return "db"

    async def current_user(db: Annotated[str, Depends(database)]) -> str:
        return f"user from {db}"

    app = FastAPI()

    @app.websocket("/ws")
    async def ws_endpoint(
        websocket: WebSocket,
        user: Annotated[str, Security(current_user, scopes=["read"])],
        db: Annotated[str, Depends(database)],
    ) -> None:
        await websocket.accept()
        await websocket.send_json([user, db])

    @app.get("/http")
    async def http_endpoint(
        user: Annotated[str, Security(current_user, scopes=["read"])], db: Annotated[str, Depends(database)]
    ) -> list[str]:
        return [user, db]

    client = TestClient(app)
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json() == ["user from db", "db"]
    assert calls == ["database"]
    assert client.get("/http").json() == ["user from db", "db"]
    assert calls == ["database", "database"]


def test_a_dependency_that_reads_its_scopes_is_called_once_per_set_of_scopes() -> None:
    calls: list[list[str]] = []

    async def granted(security_scopes: SecurityScopes) -> list[str]:
        calls.append(security_scopes.scopes)
        return security_scopes.scopes

    async def admin(scopes: Annotated[list[str], Security(granted, scopes=["admin"])]) -> list[str]:
        return scopes

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(
        websocket: WebSocket,
        a: Annotated[list[str], Security(granted, scopes=["read"])],
        b: Annotated[list[str], Depends(granted)],
        c: Annotated[list[str], Security(admin, scopes=["read"])],
        d: Annotated[list[str], Security(granted, scopes=["read"])],
    ) -> None:
        await websocket.accept()
        await websocket.send_json([a, b, c, d])

    with TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_json() == [["read"], [], ["read", "admin"], ["read"]]
    assert calls == [["read"], [], ["read", "admin"]]


def test_on_http_a_valid_dependency_still_runs_after_another_failed_so_authentication_answers_first() -> None:
    called: list[str] = []

    def query_token(token: str) -> str:
        called.append("query_token")
        return token

    def key(x_key: Annotated[str, Header()]) -> None:
        called.append("key")
        if x_key != "secret":
            raise HTTPException(401, "Bad key")

    def needs_token(token: Annotated[str, Depends(query_token)]) -> None:
        called.append("needs_token")  # never: what it depends on failed

    app = FastAPI(dependencies=[Depends(query_token)])

    @app.get("/items", dependencies=[Depends(key), Depends(needs_token)])
    def items() -> str:
        called.append("endpoint")
        return "ok"

    client = TestClient(app)
    unauthenticated = client.get("/items", headers={"x-key": "wrong"})
    assert (unauthenticated.status_code, unauthenticated.json()) == (401, {"detail": "Bad key"})
    assert called == ["key"]
    called.clear()
    invalid = client.get("/items", headers={"x-key": "secret"})
    assert invalid.status_code == 422
    assert {tuple(e["loc"]) for e in invalid.json()["detail"]} == {("query", "token")}
    assert called == ["key"]
    called.clear()
    assert client.get("/items?token=t", headers={"x-key": "secret"}).json() == "ok"
    assert called == ["query_token", "key", "needs_token", "endpoint"]
