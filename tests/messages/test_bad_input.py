"""Bad input gets an error frame and the connection stays open; floods and oversize frames close it with a code."""

import logging
from typing import Any

import pytest

from tests.messages.conftest import Recorder, build_app
from wsapi import WebSocketDisconnect, status
from wsapi.testclient import TestClient, WebSocketTestSession


def still_open(ws: WebSocketTestSession) -> None:
    assert ws.request("echo", {"text": "ok"})["data"] == {"text": "ok"}


def error(frame: dict[str, Any]) -> dict[str, Any]:
    assert frame["type"] == "error", frame
    data: dict[str, Any] = frame["data"]
    return data


def test_text_that_is_not_json(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text("{not json")
        frame = ws.receive_message()
        assert "id" not in frame
        assert error(frame)["code"] == "invalid_json"
        assert error(frame)["errors"][0]["type"] == "json_invalid"
        assert "input" not in error(frame)["errors"][0]  # the frame is not echoed back
        still_open(ws)


@pytest.mark.parametrize("text", ["[1, 2]", '"say"', "3", "null"])
def test_json_that_is_not_an_object(client: TestClient, text: str) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text(text)
        data = error(ws.receive_message())
        assert data["code"] == "invalid_envelope"
        assert data["errors"][0]["type"] == "dict_type"
        still_open(ws)


def test_missing_type_answers_with_the_id(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"id": 5, "data": {}})
        frame = ws.receive_message()
        assert frame["id"] == 5
        assert error(frame)["code"] == "invalid_envelope"
        assert [(e["type"], e["loc"]) for e in error(frame)["errors"]] == [("missing", ["type"])]
        still_open(ws)


@pytest.mark.parametrize("envelope", [{"type": 3}, {"type": "echo", "id": {"n": 1}}, {"type": "echo", "id": True}])
def test_envelope_fields_of_the_wrong_type(client: TestClient, envelope: dict[str, Any]) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json(envelope)
        frame = ws.receive_message()
        assert "id" not in frame  # an id that is not a string or an integer is not echoed
        assert error(frame)["code"] == "invalid_envelope"
        still_open(ws)


def test_unknown_type(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        frame = ws.request("nope", {"x": 1})
        assert error(frame) == {"code": "unknown_type", "message": "Unknown message type 'nope'"}
        still_open(ws)


def test_wrong_field_types_report_pydantic_errors_located_in_data(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        frame = ws.request("echo", {"text": 3, "times": "many"})
        data = error(frame)
        assert data["code"] == "validation_error"
        assert [(e["type"], e["loc"]) for e in data["errors"]] == [
            ("string_type", ["data", "text"]),
            ("int_parsing", ["data", "times"]),
        ]
        still_open(ws)


def test_missing_data(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        data = error(ws.request("echo"))
        assert data["code"] == "validation_error"
        assert data["errors"] == [{"type": "missing", "loc": ["data"], "msg": "Field required"}]


def test_constraints_of_a_plain_message_parameter(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        assert error(ws.request("short", "toolong"))["errors"][0]["type"] == "string_too_long"


def test_a_discriminated_union_names_the_bad_tag(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        errors = error(ws.request("shape", {"kind": "hexagon"}))["errors"]
        assert [(e["type"], e["loc"]) for e in errors] == [("union_tag_invalid", ["data"])]


def test_extra_fields_follow_the_models_config(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        # Echo ignores unknown fields (pydantic's default) ...
        assert ws.request("echo", {"text": "a", "colour": "red"})["data"] == {"text": "a"}
        # ... Strict forbids them.
        errors = error(ws.request("strict", {"name": "a", "colour": "red"}))["errors"]
        assert [(e["type"], e["loc"]) for e in errors] == [("extra_forbidden", ["data", "colour"])]
        still_open(ws)


def test_a_per_message_dependency_with_bad_input(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        data = error(ws.request("token"))
        assert data["code"] == "validation_error"
        assert [(e["type"], e["loc"]) for e in data["errors"]] == [("missing", ["header", "x-token"])]
    with client.websocket_connect("/ws", headers={"x-token": "t"}) as ws:
        assert ws.request("token")["data"] == "t"


def test_a_binary_frame_is_rejected_with_an_error_frame(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_bytes(b'{"type": "echo", "data": {"text": "a"}}')
        assert error(ws.receive_message())["code"] == "unsupported_frame"
        still_open(ws)


def test_a_frame_over_the_size_limit_closes_with_1009() -> None:
    app, _ = build_app(max_message_size=100)
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_message("echo", {"text": "a" * 100})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_message()
    assert closed.value.code == status.WS_1009_MESSAGE_TOO_BIG
    assert closed.value.reason == "Message larger than 100 bytes"


def test_the_size_limit_counts_utf8_bytes_not_characters() -> None:
    app, _ = build_app(max_message_size=100)
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        frame = '{"type": "echo", "data": {"text": "%s"}}'
        ws.send_text(frame % ("a" * (100 - len(frame) + 2)))  # exactly 100 bytes: fine
        assert ws.receive_message()["type"] == "echo.reply"
        ws.send_text(frame % ("é" * 40))  # 75 characters, 115 bytes
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_message()
    assert closed.value.code == status.WS_1009_MESSAGE_TOO_BIG


def test_a_binary_frame_over_the_size_limit_closes_with_1009() -> None:
    app, _ = build_app(max_message_size=100)
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_bytes(b"x" * 101)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_message()
    assert closed.value.code == status.WS_1009_MESSAGE_TOO_BIG


def test_a_flood_of_bad_messages_closes_with_1008(recorder: Recorder, client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:  # max_bad_messages=3
        for bad in ("x", "[]", '{"type": "nope"}'):
            ws.send_text(bad)
            assert ws.receive_message()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_message()
    assert (closed.value.code, closed.value.reason) == (status.WS_1008_POLICY_VIOLATION, "Too many bad messages")
    assert recorder.events[-1] == "disconnect ann"  # the disconnect hook still ran


def test_a_good_message_resets_the_bad_message_count(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        for _ in range(3):
            ws.send_text("x")
            ws.send_text("x")
            assert ws.receive_message()["type"] == "error"
            assert ws.receive_message()["type"] == "error"
            still_open(ws)


def test_a_handler_that_raises_answers_without_internals(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with client.websocket_connect("/ws") as ws, caplog.at_level(logging.ERROR, "wsapi"):
        frame = ws.request("boom")
        assert error(frame) == {"code": "internal_error", "message": "Internal server error"}
        assert "secret" not in str(frame)
        still_open(ws)
    [record] = [r for r in caplog.records if r.exc_info]
    assert isinstance(record.exc_info[1], ValueError)  # type: ignore[index]
    assert "boom" in record.getMessage()


def test_handler_errors_do_not_count_as_bad_messages(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        for _ in range(4):
            assert error(ws.request("boom"))["code"] == "internal_error"
        still_open(ws)


def test_a_message_error_answers_with_its_own_code(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        assert error(ws.request("refuse")) == {"code": "not_allowed", "message": "You may not"}
        still_open(ws)


def test_a_websocket_exception_closes_with_its_code_and_reason(client: TestClient, recorder: Recorder) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_message("kick", id=1)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_message()
    assert (closed.value.code, closed.value.reason) == (4001, "kicked")
    assert recorder.events[-1] == "disconnect ann"


def test_a_yield_dependency_failing_after_the_handler(client: TestClient, recorder: Recorder) -> None:
    with client.websocket_connect("/ws") as ws:
        frame = ws.request("teardown")
        assert error(frame)["code"] == "internal_error"
        # The other yield dependency was torn down all the same, after the handler ran.
        assert recorder.events[-3:] == ["session open", "handler ran", "session closed"]
        still_open(ws)


def test_a_handler_that_closes_the_connection_gets_no_reply_sent(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_message("close", id=1)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_message()
    assert (closed.value.code, closed.value.reason) == (4000, "bye")


def test_an_error_frame_echoes_only_a_short_cut_copy_of_the_input() -> None:
    client = TestClient(build_app(max_message_size=64 * 1024, max_bad_messages=10)[0])
    with client.websocket_connect("/ws") as ws:
        ws.send_message("short", "x" * 10_000, id=1)  # a string over its max_length
        (bad,) = error(ws.receive_message())["errors"]
        assert bad["input"] == "x" * 64 + "..."
        ws.send_message("echo", {"text": ["y" * 100] * 100}, id=2)  # a list where a string belongs
        (bad,) = error(ws.receive_message())["errors"]
        assert len(bad["input"]) == 64 + 3 and bad["input"].startswith('["yyy')
        ws.send_message("echo", {"text": 12}, id=3)  # short inputs are kept as they are
        assert error(ws.receive_message())["errors"][0]["input"] == 12
        still_open(ws)


def test_json_nested_too_deeply_gets_an_error_frame_not_a_crash(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text("[" * 300 + "]" * 300)
        data = error(ws.receive_message())
        assert data["code"] == "invalid_json"
        assert "recursion limit" in data["errors"][0]["msg"]
        still_open(ws)
