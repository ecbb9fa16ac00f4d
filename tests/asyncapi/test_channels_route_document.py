"""The standard channels route in the AsyncAPI document: its requests, their security, the channel frames."""

import jsonschema

from tests.asyncapi.conftest import schema_errors
from tests.channels.test_channels_route import make_app, member
from wsapi.channels import ChannelsRouter
from wsapi.testclient import TestClient


def test_the_route_is_in_the_asyncapi_document(asyncapi_validator: jsonschema.Draft7Validator) -> None:
    app = make_app(ChannelsRouter(publish=True, presence=member))
    document = TestClient(app).get("/asyncapi.json").json()
    assert schema_errors(asyncapi_validator, document) == []
    operations = document["operations"]
    for type in ("subscribe", "unsubscribe", "presence", "publish"):
        assert operations[f"channels.receive.{type}"]["security"]  # the handshake's token
    frames = {ref["$ref"].rsplit("/", 1)[1] for ref in operations["channels.channels.send"]["messages"]}
    assert frames == {"channels.subscribed", "channels.message", "channels.join", "channels.leave"}
    subscribe = document["components"]["schemas"]["Subscribe"]
    assert set(subscribe["properties"]) == {"channel", "since", "history"}
