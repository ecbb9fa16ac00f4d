"""`jsonable_encoder`: any value an endpoint returns, as plain JSON data (dicts, lists, str, int, float, bool, None).

Pydantic models are dumped by pydantic (`mode="json"`, so their own serializers apply); dataclasses, mappings and
sequences are walked; other types go through `ENCODERS`. The choices match FastAPI's: a `timedelta` is its seconds as
a float, a `Decimal` an int when it has no fractional part and a float otherwise, bytes are decoded as UTF-8.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
from pathlib import PurePath
from re import Pattern
from types import GeneratorType
from typing import Any
from uuid import UUID

from pydantic import AnyUrl, BaseModel, NameEmail, SecretBytes, SecretStr
from pydantic_core import PydanticUndefinedType, Url

IncEx = set[int] | set[str] | Mapping[int, Any] | Mapping[str, Any]


def _decimal(value: Decimal) -> int | float:
    exponent = value.as_tuple().exponent
    return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)


def _isoformat(value: datetime.date | datetime.time) -> str:
    return value.isoformat()


# Looked up by exact type first, then by isinstance in this order (Enum subclasses that are also str land here).
ENCODERS: dict[type[Any], Callable[[Any], Any]] = {
    bytes: lambda value: value.decode(),
    datetime.datetime: _isoformat,
    datetime.date: _isoformat,
    datetime.time: _isoformat,
    datetime.timedelta: lambda value: value.total_seconds(),
    Decimal: _decimal,
    Enum: lambda value: value.value,
    IPv4Address: str,
    IPv4Interface: str,
    IPv4Network: str,
    IPv6Address: str,
    IPv6Interface: str,
    IPv6Network: str,
    NameEmail: str,
    PurePath: str,
    Pattern: lambda value: value.pattern,
    SecretBytes: str,
    SecretStr: str,
    UUID: str,
    Url: str,
    AnyUrl: str,
}

_SEQUENCES = (list, set, frozenset, GeneratorType, tuple, deque)


def jsonable_encoder(
    obj: Any,
    include: IncEx | None = None,
    exclude: IncEx | None = None,
    by_alias: bool = True,
    exclude_unset: bool = False,
    exclude_defaults: bool = False,
    exclude_none: bool = False,
    custom_encoder: dict[Any, Callable[[Any], Any]] | None = None,
    sqlalchemy_safe: bool = True,
) -> Any:
    """`obj` as JSON-compatible data; `include`/`exclude` select the top level's fields or keys."""
    encoder = _Encoder(by_alias, exclude_unset, exclude_defaults, exclude_none, custom_encoder or {}, sqlalchemy_safe)
    return encoder(obj, include, exclude)


@dataclasses.dataclass(frozen=True)
class _Encoder:
    by_alias: bool
    exclude_unset: bool
    exclude_defaults: bool
    exclude_none: bool
    custom_encoder: dict[Any, Callable[[Any], Any]]
    sqlalchemy_safe: bool

    def __call__(self, obj: Any, include: IncEx | None = None, exclude: IncEx | None = None) -> Any:
        if self.custom_encoder:
            encoder = self._custom(obj)
            if encoder is not None:
                return encoder(obj)
        if isinstance(obj, BaseModel):
            data = obj.model_dump(
                mode="json",
                include=include,
                exclude=exclude,
                by_alias=self.by_alias,
                exclude_unset=self.exclude_unset,
                exclude_defaults=self.exclude_defaults,
                exclude_none=self.exclude_none,
            )
            return self(data)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return self(dataclasses.asdict(obj), include, exclude)
        if isinstance(obj, Enum):
            return obj.value
        if isinstance(obj, PurePath):
            return str(obj)
        if obj is None or isinstance(obj, str | int | float):
            return obj
        if isinstance(obj, PydanticUndefinedType):
            return None
        if isinstance(obj, dict):
            return self._mapping(obj, include, exclude)
        if isinstance(obj, _SEQUENCES):
            return [self(item) for item in obj]
        encoder = ENCODERS.get(type(obj)) or next((e for t, e in ENCODERS.items() if isinstance(obj, t)), None)
        if encoder is not None:
            return encoder(obj)
        try:
            data = dict(obj)
        except Exception as dict_error:
            try:
                data = vars(obj)
            except Exception as vars_error:
                raise ValueError(f"cannot encode {type(obj).__name__} as JSON: {dict_error}; {vars_error}") from None
        return self(data, include, exclude)

    def _custom(self, obj: Any) -> Callable[[Any], Any] | None:
        if type(obj) in self.custom_encoder:
            return self.custom_encoder[type(obj)]
        return next((e for t, e in self.custom_encoder.items() if isinstance(obj, t)), None)

    def _mapping(self, obj: dict[Any, Any], include: IncEx | None, exclude: IncEx | None) -> dict[Any, Any]:
        keys = set(obj) if include is None else set(include)
        if exclude is not None:
            keys -= set(exclude)
        encoded = {}
        for key, value in obj.items():
            if key not in keys:
                continue
            if self.sqlalchemy_safe and isinstance(key, str) and key.startswith("_sa"):
                continue
            if value is None and self.exclude_none:
                continue
            encoded[self(key)] = self(value)
        return encoded
