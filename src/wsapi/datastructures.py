"""Request data structures: uploaded files, forms, headers, query parameters (Starlette's)."""

from __future__ import annotations

from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema
from starlette.datastructures import URL, Address, FormData, Headers, QueryParams, State
from starlette.datastructures import UploadFile as StarletteUploadFile

__all__ = ["URL", "Address", "FormData", "Headers", "QueryParams", "State", "UploadFile"]


class UploadFile(StarletteUploadFile):
    """A file uploaded in a `multipart/form-data` body; usable as a parameter's type (`file: UploadFile`)."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(cls._validate)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "contentMediaType": "application/octet-stream"}

    @classmethod
    def _validate(cls, value: Any) -> StarletteUploadFile:
        if not isinstance(value, StarletteUploadFile):
            raise ValueError(f"Expected UploadFile, received: {type(value)}")
        return value
