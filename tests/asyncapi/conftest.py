"""The official AsyncAPI 3.0.0 JSON Schema (vendored), an app that uses every kind of declaration, real servers."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import jsonschema
import pytest
from pydantic import BaseModel, Field
from starlette.routing import Router, WebSocketRoute

from tests.servers import ROOT, uvicorn_server
from wsapi import Cookie, Depends, Header, MessageRouter, Security, WebSocket, WebSocketEndpoint, WsAPI
from wsapi import Path as PathParam
from wsapi.security import APIKeyQuery, HTTPBearer, OAuth2PasswordBearer

SPEC = Path(__file__).parent / "spec" / "asyncapi-3.0.0.json"


@pytest.fixture(scope="session")
def asyncapi_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SPEC.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    # Formats checked too (`uri` through rfc3986-validator): AsyncAPI wants absolute URLs where it says `uri`.
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def schema_errors(validator: jsonschema.Draft7Validator, document: dict[str, Any]) -> list[str]:
    """Where and why `document` breaks the AsyncAPI schema: an empty list for a valid document."""
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


class Say(BaseModel):
    text: str = Field(min_length=1, description="What to say.")


class Said(BaseModel):
    user: str
    text: str


api_key = APIKeyQuery(name="key", description="The room's key.")
bearer = HTTPBearer(bearer_format="JWT")
oauth2 = OAuth2PasswordBearer("token", scopes={"rooms:write": "Post to rooms"})


async def member(key: Annotated[str, Depends(api_key)], x_client: Annotated[str, Header()]) -> str:
    return key


def documented_app() -> WsAPI:
    app = WsAPI(title="Docs test", version="2.1.0", description="Every kind of declaration.")
    chat = MessageRouter()

    @chat.on_connect
    async def join(
        room: Annotated[str, PathParam(description="The room's name.")], user: Annotated[str, Depends(member)]
    ) -> None:
        """Join a room.

        The key must match the room's.
        """

    @chat.on("say")
    async def say(message: Say, token: Annotated[str, Security(oauth2, scopes=["rooms:write"])]) -> Said:
        """Say something to the room."""
        return Said(user=token, text=message.text)

    @chat.on("leave")
    async def leave() -> None:
        """Leave the room.

        Says **goodbye** with `ack`, see [the rooms](https://example.com/rooms):

        - to everyone
        - at once

        <img src=x onerror="window.injected = true"> and [a script](javascript:window.injected=true) stay text.
        """

    @chat.on("said")  # a client message with the same name as a server message
    async def echo(message: Said) -> None: ...

    chat.sends("said", Said, description="Someone said something.")
    app.add_api_websocket_route("/rooms/{room}", chat)

    @app.websocket("/items/{item_id:int}/ws")
    async def items(
        websocket: WebSocket,
        item_id: int,
        q: int | None = None,
        session: Annotated[str | None, Cookie()] = None,
        credentials: Any = Depends(bearer),
    ) -> None:
        """Items, the FastAPI guide's way."""

    class Counter(WebSocketEndpoint):
        encoding = "json"

    app.add_api_websocket_route("/counter", Counter)

    async def plain(websocket: WebSocket) -> None: ...

    app.mount("/legacy", Router(routes=[WebSocketRoute("/ws", plain, name="legacy")]))
    return app


@pytest.fixture(scope="module")
def documented_server() -> Iterator[str]:
    """`documented_app()` in a real uvicorn."""
    with uvicorn_server("tests.asyncapi.conftest:documented_app", app_dir=ROOT, extra_args=("--factory",)) as port:
        yield f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def chat_server() -> Iterator[str]:
    with uvicorn_server("chat:app", app_dir=ROOT / "examples" / "messages") as port:
        yield f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def channels_chat_server() -> Iterator[str]:
    """examples/channels_chat, one process with the memory backend."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("REDIS_URL", raising=False)  # read when the server starts
        with uvicorn_server("app:app", app_dir=ROOT / "examples" / "channels_chat") as port:
            yield f"127.0.0.1:{port}"
