"""The OpenAPI 3.1 document: valid against the official schema, in FastAPI's shape, configurable like FastAPI's."""

import importlib.util
import sys
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import jsonschema
import pytest
from pydantic import BaseModel, Field, computed_field

from tests.openapi.conftest import openapi_errors
from tests.servers import ROOT
from wsapi import APIRouter, Body, Cookie, Depends, FastAPI, File, Form, Header, Query, Security, UploadFile, WsAPI
from wsapi import Path as PathParam
from wsapi.responses import HTMLResponse, RedirectResponse
from wsapi.security import APIKeyHeader, HTTPBasic, OAuth2PasswordBearer
from wsapi.testclient import TestClient


class Tag(StrEnum):
    ITEMS = "items"


class Image(BaseModel):
    url: str
    name: str


class Item(BaseModel):
    name: str = Field(examples=["Foo"])
    price: float = Field(gt=0, description="In euros.")
    tags: set[str] = set()
    image: Image | None = None


class Secretive(BaseModel):
    name: str
    computed_only_on_output: str = "x"


class Message(BaseModel):
    message: str


oauth2 = OAuth2PasswordBearer("token", scopes={"items:read": "Read items", "items:write": "Write items"})
api_key = APIKeyHeader(name="X-Key", description="The partner's key.")


def reader(token: Annotated[str, Security(oauth2, scopes=["items:read"])]) -> str:
    return token


def build_app() -> FastAPI:
    app = FastAPI(
        title="Shop",
        summary="Everything sold",
        description="The **shop**'s API.",
        version="2.0.0",
        terms_of_service="https://example.com/terms",
        contact={"name": "Ada", "email": "ada@example.com"},
        license_info={"name": "MIT", "identifier": "MIT"},
        openapi_tags=[{"name": "items", "description": "What is sold."}],
        servers=[{"url": "https://shop.example.com", "description": "production"}],
    )
    router = APIRouter(prefix="/items", tags=[Tag.ITEMS], dependencies=[Depends(api_key)])

    @router.get("/{item_id}", responses={404: {"model": Message, "description": "Not there"}})
    async def read_item(
        item_id: Annotated[int, PathParam(ge=1, title="The item")],
        q: Annotated[str | None, Query(max_length=50, deprecated=True)] = None,
        user_agent: Annotated[str | None, Header()] = None,
        session: Annotated[str | None, Cookie()] = None,
        *,
        token: Annotated[str, Depends(reader)],
    ) -> Item:
        return Item(name="x", price=1)

    @router.put("/{item_id}", operation_id="replace_item", deprecated=True, summary="Replace", status_code=202)
    async def replace(item_id: int, item: Item, importance: Annotated[int, Body(gt=0)]) -> Item:
        """Replace an item.

        Markdown is **kept**.
        \f
        What follows the form feed is for the code's readers only.
        """
        return item

    @router.post("/{item_id}/picture", response_description="The stored picture")
    async def upload(
        item_id: int, picture: UploadFile, caption: Annotated[str, Form()], raw: bytes = File(b"")
    ) -> Image:
        return Image(url="u", name="n")

    @router.get("/{item_id}/page", response_class=HTMLResponse)
    async def page(item_id: int) -> str:
        return "<p>item</p>"

    @router.get("/old", response_class=RedirectResponse, include_in_schema=True)
    async def old() -> RedirectResponse:
        return RedirectResponse("/items/1")

    @router.get("/hidden", include_in_schema=False)
    async def hidden() -> None:
        return None

    @router.post("/secretive", response_model=Secretive, openapi_extra={"x-internal": True})
    async def secretive(data: Secretive) -> Any:
        return data

    app.include_router(router)

    @app.get("/login", dependencies=[Depends(HTTPBasic())])
    async def login() -> Message:
        return Message(message="hi")

    return app


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = TestClient(build_app()).get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_the_document_is_valid_openapi_3_1(
    openapi_validator: jsonschema.Draft202012Validator, document: dict[str, Any]
) -> None:
    assert document["openapi"] == "3.1.0"
    assert openapi_errors(openapi_validator, document) == []


def test_info_tags_and_servers(document: dict[str, Any]) -> None:
    assert document["info"] == {
        "title": "Shop",
        "summary": "Everything sold",
        "description": "The **shop**'s API.",
        "version": "2.0.0",
        "termsOfService": "https://example.com/terms",
        "contact": {"name": "Ada", "email": "ada@example.com"},
        "license": {"name": "MIT", "identifier": "MIT"},
    }
    assert document["tags"] == [{"name": "items", "description": "What is sold."}]
    assert document["servers"] == [{"url": "https://shop.example.com", "description": "production"}]


def test_parameters_from_the_whole_dependency_tree(document: dict[str, Any]) -> None:
    operation = document["paths"]["/items/{item_id}"]["get"]
    assert operation["operationId"] == "read_item_items__item_id__get"
    assert operation["summary"] == "Read Item"
    assert operation["tags"] == ["items"]
    by_name = {p["name"]: p for p in operation["parameters"]}
    assert by_name["item_id"] == {
        "name": "item_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "title": "The item"},
    }
    assert by_name["q"]["deprecated"] is True
    assert by_name["q"]["schema"]["anyOf"][0] == {"type": "string", "maxLength": 50}
    assert (by_name["user-agent"]["in"], by_name["session"]["in"]) == ("header", "cookie")
    assert "X-Key" not in by_name  # the security scheme describes it
    # Security schemes from dependencies, with the scopes asked for on the way.
    assert {"OAuth2PasswordBearer": ["items:read"]} in operation["security"]
    assert {"APIKeyHeader": []} in operation["security"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Key",
        "description": "The partner's key.",
    }
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["scopes"] == {
        "items:read": "Read items",
        "items:write": "Write items",
    }
    assert schemes["HTTPBasic"] == {"type": "http", "scheme": "basic"}


def test_responses_extra_models_and_validation_errors(document: dict[str, Any]) -> None:
    responses = document["paths"]["/items/{item_id}"]["get"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}
    assert responses["404"] == {
        "description": "Not there",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Message"}}},
    }
    assert responses["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HTTPValidationError"
    }
    error = document["components"]["schemas"]["ValidationError"]
    assert set(error["properties"]) == {"loc", "msg", "type", "input", "ctx"}


def test_request_bodies_json_embedded_and_multipart(document: dict[str, Any]) -> None:
    put = document["paths"]["/items/{item_id}"]["put"]
    assert (put["operationId"], put["summary"], put["deprecated"]) == ("replace_item", "Replace", True)
    assert put["description"] == "Replace an item.\n\nMarkdown is **kept**."
    assert "202" in put["responses"]
    body = put["requestBody"]
    assert body == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body_replace_item"}}},
    }
    model = document["components"]["schemas"]["Body_replace_item"]
    assert model["required"] == ["item", "importance"]
    assert model["properties"]["importance"] == {"type": "integer", "exclusiveMinimum": 0, "title": "Importance"}
    upload = document["paths"]["/items/{item_id}/picture"]["post"]
    assert list(upload["requestBody"]["content"]) == ["multipart/form-data"]
    assert upload["responses"]["200"]["description"] == "The stored picture"
    ref = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    form = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert form["properties"]["picture"] == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
        "title": "Picture",
    }
    assert form["properties"]["raw"]["contentMediaType"] == "application/octet-stream"
    assert form["required"] == ["picture", "caption"]


def test_response_classes_inclusion_and_extras(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert paths["/items/{item_id}/page"]["get"]["responses"]["200"]["content"] == {
        "text/html": {"schema": {"type": "string"}}
    }
    assert "307" in paths["/items/old"]["get"]["responses"]
    assert "/items/hidden" not in paths
    assert "/openapi.json" not in paths and "/docs" not in paths
    assert paths["/items/secretive"]["post"]["x-internal"] is True


def test_document_is_built_once_and_replaceable() -> None:
    app = build_app()
    assert app.openapi() is app.openapi()
    app.openapi_schema = {"openapi": "3.1.0", "info": {"title": "custom", "version": "1"}, "paths": {}}
    assert TestClient(app).get("/openapi.json").json()["info"]["title"] == "custom"


def test_urls_are_configurable_and_switchable_off() -> None:
    custom = TestClient(FastAPI(openapi_url="/api/v1/openapi.json", docs_url="/api/docs", redoc_url=None))
    assert custom.get("/api/v1/openapi.json").status_code == 200
    docs = custom.get("/api/docs")
    assert docs.status_code == 200 and "/api/v1/openapi.json" in docs.text
    assert custom.get("/redoc").status_code == 404
    assert custom.get("/docs").status_code == 404
    off = TestClient(FastAPI(openapi_url=None))
    assert [off.get(url).status_code for url in ("/openapi.json", "/docs", "/redoc")] == [404, 404, 404]


def test_root_path_goes_into_servers_and_page_urls() -> None:
    app = FastAPI(root_path="/api/v1")

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    client = TestClient(app)
    assert client.get("/openapi.json").json()["servers"] == [{"url": "/api/v1"}]
    assert '"url": "/api/v1/openapi.json"' in client.get("/docs").text
    assert (
        TestClient(FastAPI(root_path="/p", root_path_in_servers=False)).get("/openapi.json").json().get("servers")
        is None
    )


def test_separate_input_output_schemas_can_be_merged() -> None:
    class WithDefault(BaseModel):
        name: str

        @computed_field  # type: ignore[prop-decorator]
        @property
        def shout(self) -> str:
            return self.name.upper()

    def app_with(separate: bool) -> dict[str, Any]:
        app = FastAPI(separate_input_output_schemas=separate)

        @app.post("/things")
        async def create(thing: WithDefault) -> WithDefault:
            return thing

        return app.openapi()["components"]["schemas"]

    assert {"WithDefault-Input", "WithDefault-Output"} <= set(app_with(True))
    assert "WithDefault" in app_with(False)


def load_example(path: Path) -> ModuleType:
    name = "openapi_example_" + "_".join(path.relative_to(ROOT / "examples").with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.py") if "static" not in p.parts)


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "examples")) for p in EXAMPLES])
def test_every_example_apps_document_is_valid(openapi_validator: jsonschema.Draft202012Validator, path: Path) -> None:
    module = load_example(path)
    apps = [value for value in vars(module).values() if isinstance(value, WsAPI)]
    assert apps, f"{path} defines no app"
    for app in apps:
        document = TestClient(app).get("/openapi.json").json()
        assert openapi_errors(openapi_validator, document) == []


def test_parameters_are_listed_path_query_header_cookie_each_in_declaration_order() -> None:
    app = FastAPI()

    def tracking(session: Annotated[str | None, Cookie()] = None, ref: str | None = None) -> None:
        return None

    @app.get("/items/{item_id}")
    def read(
        agent: Annotated[str | None, Header()] = None,
        *,
        tracked: Annotated[None, Depends(tracking)],
        q: str | None = None,
        item_id: int,
    ) -> None:
        return None

    parameters = app.openapi()["paths"]["/items/{item_id}"]["get"]["parameters"]
    assert [(p["in"], p["name"]) for p in parameters] == [
        ("path", "item_id"),
        ("query", "q"),
        ("query", "ref"),
        ("header", "agent"),
        ("cookie", "session"),
    ]


def test_openapi_examples_go_to_the_parameter_and_the_body_media_type_not_the_schema(
    openapi_validator: jsonschema.Draft202012Validator,
) -> None:
    app = FastAPI()
    cheap = {"summary": "A cheap one", "value": {"name": "Pen", "price": 1.5}}
    first = {"first": {"value": 1}}

    @app.put("/items")
    def update(
        item: Annotated[Item, Body(openapi_examples={"cheap": cheap})],
        page: Annotated[int, Query(openapi_examples=first)] = 1,
    ) -> None:
        return None

    document = app.openapi()
    operation = document["paths"]["/items"]["put"]
    assert operation["parameters"][0]["examples"] == first
    assert operation["requestBody"]["content"]["application/json"] == {
        "schema": {"$ref": "#/components/schemas/Item"},
        "examples": {"cheap": cheap},
    }
    assert openapi_errors(openapi_validator, document) == []
    with pytest.raises(TypeError, match="openapi_examples describe a whole request body"):

        @app.put("/pairs")
        def pair(a: Annotated[Item, Body(openapi_examples={"cheap": cheap})], b: Item) -> None:
            return None
