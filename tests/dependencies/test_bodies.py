"""Request bodies: JSON by content type, forms and file uploads (python-multipart), FastAPI's 422 error shape."""

from typing import Annotated

import pytest
from pydantic import BaseModel

from wsapi import Body, Depends, FastAPI, File, Form, UploadFile
from wsapi.security import OAuth2PasswordRequestForm, OAuth2PasswordRequestFormStrict
from wsapi.testclient import TestClient


class Item(BaseModel):
    name: str
    price: float


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    @app.post("/login")
    async def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> dict[str, str]:
        return {"username": username}

    @app.post("/tags")
    async def tags(tag: Annotated[list[str], Form()], note: Annotated[str | None, Form()] = None) -> dict[str, object]:
        return {"tags": tag, "note": note}

    @app.post("/bytes")
    async def size(file: Annotated[bytes, File()]) -> dict[str, int]:
        return {"file_size": len(file)}

    @app.post("/upload")
    async def upload(file: UploadFile, token: Annotated[str, Form()]) -> dict[str, object]:
        return {"filename": file.filename, "content": (await file.read()).decode(), "token": token}

    @app.post("/uploads")
    async def uploads(files: list[UploadFile]) -> list[str | None]:
        return [f.filename for f in files]

    @app.post("/optional-file")
    async def optional(file: UploadFile | None = None) -> dict[str, str | None]:
        return {"filename": file.filename if file else None}

    @app.post("/token")
    async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, object]:
        return {"username": form.username, "scopes": form.scopes, "grant_type": form.grant_type}

    @app.post("/strict-token")
    async def strict(form: Annotated[OAuth2PasswordRequestFormStrict, Depends()]) -> str:
        return form.username

    @app.post("/embedded")
    async def embedded(item: Annotated[Item, Body(embed=True)], importance: Annotated[int, Body()]) -> int:
        return importance

    return TestClient(app)


def test_json_body_is_read_by_content_type(client: TestClient) -> None:
    assert client.post("/items", json={"name": "Foo", "price": 1.5}).json() == {"name": "Foo", "price": 1.5}
    # Not JSON by its content type: validated as the raw bytes it is, so the model refuses it.
    as_text = client.post("/items", content=b'{"name": "Foo", "price": 1.5}', headers={"content-type": "text/plain"})
    assert as_text.status_code == 422
    assert as_text.json()["detail"] == [
        {
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": '{"name": "Foo", "price": 1.5}',
        }
    ]
    not_utf8 = client.post("/items", content=b'{"name": "\xff"}', headers={"content-type": "application/json"})
    assert (not_utf8.status_code, not_utf8.json()) == (400, {"detail": "There was an error parsing the body"})
    assert client.post("/items", content=b"{", headers={"content-type": "application/json"}).json() == {
        "detail": [
            {
                "type": "json_invalid",
                "loc": ["body", 1],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "Expecting property name enclosed in double quotes"},
            }
        ]
    }


def test_validation_errors_have_fastapis_shape_with_input(client: TestClient) -> None:
    missing = client.post("/items")
    assert missing.json() == {"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]}
    bad = client.post("/items", json={"name": "Foo", "price": "cheap"}).json()["detail"][0]
    assert (bad["type"], bad["loc"], bad["input"]) == ("float_parsing", ["body", "price"], "cheap")
    incomplete = client.post("/items", json={"name": "Foo"}).json()["detail"][0]
    assert (incomplete["loc"], incomplete["input"]) == (["body", "price"], {"name": "Foo"})
    embedded = client.post("/embedded", json={"importance": 1}).json()["detail"]
    assert embedded == [{"type": "missing", "loc": ["body", "item"], "msg": "Field required", "input": None}]


def test_form_fields(client: TestClient) -> None:
    assert client.post("/login", data={"username": "ada", "password": "pw"}).json() == {"username": "ada"}
    missing = client.post("/login", data={"username": "ada"}).json()["detail"]
    assert missing == [{"type": "missing", "loc": ["body", "password"], "msg": "Field required", "input": None}]
    # An empty field counts as not sent, as for FastAPI (browsers send every input of a form).
    assert client.post("/login", data={"username": "ada", "password": ""}).status_code == 422
    assert client.post("/tags", data={"tag": ["a", "b"]}).json() == {"tags": ["a", "b"], "note": None}


def test_files_as_bytes_and_as_upload_files(client: TestClient) -> None:
    assert client.post("/bytes", files={"file": ("a.bin", b"\x00" * 1000)}).json() == {"file_size": 1000}
    response = client.post("/upload", files={"file": ("notes.txt", b"hello")}, data={"token": "t"})
    assert response.json() == {"filename": "notes.txt", "content": "hello", "token": "t"}
    many = client.post("/uploads", files=[("files", ("a.txt", b"a")), ("files", ("b.txt", b"b"))])
    assert many.json() == ["a.txt", "b.txt"]
    assert client.post("/optional-file").json() == {"filename": None}
    missing = client.post("/bytes", data={}).json()["detail"]
    assert missing == [{"type": "missing", "loc": ["body", "file"], "msg": "Field required", "input": None}]


def test_oauth2_password_request_forms(client: TestClient) -> None:
    form = {"username": "ada", "password": "pw", "scope": "items:read me"}
    assert client.post("/token", data=form).json() == {
        "username": "ada",
        "scopes": ["items:read", "me"],
        "grant_type": None,
    }
    wrong_grant = client.post("/token", data={**form, "grant_type": "client_credentials"}).json()["detail"][0]
    assert (wrong_grant["type"], wrong_grant["loc"]) == ("string_pattern_mismatch", ["body", "grant_type"])
    assert client.post("/strict-token", data=form).status_code == 422
    assert client.post("/strict-token", data={**form, "grant_type": "password"}).json() == "ada"


def test_form_parameters_on_a_websocket_route_are_refused_when_the_route_is_created() -> None:
    app = FastAPI()
    with pytest.raises(TypeError, match="body"):

        @app.websocket("/ws")
        async def ws(name: Annotated[str, Form()]) -> None:
            return None
