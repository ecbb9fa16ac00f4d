"""Routes that take the channels hub: the document lists the frames the hub sends them, as they really are."""

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import jsonschema
import pytest

from tests.asyncapi.conftest import schema_errors
from wsapi import Depends, MessageRouter, WebSocket, WsAPI
from wsapi.channels import Channels, ChannelsDep, Subscription
from wsapi.testclient import TestClient

FRAMES = {
    "channels.subscribed": "SubscribedFrame",
    "channels.message": "MessageFrame",
    "channels.join": "JoinFrame",
    "channels.leave": "LeaveFrame",
}


def channels_app() -> WsAPI:
    app = WsAPI(title="Channels", channels=Channels())

    @app.websocket("/rooms/{room}")
    async def room(websocket: WebSocket, room: str, hub: ChannelsDep, name: str) -> None:
        """Everything said in a room, and who comes and goes."""
        await websocket.accept()
        async with hub.subscribe(websocket, room, presence={"name": name}):
            async for text in websocket.iter_text():
                await hub.publish(room, {"from": name, "text": text})

    async def subscribed(websocket: WebSocket, hub: ChannelsDep) -> AsyncIterator[Subscription]:
        await websocket.accept()
        async with hub.subscribe(websocket, "news") as subscription:
            yield subscription

    news = MessageRouter()

    @news.on_connect
    async def connect(subscription: Annotated[Subscription, Depends(subscribed)]) -> None:
        """The news, as they come."""

    @news.on("message")  # a client message with the name of a channel frame
    async def message(text: str, hub: ChannelsDep) -> None:
        await hub.publish("news", text)

    app.add_api_websocket_route("/news", news)

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())

    quiet = MessageRouter()

    @quiet.on("ping")
    async def ping() -> None: ...

    app.add_api_websocket_route("/quiet", quiet)
    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(channels_app()) as client:
        yield client


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/asyncapi.json").json()
    return body


def test_the_document_is_valid_asyncapi_3(
    document: dict[str, Any], asyncapi_validator: jsonschema.Draft7Validator
) -> None:
    assert schema_errors(asyncapi_validator, document) == []


@pytest.mark.parametrize("channel_id", ["room", "news"])
def test_a_route_that_takes_the_hub_sends_the_channel_frames(document: dict[str, Any], channel_id: str) -> None:
    messages = document["channels"][channel_id]["messages"]
    assert {key: messages[key] for key in FRAMES} == {key: {"$ref": f"#/components/messages/{key}"} for key in FRAMES}
    operation = document["operations"][f"{channel_id}.channels.send"]
    assert operation["action"] == "send"
    assert operation["channel"] == {"$ref": f"#/channels/{channel_id}"}
    assert operation["messages"] == [{"$ref": f"#/channels/{channel_id}/messages/{key}"} for key in FRAMES]
    assert operation["summary"] == "The frames of the channels the connection is subscribed to."
    for code in ("- 1008:", "- 1013:", "- 1012:"):
        assert code in operation["description"]


def test_a_routers_own_messages_stay_beside_the_frames(document: dict[str, Any]) -> None:
    news = document["channels"]["news"]
    assert news["summary"] == "The news, as they come."
    assert news["messages"]["message"]["name"] == "message"  # the client's, with its envelope
    assert news["messages"]["message"]["payload"]["properties"]["data"] == {"type": "string"}
    assert document["operations"]["news.receive.message"]["messages"] == [{"$ref": "#/channels/news/messages/message"}]


def test_routes_without_the_hub_send_no_channel_frames(document: dict[str, Any]) -> None:
    assert "messages" not in document["channels"]["echo"]
    assert not set(FRAMES) & set(document["channels"]["quiet"]["messages"])
    assert {key for key in document["operations"] if key.endswith(".channels.send")} == {
        "room.channels.send",
        "news.channels.send",
    }
    app = WsAPI()
    app.add_api_websocket_route("/quiet", MessageRouter())
    assert not set(FRAMES) & set(app.asyncapi()["components"]["messages"])


def test_the_frames_are_described_once_with_their_fields(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    schemas = document["components"]["schemas"]
    for key, model in FRAMES.items():
        assert messages[key]["name"] == key.removeprefix("channels.")
        assert messages[key]["payload"] == {"$ref": f"#/components/schemas/{model}"}
        assert schemas[model]["properties"]["type"]["const"] == messages[key]["name"]
    assert messages["channels.subscribed"]["summary"].startswith("The messages that follow on `channel`")
    assert set(schemas["SubscribedFrame"]["required"]) == {"type", "channel", "epoch", "offset", "recovered"}
    assert set(schemas["MessageFrame"]["required"]) == {"type", "channel", "epoch", "offset", "data"}
    assert schemas["MessageFrame"]["properties"]["data"] == {
        "description": "What was published, as JSON.",
        "title": "Data",
    }
    assert schemas["JoinFrame"]["properties"]["client"]["$ref"] == "#/components/schemas/Member"
    assert set(schemas["Member"]["required"]) == {"id", "info"}


def test_the_frames_a_route_receives_match_the_document(client: TestClient, document: dict[str, Any]) -> None:
    def check(frame: dict[str, Any]) -> None:
        key = f"channels.{frame['type']}"
        schema = document["components"]["schemas"][FRAMES[key]]
        jsonschema.validate(frame, {**schema, "components": document["components"]})
        assert set(frame) == set(schema["properties"])

    with client.websocket_connect("/rooms/lobby?name=ada") as ada:
        with client.websocket_connect("/rooms/lobby?name=bob") as bob:
            bob.send_text("hi")
            frames = [ada.receive_json() for _ in range(4)]
        frames.append(ada.receive_json())
    assert [frame["type"] for frame in frames] == ["subscribed", "join", "join", "message", "leave"]
    with client.websocket_connect("/news") as reader:
        frames.append(reader.receive_json())
        reader.send_json({"type": "message", "id": 1, "data": "extra!"})
        answers = [reader.receive_json(), reader.receive_json()]  # the ack and the channel's message, in any order
    assert sorted(frame["type"] for frame in answers) == ["ack", "message"]
    frames += [frame for frame in answers if frame["type"] != "ack"]
    for frame in frames:
        check(frame)
