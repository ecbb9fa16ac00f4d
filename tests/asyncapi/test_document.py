"""The AsyncAPI document: valid against the official 3.0.0 schema, and saying what the routes really do."""

import copy
from typing import Any

import jsonschema
import pytest

from tests.asyncapi.conftest import documented_app, schema_errors
from wsapi import Depends, MessageRouter, WebSocket, WsAPI
from wsapi.security import OAuth2PasswordBearer
from wsapi.testclient import TestClient


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    with TestClient(documented_app(), base_url="http://docs.example:8080") as client:
        response = client.get("/asyncapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_the_document_is_valid_asyncapi_3(
    document: dict[str, Any], asyncapi_validator: jsonschema.Draft7Validator
) -> None:
    assert schema_errors(asyncapi_validator, document) == []


def test_the_validator_does_reject_a_broken_document(
    document: dict[str, Any], asyncapi_validator: jsonschema.Draft7Validator
) -> None:
    broken = copy.deepcopy(document)
    broken["operations"]["rooms_room.receive.say"]["action"] = "publish"  # AsyncAPI 2's word
    del broken["channels"]["items"]["bindings"]["ws"]["query"]["type"]  # still a schema: must stay valid
    broken["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] = "token"
    errors = list(asyncapi_validator.iter_errors(broken))
    assert [list(e.absolute_path) for e in errors] == [
        ["operations", "rooms_room.receive.say"],
        ["components", "securitySchemes", "OAuth2PasswordBearer"],  # not an absolute URL
    ]


def test_info_and_the_server_the_request_came_in_on(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["info"] == {"title": "Docs test", "version": "2.1.0", "description": "Every kind of declaration."}
    assert document["servers"] == {"default": {"host": "docs.example:8080", "protocol": "ws"}}


def test_every_websocket_route_is_a_channel(document: dict[str, Any]) -> None:
    addresses = {key: channel["address"] for key, channel in document["channels"].items()}
    assert addresses == {
        "rooms_room": "/rooms/{room}",
        "items": "/items/{item_id}/ws",
        "Counter": "/counter",
        "legacy": "/legacy/ws",
    }


def test_handshake_parameters_come_from_the_dependencies(document: dict[str, Any]) -> None:
    rooms = document["channels"]["rooms_room"]
    assert rooms["parameters"] == {"room": {"description": "The room's name."}}
    assert rooms["bindings"]["ws"]["headers"] == {
        "type": "object",
        "properties": {"x-client": {"type": "string"}},
        "required": ["x-client"],
    }
    items = document["channels"]["items"]
    assert items["parameters"] == {"item_id": {}}
    ws = items["bindings"]["ws"]
    assert ws["method"] == "GET" and ws["bindingVersion"] == "0.1.0"
    assert ws["query"]["properties"]["q"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert "required" not in ws["query"]
    assert ws["x-cookies"]["properties"]["session"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert document["channels"]["legacy"]["bindings"]["ws"] == {"method": "GET", "bindingVersion": "0.1.0"}


def test_security_schemes_in_asyncapi_terms(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["APIKeyQuery"] == {
        "type": "httpApiKey",
        "in": "query",
        "name": "key",
        "description": "The room's key.",
    }
    assert schemes["HTTPBearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["OAuth2PasswordBearer"]["flows"] == {
        "password": {"tokenUrl": "http://docs.example:8080/token", "availableScopes": {"rooms:write": "Post to rooms"}}
    }
    say = document["operations"]["rooms_room.receive.say"]
    assert say["security"] == [
        {"$ref": "#/components/securitySchemes/APIKeyQuery"},  # from the connect hook: every operation
        {**schemes["OAuth2PasswordBearer"], "scopes": ["rooms:write"]},  # the handler's own, with its scopes
    ]
    assert document["operations"]["rooms_room.receive.leave"]["security"] == [
        {"$ref": "#/components/securitySchemes/APIKeyQuery"}
    ]
    assert document["operations"]["items.receive"]["security"] == [{"$ref": "#/components/securitySchemes/HTTPBearer"}]


def test_oauth2_urls_are_made_absolute_against_the_server_the_request_came_in_on(
    asyncapi_validator: jsonschema.Draft7Validator,
) -> None:
    app = WsAPI()
    given = {"relative": "token", "rooted": "/auth/token", "absolute": "https://login.example/token"}
    schemes = [OAuth2PasswordBearer(url, scheme_name=name) for name, url in given.items()]

    @app.websocket("/ws")
    async def ws(
        websocket: WebSocket, a: Any = Depends(schemes[0]), b: Any = Depends(schemes[1]), c: Any = Depends(schemes[2])
    ) -> None: ...

    assert app.asyncapi()["components"]["securitySchemes"]["relative"]["flows"]["password"]["tokenUrl"] == "token"
    with TestClient(app, base_url="https://docs.example", root_path="/proxy") as client:
        document = client.get("/asyncapi.json").json()
    assert asyncapi_validator.is_valid(document)
    resolved = {
        name: s["flows"]["password"]["tokenUrl"] for name, s in document["components"]["securitySchemes"].items()
    }
    assert resolved == {
        "relative": "https://docs.example/proxy/token",  # relative to the app's root, behind the proxy's prefix
        "rooted": "https://docs.example/auth/token",
        "absolute": "https://login.example/token",
    }
    assert app.asyncapi()["components"]["securitySchemes"]["relative"]["flows"]["password"]["tokenUrl"] == "token"


def test_a_plain_route_has_one_receive_operation_without_messages(document: dict[str, Any]) -> None:
    assert document["operations"]["items.receive"]["summary"] == "Items, the FastAPI guide's way."
    legacy = document["operations"]["legacy.receive"]
    assert legacy == {
        "action": "receive",
        "channel": {"$ref": "#/channels/legacy"},
        "summary": "The frames this route receives are not declared.",
    }
    assert "messages" not in document["channels"]["legacy"]
    # A WebSocketEndpoint class without a docstring does not borrow its base class's.
    assert document["operations"]["Counter.receive"]["summary"] == "The frames this route receives are not declared."


def test_handlers_are_receive_operations_with_their_reply(document: dict[str, Any]) -> None:
    operations = document["operations"]
    messages = "#/channels/rooms_room/messages/"
    say = operations["rooms_room.receive.say"]
    assert say["action"] == "receive"
    assert say["summary"] == "Say something to the room."
    assert say["messages"] == [{"$ref": messages + "say"}]
    assert say["reply"]["messages"] == [{"$ref": messages + "say.reply"}, {"$ref": messages + "error"}]
    leave = operations["rooms_room.receive.leave"]
    assert leave["reply"]["messages"] == [{"$ref": messages + "ack"}, {"$ref": messages + "error"}]
    assert operations["rooms_room.send.said.server"] == {
        "action": "send",
        "channel": {"$ref": "#/channels/rooms_room"},
        "messages": [{"$ref": messages + "said.server"}],
    }


def test_message_payloads_are_whole_envelopes(document: dict[str, Any]) -> None:
    channel = document["channels"]["rooms_room"]
    say = channel["messages"]["say"]
    assert say["name"] == "say"
    assert say["correlationId"] == {"location": "$message.payload#/id"}
    assert say["payload"]["properties"]["type"] == {"const": "say"}
    assert say["payload"]["properties"]["data"] == {"$ref": "#/components/schemas/Say"}
    assert say["payload"]["required"] == ["type", "data"]
    assert channel["messages"]["leave"]["payload"]["required"] == ["type"]
    reply = channel["messages"]["say.reply"]
    assert reply["payload"]["properties"]["data"] == {"$ref": "#/components/schemas/Said"}
    pushed = channel["messages"]["said.server"]
    assert pushed["name"] == "said"  # the wire type; the key only avoids the client message of that name
    assert "id" not in pushed["payload"]["properties"]
    assert channel["messages"]["error"] == {"$ref": "#/components/messages/error"}
    schemas = document["components"]["schemas"]
    assert schemas["Say"]["properties"]["text"]["description"] == "What to say."
    assert set(schemas["ErrorData"]["properties"]) == {"code", "message", "errors", "retry_after"}


def test_discriminated_unions_use_asyncapis_discriminator(asyncapi_validator: jsonschema.Draft7Validator) -> None:
    from tests.messages.conftest import build_app

    app, _ = build_app()
    document = app.asyncapi()
    assert asyncapi_validator.is_valid(document)
    shape = document["channels"]["ws"]["messages"]["shape"]["payload"]["properties"]["data"]
    assert shape["discriminator"] == "kind"


def test_the_document_is_built_once() -> None:
    app = WsAPI()
    assert app.asyncapi() is app.asyncapi()


def test_the_urls_can_be_moved_or_turned_off() -> None:
    app = WsAPI(asyncapi_url="/docs/ws.json", asyncapi_docs_url=None)
    app.add_api_websocket_route("/ws", MessageRouter())
    with TestClient(app) as client:
        assert client.get("/docs/ws.json").json()["channels"]["ws"]["address"] == "/ws"
        assert client.get("/asyncapi").status_code == 404
    with TestClient(WsAPI(asyncapi_url=None)) as client:
        assert client.get("/asyncapi.json").status_code == 404
        assert client.get("/asyncapi").status_code == 404


def test_the_docs_page_is_served_with_the_apps_title() -> None:
    with TestClient(WsAPI(title="<Chat & co>"), root_path="/proxy") as client:
        response = client.get("/asyncapi")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>&lt;Chat &amp; co&gt; - WebSocket API</title>" in response.text
    assert '{"url": "/proxy/asyncapi.json", "root": "/proxy"}' in response.text
    assert '<a href="/proxy/docs">Swagger UI</a>' in response.text  # the links bar, under the prefix too


def test_a_typed_route_documents_its_close_codes_after_the_connect_hooks_description(
    document: dict[str, Any],
) -> None:
    rooms = document["channels"]["rooms_room"]
    assert rooms["summary"] == "Join a room."
    first, limits = rooms["description"].split("\n\n")
    assert first == "The key must match the room's."
    assert "1008 after 10 bad messages in a row" in limits
    assert f"1009 for a frame over {1024 * 1024} bytes" in limits
    assert "over a rate limit per connection (all messages the app's limit)" in limits
    assert "description" not in document["channels"]["items"]  # a plain route has no such limits
