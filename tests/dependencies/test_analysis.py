"""Route creation: declarations that cannot work are refused with a clear error; plans are made once per callable."""

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from wsapi import APIRouter, Body, Depends, FastAPI, Header, Query, SecurityScopes, WebSocket
from wsapi.dependencies import analyse
from wsapi.exceptions import DependencyScopeError, FastAPIError, WsAPIError
from wsapi.testclient import TestClient


def on_both(app: FastAPI, endpoint: Callable[..., Any]) -> list[Callable[[], None]]:
    """Registering `endpoint` as a WebSocket route and as an HTTP route."""
    return [lambda: app.add_api_websocket_route("/ws", endpoint), lambda: app.add_api_route("/http", endpoint)]


def test_two_markers_on_one_parameter_are_refused_when_the_route_is_created() -> None:
    async def annotated_and_default(token: Annotated[str, Query()] = Header()) -> None: ...

    async def two_in_annotated(token: Annotated[str, Query(), Header()]) -> None: ...

    for endpoint, message in (
        (annotated_and_default, r"'token' .* a marker in Annotated .*Query.* and another as its default .*Header"),
        (two_in_annotated, r"'token' .* has 2 markers in Annotated"),
    ):
        for register in on_both(FastAPI(), endpoint):
            with pytest.raises(TypeError, match=message):
                register()


def test_a_default_next_to_depends_in_annotated_is_refused_rather_than_ignored() -> None:
    async def user() -> str:
        return "ada"

    async def endpoint(name: Annotated[str, Depends(user)] = "nobody") -> None: ...

    for register in on_both(FastAPI(), endpoint):
        with pytest.raises(TypeError, match=r"'name' .* its default 'nobody' would never be used"):
            register()


def test_user_input_errors_are_exceptions_with_messages_not_asserts() -> None:
    with pytest.raises(ValueError, match="prefix"):
        APIRouter(prefix="chat/")
    with pytest.raises(ValueError, match="prefix"):
        APIRouter(prefix="/chat/")
    with pytest.raises(ValueError, match='"function" or "request"'):
        Depends(lambda: None, scope="session")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a callable"):
        FastAPI().add_api_route("/", lambda: None, dependencies=[Depends()])
    with pytest.raises(ValueError, match="websocket"):
        FastAPI().middleware("websocket")


async def session() -> AsyncIterator[str]:
    yield "session"


def per_call() -> Iterator[str]:
    yield "per call"


def test_a_request_scoped_dependency_on_a_function_scoped_one_is_refused_naming_both() -> None:
    def holds_session(s: Annotated[str, Depends(session, scope="function")]) -> Iterator[str]:
        yield s

    async def endpoint(held: Annotated[str, Depends(holds_session)]) -> None: ...

    for register in on_both(FastAPI(), endpoint):
        with pytest.raises(DependencyScopeError) as refused:
            register()
        message = str(refused.value)
        assert '"holds_session" has a scope of "request"' in message
        assert 'scope "function" ("session")' in message
    assert issubclass(DependencyScopeError, FastAPIError) and FastAPIError is WsAPIError


def test_scopes_that_can_work_are_accepted() -> None:
    def function_scoped(s: Annotated[str, Depends(session, scope="function")]) -> Iterator[str]:
        yield s

    def plain(s: Annotated[str, Depends(session, scope="function")]) -> str:
        return s

    def request_on_request(s: Annotated[str, Depends(session)], p: Annotated[str, Depends(per_call)]) -> Iterator[str]:
        yield s + p

    async def endpoint(
        a: Annotated[str, Depends(function_scoped, scope="function")],
        b: Annotated[str, Depends(plain)],
        c: Annotated[str, Depends(request_on_request)],
    ) -> None: ...

    for register in on_both(FastAPI(), endpoint):
        register()


class Counted:
    """A dependency that counts its analyses through its signature being read."""

    reads = 0

    @property
    def __signature__(self) -> Any:
        Counted.reads += 1
        return inspect.Signature([inspect.Parameter("token", inspect.Parameter.KEYWORD_ONLY, annotation=str)])

    async def __call__(self, token: str) -> str:
        return token


def test_a_dependency_used_by_many_routes_and_included_is_analysed_once() -> None:
    dependency = Counted()
    Counted.reads = 0
    router = APIRouter()
    for n in range(20):

        @router.websocket(f"/ws{n}")
        async def ws(websocket: WebSocket, token: Annotated[str, Depends(dependency)]) -> None:
            await websocket.accept()
            await websocket.send_text(token)

        @router.get(f"/http{n}")
        async def http(token: Annotated[str, Depends(dependency)]) -> str:
            return token

    app = FastAPI()
    app.include_router(router, prefix="/v1")
    app.include_router(router, prefix="/v2")
    assert Counted.reads == 1
    client = TestClient(app)
    with client.websocket_connect("/v2/ws7?token=t") as session:
        assert session.receive_text() == "t"
    assert client.get("/v1/http3?token=u").json() == "u"


def test_an_override_is_analysed_once_not_per_connection() -> None:
    async def real() -> str:
        return "real"

    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, value: Annotated[str, Depends(real)]) -> None:
        await websocket.accept()
        await websocket.send_text(value)

    fake = Counted()
    Counted.reads = 0
    app.dependency_overrides[real] = fake
    client = TestClient(app)
    for token in ("a", "b", "c"):
        with client.websocket_connect(f"/ws?token={token}") as ws:
            assert ws.receive_text() == token
    assert Counted.reads == 1


def test_a_plan_is_shared_only_within_the_same_context() -> None:
    async def item(item_id: int) -> int:
        return item_id

    assert analyse(item) is analyse(item)
    in_path = analyse(item, path_param_names=frozenset({"item_id"}))
    assert in_path is not analyse(item)
    assert in_path.fields[0].location == "path" and analyse(item).fields[0].location == "query"


class Item(BaseModel):
    name: str


def test_an_override_keeps_the_routes_whole_body_mode() -> None:
    async def parse(item: Item) -> Item:
        return item

    async def shout(item: Item) -> Item:
        return Item(name=item.name.upper())

    app = FastAPI()

    @app.post("/items")
    async def create(item: Annotated[Item, Depends(parse)]) -> dict[str, str]:
        return {"name": item.name}

    client = TestClient(app)
    assert client.post("/items", json={"name": "ada"}).json() == {"name": "ada"}
    app.dependency_overrides[parse] = shout
    assert client.post("/items", json={"name": "ada"}).json() == {"name": "ADA"}
    missing = client.post("/items", json={"other": 1})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "name"]


def test_an_embedded_body_stays_embedded_under_an_override() -> None:
    async def parse(item: Annotated[Item, Body(embed=True)]) -> Item:
        return item

    async def shout(item: Annotated[Item, Body(embed=True)]) -> Item:
        return Item(name=item.name.upper())

    app = FastAPI()

    @app.post("/items")
    async def create(item: Annotated[Item, Depends(parse)]) -> str:
        return item.name

    app.dependency_overrides[parse] = shout
    assert TestClient(app).post("/items", json={"item": {"name": "ada"}}).json() == "ADA"


def test_one_body_parameter_named_by_two_dependencies_is_the_whole_body() -> None:
    async def check(item: Item) -> None:
        if not item.name:
            raise ValueError("empty")

    app = FastAPI()

    @app.post("/items", dependencies=[Depends(check)])
    async def create(item: Item) -> str:
        return item.name

    assert TestClient(app).post("/items", json={"name": "ada"}).json() == "ada"


def test_scoped_security_and_plain_depends_of_the_same_callable_are_distinct_plans() -> None:
    def scopes(security_scopes: SecurityScopes) -> list[str]:
        return security_scopes.scopes

    plain = analyse(scopes)
    scoped = analyse(scopes, security_scopes=["read"], declares_scopes=True)
    assert plain is not scoped and scoped.scopes_object.scopes == ["read"]
