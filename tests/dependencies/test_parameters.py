"""Path, Query, Header and Cookie parameters on WebSocket and HTTP routes: extraction, conversion, validation."""

from decimal import Decimal
from typing import Annotated, Any

import httpx2
import pytest
from pydantic import AfterValidator

from wsapi import Cookie, FastAPI, Header, Path, Query, WebSocket, WebSocketDisconnect
from wsapi.testclient import TestClient

Limit = Annotated[int, Query(le=1000)]


def echo_app(endpoint: Any, path: str = "/ws") -> TestClient:
    """An app whose WebSocket route sends back the endpoint's solved arguments as JSON."""
    app = FastAPI()
    app.add_api_websocket_route(path, endpoint)
    return TestClient(app)


def received(client: TestClient, url: str, **kwargs: Any) -> Any:
    with client.websocket_connect(url, **kwargs) as ws:
        return ws.receive_json()


async def send_args(websocket: WebSocket, **values: Any) -> None:
    await websocket.accept()
    await websocket.send_json(values)
    await websocket.close()


def test_path_parameter_is_converted_to_its_annotated_type() -> None:
    async def endpoint(websocket: WebSocket, item_id: int) -> None:
        await send_args(websocket, item_id=item_id, type=type(item_id).__name__)

    assert received(echo_app(endpoint, "/items/{item_id}"), "/items/42") == {"item_id": 42, "type": "int"}


def test_path_convertor_and_constraints() -> None:
    async def endpoint(websocket: WebSocket, item_id: Annotated[int, Path(ge=10)]) -> None:
        await send_args(websocket, item_id=item_id)

    client = echo_app(endpoint, "/items/{item_id:int}")
    assert received(client, "/items/10") == {"item_id": 10}
    with pytest.raises(WebSocketDisconnect) as refused:
        received(client, "/items/3")
    assert refused.value.code == 1008
    assert refused.value.reason == "path.item_id: Input should be greater than or equal to 10"


def test_path_parameter_that_is_not_an_int_is_refused_with_1008() -> None:
    async def endpoint(websocket: WebSocket, item_id: int) -> None:
        await send_args(websocket, item_id=item_id)

    with pytest.raises(WebSocketDisconnect) as refused:
        received(echo_app(endpoint, "/items/{item_id}"), "/items/foo")
    assert refused.value.code == 1008
    assert refused.value.reason.startswith("path.item_id: Input should be a valid integer")


def test_query_defaults_aliases_and_lists() -> None:
    async def endpoint(
        websocket: WebSocket,
        q: str | None = None,
        limit: int = Query(10, le=100),
        tags: list[str] = Query([]),
        search: Annotated[str, Query(alias="search-term")] = "",
    ) -> None:
        await send_args(websocket, q=q, limit=limit, tags=tags, search=search)

    client = echo_app(endpoint)
    assert received(client, "/ws") == {"q": None, "limit": 10, "tags": [], "search": ""}
    assert received(client, "/ws?q=x&limit=5&tags=a&tags=b&search-term=hi") == {
        "q": "x",
        "limit": 5,
        "tags": ["a", "b"],
        "search": "hi",
    }


def test_required_query_parameter_missing_is_named_in_the_close_reason() -> None:
    async def endpoint(websocket: WebSocket, token: str) -> None:
        await send_args(websocket, token=token)

    with pytest.raises(WebSocketDisconnect) as refused:
        received(echo_app(endpoint), "/ws")
    assert (refused.value.code, refused.value.reason) == (1008, "query.token: Field required")


def test_several_errors_are_counted_in_the_reason() -> None:
    async def endpoint(websocket: WebSocket, a: int, b: int) -> None:
        await send_args(websocket)

    with pytest.raises(WebSocketDisconnect) as refused:
        received(echo_app(endpoint), "/ws?a=x")
    assert (
        refused.value.reason
        == "query.a: Input should be a valid integer, unable to parse string as an integer (+1 more)"
    )


def test_headers_convert_underscores_and_read_repeated_values() -> None:
    async def endpoint(
        websocket: WebSocket,
        x_client: str = Header(),
        user_agent: Annotated[str | None, Header()] = None,
        x_raw_name: str | None = Header(None, convert_underscores=False),
        x_tag: list[str] = Header([]),
    ) -> None:
        await send_args(websocket, x_client=x_client, user_agent=user_agent, raw=x_raw_name, tags=x_tag)

    headers = httpx2.Headers([("x-client", "c1"), ("x_raw_name", "r"), ("x-tag", "a"), ("x-tag", "b")])
    client = echo_app(endpoint)
    assert received(client, "/ws", headers=headers) == {
        "x_client": "c1",
        "user_agent": "testclient",
        "raw": "r",
        "tags": ["a", "b"],
    }
    with pytest.raises(WebSocketDisconnect) as refused:
        received(client, "/ws")
    assert refused.value.reason == "header.x-client: Field required"


def test_cookies() -> None:
    async def endpoint(websocket: WebSocket, session: str | None = Cookie(None), theme: str = Cookie("light")) -> None:
        await send_args(websocket, session=session, theme=theme)

    client = echo_app(endpoint)
    assert received(client, "/ws") == {"session": None, "theme": "light"}
    client.cookies.set("session", "abc")
    client.cookies.set("theme", "dark")
    assert received(client, "/ws") == {"session": "abc", "theme": "dark"}


def test_annotated_metadata_from_pydantic_is_applied() -> None:
    async def endpoint(websocket: WebSocket, name: Annotated[str, AfterValidator(str.upper)] = Query()) -> None:
        await send_args(websocket, name=name)

    assert received(echo_app(endpoint), "/ws?name=ada") == {"name": "ADA"}


def test_one_annotated_alias_serves_signatures_with_different_defaults() -> None:
    async def first(websocket: WebSocket, limit: Limit = 5) -> None:
        await send_args(websocket, limit=limit)

    async def second(websocket: WebSocket, limit: Limit = 50) -> None:
        await send_args(websocket, limit=limit)

    app = FastAPI()
    app.add_api_websocket_route("/first", first)
    app.add_api_websocket_route("/second", second)
    client = TestClient(app)
    assert received(client, "/first") == {"limit": 5}
    assert received(client, "/second") == {"limit": 50}


def test_list_default_is_not_shared_between_connections() -> None:
    async def endpoint(websocket: WebSocket, tags: list[str] = Query([])) -> None:
        tags.append("seen")
        await send_args(websocket, tags=tags)

    client = echo_app(endpoint)
    assert received(client, "/ws") == {"tags": ["seen"]}
    assert received(client, "/ws") == {"tags": ["seen"]}


def test_path_marker_for_a_name_not_in_the_path_is_an_error_at_route_creation() -> None:
    async def endpoint(websocket: WebSocket, item_id: int = Path()) -> None: ...

    app = FastAPI()
    with pytest.raises(TypeError, match="item_id"):
        app.add_api_websocket_route("/ws", endpoint)


def test_sync_websocket_endpoint_is_an_error_at_route_creation() -> None:
    def endpoint(websocket: WebSocket) -> None: ...

    with pytest.raises(TypeError, match="must be an async function"):
        FastAPI().add_api_websocket_route("/ws", endpoint)


def test_a_misspelt_or_unsupported_marker_option_is_refused_not_kept_as_a_schema_extra() -> None:
    with pytest.raises(TypeError, match=r"Query\(\) got options wsapi does not support: max_lenght"):
        Query(max_lenght=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"regex \(use pattern=\)"):
        Path(regex="^a")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"validation_alias \(use alias=\)"):
        Header(validation_alias="x-key")  # type: ignore[call-arg]


def test_pydantic_number_options_constrain_parameters() -> None:
    app = FastAPI()

    @app.get("/price")
    def price(p: Annotated[Decimal, Query(max_digits=4, decimal_places=2, allow_inf_nan=False)]) -> str:
        return str(p)

    client = TestClient(app)
    assert client.get("/price?p=12.34").json() == "12.34"
    assert [client.get(f"/price?p={p}").json()["detail"][0]["type"] for p in ("1.234", "123.4", "NaN")] == [
        "decimal_max_places",
        "decimal_whole_digits",
        "finite_number",
    ]
