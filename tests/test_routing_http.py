"""HTTP routes as FastAPI apps use them: options, routers, background tasks, the response parameter, events."""

from typing import Annotated, Any

import pytest

from wsapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, HTTPException, Response
from wsapi.exceptions import WsAPIError
from wsapi.responses import HTMLResponse, PlainTextResponse
from wsapi.testclient import TestClient


def test_background_tasks_run_after_the_response_in_order_from_endpoint_and_dependencies() -> None:
    ran: list[str] = []
    app = FastAPI()

    def log(message: str) -> None:
        ran.append(message)

    async def audit(tasks: BackgroundTasks, q: str | None = None) -> str | None:
        if q:
            tasks.add_task(log, f"query {q}")
        return q

    @app.post("/send/{email}", status_code=202)
    async def send(email: str, tasks: BackgroundTasks, q: Annotated[str | None, Depends(audit)]) -> dict[str, str]:
        tasks.add_task(log, f"mail {email}")
        assert ran == []  # nothing runs before the response
        return {"message": "queued"}

    response = TestClient(app).post("/send/ada@example.com?q=x")
    assert response.status_code == 202
    assert response.json() == {"message": "queued"}
    assert ran == ["query x", "mail ada@example.com"]  # one set of tasks per request, shared


def test_background_tasks_are_kept_when_the_endpoint_returns_its_own_response() -> None:
    ran: list[str] = []
    app = FastAPI()

    @app.get("/")
    async def endpoint(tasks: BackgroundTasks) -> PlainTextResponse:
        tasks.add_task(ran.append, "done")
        return PlainTextResponse("ok")

    assert TestClient(app).get("/").text == "ok"
    assert ran == ["done"]


def test_the_response_parameter_sets_status_headers_and_cookies() -> None:
    app = FastAPI()

    @app.put("/items/{key}", status_code=200)
    async def upsert(key: str, response: Response) -> dict[str, str]:
        if key == "new":
            response.status_code = 201
        response.headers["X-Cat-Dog"] = "alone in the world"
        response.set_cookie("fakesession", "fake-cookie-session-value")
        return {"key": key}

    client = TestClient(app)
    created = client.put("/items/new")
    assert created.status_code == 201
    assert created.json() == {"key": "new"}
    assert created.headers["x-cat-dog"] == "alone in the world"
    assert created.cookies["fakesession"] == "fake-cookie-session-value"
    assert client.put("/items/old").status_code == 200


def test_on_event_handlers_run_around_the_lifespan() -> None:
    from contextlib import asynccontextmanager

    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        events.append("lifespan start")
        yield
        events.append("lifespan end")

    app = FastAPI(lifespan=lifespan, on_startup=[lambda: events.append("init startup")])

    with pytest.warns(DeprecationWarning, match="lifespan"):

        @app.on_event("startup")
        async def startup() -> None:
            events.append("startup")

    with pytest.warns(DeprecationWarning, match="lifespan"):

        @app.on_event("shutdown")
        def shutdown() -> None:
            events.append("shutdown")

    router = APIRouter()
    with pytest.warns(DeprecationWarning, match="lifespan"):
        router.on_event("startup")(lambda: events.append("router startup"))
    app.include_router(router)

    with TestClient(app):
        # An included router's events run inside the app's lifespan, as its own lifespan would.
        assert events == ["init startup", "startup", "lifespan start", "router startup"]
    assert events[-2:] == ["lifespan end", "shutdown"]
    with pytest.raises(ValueError, match="startup"):
        app.add_event_handler("boot", lambda: None)


def test_router_options_apply_to_every_route_and_compose_with_include_options() -> None:
    calls: list[str] = []

    async def token(x_token: Annotated[str, Header()]) -> None:
        calls.append("token")
        if x_token != "secret":
            raise HTTPException(400, "X-Token header invalid")

    router = APIRouter(
        prefix="/items",
        tags=["items"],
        dependencies=[Depends(token)],
        responses={404: {"description": "Not found"}},
        default_response_class=PlainTextResponse,
    )

    @router.get("/{item_id}", tags=["custom"], responses={403: {"description": "Forbidden"}})
    async def read(item_id: str) -> str:
        return item_id

    @router.get("/page/html", response_class=HTMLResponse)
    async def page() -> str:
        return "<p>hi</p>"

    app = FastAPI()
    app.include_router(router, prefix="/v1", tags=["v1"], responses={418: {"description": "Teapot"}}, deprecated=True)
    client = TestClient(app, headers={"X-Token": "secret"})

    response = client.get("/v1/items/plumbus")
    assert (response.text, response.headers["content-type"]) == ("plumbus", "text/plain; charset=utf-8")
    assert client.get("/v1/items/page/html").headers["content-type"].startswith("text/html")
    assert client.get("/v1/items/x", headers={"X-Token": "wrong"}).json() == {"detail": "X-Token header invalid"}
    operation = app.openapi()["paths"]["/v1/items/{item_id}"]["get"]
    assert operation["tags"] == ["v1", "items", "custom"]
    assert set(operation["responses"]) == {"200", "403", "404", "418", "422"}
    assert operation["deprecated"] is True


def test_route_names_methods_and_schema_inclusion() -> None:
    app = FastAPI()

    @app.api_route("/multi", methods=["GET", "POST"], name="multi_route")
    async def multi() -> str:
        return "ok"

    @app.head("/head")
    async def head() -> None:
        return None

    @app.options("/opts")
    async def opts() -> dict[str, str]:
        return {"allow": "GET"}

    @app.get("/hidden", include_in_schema=False)
    async def hidden() -> str:
        return "hidden"

    client = TestClient(app)
    assert client.post("/multi").json() == "ok"
    assert client.head("/head").status_code == 200
    assert client.options("/opts").json() == {"allow": "GET"}
    assert app.url_path_for("multi_route") == "/multi"
    paths = app.openapi()["paths"]
    assert "/hidden" not in paths
    assert {paths["/multi"]["get"]["operationId"], paths["/multi"]["post"]["operationId"]} == {
        "multi_route_multi_get",
        "multi_route_multi_post",
    }


def test_options_wsapi_does_not_implement_are_refused_when_the_route_is_created() -> None:
    app = FastAPI()
    callback_router = APIRouter()

    @callback_router.post("/callback")
    async def callback() -> None:
        return None

    with pytest.raises(TypeError, match="callbacks"):

        @app.get("/with-callbacks", callbacks=callback_router.routes)
        async def endpoint() -> None:
            return None

    with pytest.raises(TypeError, match="callbacks"):
        APIRouter(callbacks=callback_router.routes)
    with pytest.raises(TypeError, match="callbacks"):
        app.include_router(APIRouter(), callbacks=callback_router.routes)
    with pytest.raises(TypeError, match="unexpected keyword argument 'response_modle'"):
        app.get("/typo", response_modle=dict)  # type: ignore[call-arg]


@pytest.mark.parametrize("scope", ["request", "function"])
def test_a_yield_dependency_that_swallows_the_endpoints_exception_is_an_error_not_a_silent_empty_reply(
    scope: str,
) -> None:
    app = FastAPI()
    caught: list[str] = []

    def session() -> Any:
        try:
            yield "s"
        except ValueError as exc:
            caught.append(str(exc))  # and no `raise`: the endpoint's failure is lost

    @app.get("/boom")
    def boom(s: Annotated[str, Depends(session, scope=scope)]) -> str:  # type: ignore[arg-type]
        raise ValueError("boom")

    with pytest.raises(WsAPIError, match="dependency with yield caught it"):
        TestClient(app).get("/boom")
    assert caught == ["boom"]
    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
