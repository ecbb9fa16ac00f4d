"""Reading an HTTP request's body into what the body parameters are extracted from: JSON, or a form as a dict.

Which reader a route uses is decided once, from its plan: any `Form`/`File` parameter makes it a form route.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, get_args

from starlette.datastructures import UploadFile
from starlette.requests import Request

from wsapi.dependencies.models import ParamField
from wsapi.dependencies.solving import NO_BODY
from wsapi.exceptions import HTTPException, RequestValidationError
from wsapi.params import FileParam, FormParam

BodyReader = Callable[[Request, AsyncExitStack], Awaitable[Any]]
PARSE_ERROR = "There was an error parsing the body"


def body_reader(body_fields: list[ParamField], *, strict_content_type: bool = True) -> BodyReader | None:
    """The reader for a route with these body parameters, or None when it takes no body."""
    if not body_fields:
        return None
    if any(isinstance(f.param, FormParam) for f in body_fields):
        return FormReader([_FormField.of(f) for f in body_fields]).read
    return JSONReader(strict_content_type).read


@dataclass(frozen=True)
class JSONReader:
    strict_content_type: bool

    async def read(self, request: Request, stack: AsyncExitStack) -> Any:
        raw = await request.body()
        if not raw:
            return NO_BODY
        content_type = request.headers.get("content-type")
        if not (_is_json(content_type) or (content_type is None and not self.strict_content_type)):
            return raw  # validated as it is: a model parameter then reports what it got
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            error = {
                "type": "json_invalid",
                "loc": ("body", exc.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": exc.msg},
            }
            raise RequestValidationError([error], body=exc.doc) from exc
        except Exception as exc:  # e.g. a body that is not UTF-8, UTF-16 or UTF-32
            raise HTTPException(400, PARSE_ERROR) from exc


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


@dataclass(frozen=True)
class _FormField:
    alias: str
    repeated: bool
    reads_bytes: bool  # a `File()` typed `bytes`: the upload's content, read before validation

    @classmethod
    def of(cls, f: ParamField) -> _FormField:
        return cls(f.alias, f.repeated, isinstance(f.param, FileParam) and _wants_bytes(f))


def _wants_bytes(f: ParamField) -> bool:
    annotation = f.annotation
    members = [annotation, *get_args(annotation)]
    for member in list(members):
        members.extend(get_args(member))
    return bytes in members


@dataclass(frozen=True)
class FormReader:
    fields: list[_FormField]

    async def read(self, request: Request, stack: AsyncExitStack) -> Any:
        try:
            form = await request.form()
        except HTTPException:
            raise
        except Exception as exc:
            raise HTTPException(400, PARSE_ERROR) from exc
        stack.push_async_callback(form.close)
        values: dict[str, Any] = {}
        for f in self.fields:
            # An empty field counts as not sent, as browsers send every input of a form, filled in or not.
            items: list[Any] = [v for v in form.getlist(f.alias) if v != ""]
            if not items:
                continue
            if f.reads_bytes:
                items = [await v.read() if isinstance(v, UploadFile) else v for v in items]
            values[f.alias] = items if f.repeated else items[-1]
        return values
