"""Response models: the endpoint's result is validated against the declared type and filtered by it."""

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from wsapi import FastAPI
from wsapi.exceptions import FastAPIError, ResponseValidationError
from wsapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from wsapi.testclient import TestClient


class User(BaseModel):
    username: str
    email: str | None = None


class UserInDB(User):
    hashed_password: str


class Stranger(BaseModel):  # not a subclass of User: read by attribute
    username: str
    email: str | None = None
    hashed_password: str


SECRET = "s3cr3t-hash"


def stored_user() -> UserInDB:
    return UserInDB(username="ada", email="ada@example.com", hashed_password=SECRET)


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()

    @app.get("/annotated")
    async def by_annotation() -> User:
        return stored_user()  # a subclass instance with a field User does not declare

    @app.get("/declared", response_model=User)
    async def by_response_model() -> Any:
        return {"username": "ada", "hashed_password": SECRET}

    @app.get("/attributes", response_model=User)
    async def by_attributes() -> Any:
        return Stranger(username="ada", hashed_password=SECRET)

    @app.get("/listed", response_model=list[User])
    def listed() -> Any:  # a sync endpoint: serialized in the thread pool
        return [stored_user(), {"username": "bob", "hashed_password": SECRET}]

    @app.get("/unfiltered", response_model=None)
    async def unfiltered() -> UserInDB:
        return stored_user()

    @app.get("/other-class", response_class=JSONResponse, response_model=User)
    async def other_class() -> Any:
        return stored_user()

    return TestClient(app)


@pytest.mark.parametrize("path", ["/annotated", "/declared", "/attributes", "/other-class"])
def test_a_secret_field_never_leaks(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert SECRET not in response.text
    assert "hashed_password" not in response.text
    assert "ada" in response.text


def test_lists_are_filtered_item_by_item(client: TestClient) -> None:
    response = client.get("/listed")
    assert response.json() == [{"username": "ada", "email": "ada@example.com"}, {"username": "bob", "email": None}]


def test_response_model_none_sends_the_result_as_it_is(client: TestClient) -> None:
    assert client.get("/unfiltered").json()["hashed_password"] == SECRET


class Item(BaseModel):
    name: str
    description: str | None = None
    price: float
    tax: float = 10.5
    tags: list[str] = []


ITEMS = {
    "foo": {"name": "Foo", "price": 50.2},
    "bar": {"name": "Bar", "description": "The bartenders", "price": 62, "tax": 20.2},
    "baz": {"name": "Baz", "description": None, "price": 50.2, "tax": 10.5, "tags": []},
}


def test_exclude_unset_defaults_none_include_exclude() -> None:
    app = FastAPI()

    @app.get("/unset/{key}", response_model=Item, response_model_exclude_unset=True)
    async def unset(key: str) -> Any:
        return Item(**ITEMS[key])

    @app.get("/defaults/{key}", response_model=Item, response_model_exclude_defaults=True)
    async def defaults(key: str) -> Any:
        return ITEMS[key]

    @app.get("/none/{key}", response_model=Item, response_model_exclude_none=True)
    async def none(key: str) -> Any:
        return ITEMS[key]

    @app.get("/include/{key}", response_model=Item, response_model_include={"name", "description"})
    async def include(key: str) -> Any:
        return ITEMS[key]

    @app.get("/exclude/{key}", response_model=Item, response_model_exclude={"tax"})
    async def exclude(key: str) -> Any:
        return ITEMS[key]

    client = TestClient(app)
    assert client.get("/unset/foo").json() == {"name": "Foo", "price": 50.2}
    assert client.get("/unset/baz").json() == ITEMS["baz"]  # set explicitly, even to the default: kept
    assert client.get("/defaults/baz").json() == {"name": "Baz", "price": 50.2}
    assert client.get("/none/baz").json() == {"name": "Baz", "price": 50.2, "tax": 10.5, "tags": []}
    assert client.get("/include/bar").json() == {"name": "Bar", "description": "The bartenders"}
    assert "tax" not in client.get("/exclude/bar").json()


def test_a_result_that_does_not_fit_is_a_server_error_not_a_response() -> None:
    app = FastAPI()

    @app.get("/broken", response_model=User)
    async def broken() -> Any:
        return {"email": "no-username@example.com"}

    with pytest.raises(ResponseValidationError) as raised:
        TestClient(app).get("/broken")
    assert raised.value.errors()[0]["loc"] == ("response", "username")
    response = TestClient(app, raise_server_exceptions=False).get("/broken")
    assert response.status_code == 500
    assert "no-username" not in response.text


def test_aliases_are_used_unless_by_alias_is_false() -> None:
    from pydantic import Field

    class Aliased(BaseModel):
        user_name: str = Field(alias="userName")

    app = FastAPI()

    @app.get("/alias", response_model=Aliased)
    async def alias() -> Any:
        return {"userName": "ada"}

    @app.get("/field-names", response_model=Aliased, response_model_by_alias=False)
    async def names() -> Any:
        return {"userName": "ada"}

    client = TestClient(app)
    assert client.get("/alias").json() == {"userName": "ada"}
    assert client.get("/field-names").json() == {"user_name": "ada"}


def test_return_annotations_that_are_responses_declare_no_model() -> None:
    app = FastAPI()

    @app.get("/redirect")
    async def redirect() -> RedirectResponse:
        return RedirectResponse("/elsewhere")

    @app.get("/either")
    async def either(plain: bool = False) -> JSONResponse | PlainTextResponse:
        return PlainTextResponse("plain") if plain else JSONResponse({"json": True})

    client = TestClient(app)
    assert client.get("/redirect", follow_redirects=False).status_code == 307
    assert client.get("/either?plain=true").text == "plain"


def test_an_annotation_pydantic_cannot_validate_is_refused_when_the_route_is_created() -> None:
    app = FastAPI()

    class Opaque:
        pass

    # FastAPI's error class, as ported code and tests expect it.
    with pytest.raises(FastAPIError, match="response_model=None"):

        @app.get("/opaque")
        async def opaque() -> Opaque:
            return Opaque()

    @app.get("/opaque", response_model=None)  # the documented way out
    async def allowed() -> Opaque | Response:
        return Response("ok")

    assert TestClient(app).get("/opaque").text == "ok"


def test_dataclass_and_dict_results_are_encoded_like_fastapi() -> None:
    from datetime import timedelta
    from decimal import Decimal

    @dataclass
    class Point:
        x: int
        y: int

    app = FastAPI()

    @app.get("/plain")
    async def plain():  # type: ignore[no-untyped-def]  # no annotation: FastAPI's jsonable_encoder decides
        return {"point": Point(1, 2), "wait": timedelta(seconds=90), "price": Decimal("9.5"), "count": Decimal("3")}

    assert TestClient(app).get("/plain").json() == {"point": {"x": 1, "y": 2}, "wait": 90.0, "price": 9.5, "count": 3}


def test_status_codes_without_a_body_send_none() -> None:
    app = FastAPI()

    @app.delete("/items/{item_id}", status_code=204)
    async def delete(item_id: int) -> None:
        return None

    response = TestClient(app).delete("/items/1")
    assert response.status_code == 204
    assert response.content == b""
