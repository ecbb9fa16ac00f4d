"""The wire format of typed messages: one JSON object per text frame, in a small envelope.

    {"type": "say", "id": 7, "data": {...}}          client to server: `type` names the handler; `id` is optional
    {"type": "say.reply", "id": 7, "data": {...}}    the handler's return value, with the request's id
    {"type": "ack", "id": 7}                         the handler returned nothing and the request had an id
    {"type": "error", "id": 7, "data": {...}}        `ErrorData`: what was wrong with the request
    {"type": "said", "data": {...}}                  a declared server message, pushed with `MessageRouter.send`

An `id` is a JSON string or integer chosen by the client; it comes back unchanged on the one reply, ack or error the
request gets. Envelope keys other than these three are ignored.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any, NotRequired

from pydantic import BaseModel, Field, StrictInt, StrictStr, TypeAdapter
from pydantic_core import to_json
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

MessageId = StrictInt | StrictStr

REPLY_SUFFIX = ".reply"
MAX_ECHO = 64  # characters of an offending input an error frame repeats
ACK = "ack"
ERROR = "error"


class Envelope(TypedDict):
    type: StrictStr
    id: NotRequired[MessageId | None]
    data: NotRequired[Any]


ENVELOPE: TypeAdapter[Envelope] = TypeAdapter(Envelope)


class ErrorCode(enum.StrEnum):
    """The `code` of the error frames wsapi sends on its own."""

    INVALID_JSON = "invalid_json"  # the frame is not JSON
    INVALID_ENVELOPE = "invalid_envelope"  # JSON, but not an object with a string `type` and a string/integer `id`
    UNKNOWN_TYPE = "unknown_type"  # no handler for this `type`
    VALIDATION_ERROR = "validation_error"  # `data` (or a per-message dependency's input) failed validation
    UNSUPPORTED_FRAME = "unsupported_frame"  # a binary frame
    RATE_LIMITED = "rate_limited"  # over the route's or the type's rate limit: not handled; `retry_after` says when
    INTERNAL_ERROR = "internal_error"  # the handler raised; details are in the server log only


class ErrorData(BaseModel):
    """The `data` of an error frame."""

    code: str = Field(
        description="One of wsapi's codes (invalid_json, invalid_envelope, unknown_type, "
        "validation_error, unsupported_frame, rate_limited, internal_error) or one a handler raised with MessageError."
    )
    message: str = Field(description="A human-readable summary.")
    errors: list[dict[str, Any]] | None = Field(
        default=None,
        description="Validation errors as pydantic reports them; `loc` starts at the envelope key; an `input` "
        f"longer than {MAX_ECHO} characters is cut.",
    )
    retry_after: float | None = Field(
        default=None, description="With `rate_limited`: seconds until a message of this type would be handled."
    )


class MessageError(Exception):
    """Raised by a handler to answer the request with an error frame of its own `code`; the connection stays open."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


def type_prefix(type: str) -> bytes:
    """The start of every frame of one type, encoded once."""
    return b'{"type":' + to_json(type)


def encode(prefix: bytes, id: Any, data: bytes | None) -> str:
    """A frame from its pre-encoded type, the request's id (if any) and the JSON of its data (if any)."""
    if id is not None:
        prefix += b',"id":' + to_json(id)
    if data is not None:
        prefix += b',"data":' + data
    return (prefix + b"}").decode()


ACK_PREFIX = type_prefix(ACK)
ERROR_PREFIX = type_prefix(ERROR)


def encode_error(
    id: Any, code: str, message: str, errors: Sequence[Any] | None = None, retry_after: float | None = None
) -> str:
    data: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        data["errors"] = errors
    if retry_after is not None:
        data["retry_after"] = round(retry_after, 3)
    # `fallback=str`: pydantic puts the exception object of a failed custom validator into an error's `ctx`.
    return encode(ERROR_PREFIX, id, to_json(data, fallback=str))


def salvage_id(text: str) -> Any:
    """The `id` of a frame that failed envelope validation, if it has a usable one (the error frame carries it)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    candidate = value.get("id") if isinstance(value, dict) else None
    valid = isinstance(candidate, int | str) and not isinstance(candidate, bool)
    return candidate if valid else None


def cut_inputs(errors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors whose `input` is at most `MAX_ECHO` characters (of JSON, for a non-string), cut beyond."""
    return [{**error, "input": _short(error["input"])} if "input" in error else error for error in errors]


def _short(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_ECHO else value[:MAX_ECHO] + "..."
    if value is None or isinstance(value, bool | float):
        return value
    text = to_json(value, fallback=str).decode()
    if len(text) <= MAX_ECHO:
        return value
    return text[:MAX_ECHO] + "..."
