"""A typed-message app that records what its handlers and dependencies do, for the tests of this package."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from wsapi import Body, Depends, Header, MessageError, MessageRouter, Query, WebSocket, WebSocketException, WsAPI
from wsapi.testclient import TestClient


class Echo(BaseModel):
    text: str
    times: int = 1


class Echoed(BaseModel):
    text: str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


class Circle(BaseModel):
    kind: Literal["circle"]
    radius: float


class Square(BaseModel):
    kind: Literal["square"]
    side: float


Shape = Annotated[Circle | Square, Field(discriminator="kind")]


class Notice(BaseModel):
    text: str


@dataclass
class Recorder:
    """What ran, in order, and how often the connection-scoped dependency was solved."""

    events: list[str] = field(default_factory=list)
    users_solved: int = 0
    dependencies: dict[str, Callable[..., Any]] = field(default_factory=dict)  # to override in tests


def build_app(
    *, debug: bool = False, max_message_size: int = 1024, max_bad_messages: int = 3
) -> tuple[WsAPI, Recorder]:
    app = WsAPI(debug=debug)
    router = MessageRouter(max_message_size=max_message_size, max_bad_messages=max_bad_messages)
    recorder = Recorder()
    events = recorder.events

    async def current_user(user: Annotated[str, Query()] = "ann") -> str:
        recorder.users_solved += 1
        return user

    async def session() -> AsyncIterator[str]:
        events.append("session open")
        try:
            yield "session"
        finally:
            events.append("session closed")

    async def failing_teardown() -> AsyncIterator[None]:
        yield
        raise RuntimeError("commit failed")

    async def token(x_token: Annotated[str, Header()]) -> str:
        return x_token

    async def room(room: Annotated[str, Body()]) -> str:
        return room

    recorder.dependencies["session"] = session

    @router.on_connect
    async def connect(user: Annotated[str, Depends(current_user)]) -> None:
        if user == "mallory":
            raise WebSocketException(4003, "not you")
        events.append(f"connect {user}")

    @router.on_disconnect
    async def disconnect(user: Annotated[str, Depends(current_user)]) -> None:
        events.append(f"disconnect {user}")

    @router.on("echo")
    async def echo(message: Echo) -> Echoed:
        return Echoed(text=message.text * message.times)

    @router.on("echo_dict")
    async def echo_dict(message: Echo) -> Echoed:
        return {"text": message.text} if message.times else {"wrong": 1}  # type: ignore[return-value]

    @router.on("note")
    async def note(text: str) -> None:
        events.append(f"note {text}")

    @router.on("short")
    async def short(text: Annotated[str, Body(max_length=3)] = "abc") -> str:
        return text

    @router.on("strict")
    async def strict(message: Strict) -> str:
        return message.name

    @router.on("shape")
    async def shape(shape: Shape) -> str:
        return shape.kind

    @router.on("whoami")
    async def whoami(user: Annotated[str, Depends(current_user)], db: Annotated[str, Depends(session)]) -> str:
        events.append(f"handler {db}")
        return user

    @router.on("sync")
    def in_threadpool() -> str:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return "thread pool"
        return "event loop"

    @router.on("socket")
    async def socket(websocket: WebSocket) -> str:
        return websocket.url.path

    @router.on("boom")
    async def boom() -> None:
        raise ValueError("secret internals")

    @router.on("refuse")
    async def refuse() -> None:
        raise MessageError("not_allowed", "You may not")

    @router.on("kick")
    async def kick() -> None:
        raise WebSocketException(4001, "kicked")

    @router.on("teardown")
    async def teardown(db: Annotated[str, Depends(session)], _: Annotated[None, Depends(failing_teardown)]) -> str:
        events.append("handler ran")
        return "done"

    @router.on("token")
    async def needs_token(value: Annotated[str, Depends(token)]) -> str:
        return value

    @router.on("join")
    async def join(data: dict[str, str], name: Annotated[str, Depends(room)]) -> str:
        return name

    @router.on("notify")
    async def notify(websocket: WebSocket, text: str) -> None:
        await router.send(websocket, "notice", {"text": text} if text else {"wrong": 1})

    @router.on("close")
    async def close(websocket: WebSocket) -> str:
        await websocket.close(4000, "bye")
        return "never sent"

    router.sends("notice", Notice, description="Something happened.")
    app.add_api_websocket_route("/ws", router)
    return app, recorder


@pytest.fixture
def recorded() -> tuple[WsAPI, Recorder]:
    return build_app()


@pytest.fixture
def client(recorded: tuple[WsAPI, Recorder]) -> Iterator[TestClient]:
    with TestClient(recorded[0]) as test_client:
        yield test_client


@pytest.fixture
def recorder(recorded: tuple[WsAPI, Recorder]) -> Recorder:
    return recorded[1]
