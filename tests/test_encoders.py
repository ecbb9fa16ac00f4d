"""`jsonable_encoder`: FastAPI's conversions, for data handed to `json.dumps`, a database or a response."""

import dataclasses
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePosixPath
from uuid import UUID

import pytest
from pydantic import BaseModel, Field, SecretStr

from wsapi.encoders import jsonable_encoder


class Colour(Enum):
    RED = "red"


class Pet(BaseModel):
    pet_name: str = Field(alias="petName")
    born: date
    colour: Colour = Colour.RED
    owner: str | None = None


@dataclasses.dataclass
class Box:
    pets: list[Pet]
    labels: set[str]


def test_models_dataclasses_and_containers_become_json_data() -> None:
    pet = Pet(petName="Rex", born=date(2020, 1, 2))
    encoded = jsonable_encoder(Box(pets=[pet], labels={"a"}))
    assert encoded == {
        "pets": [{"petName": "Rex", "born": "2020-01-02", "colour": "red", "owner": None}],
        "labels": ["a"],
    }
    json.dumps(encoded)  # really JSON-compatible
    assert jsonable_encoder(pet, by_alias=False, exclude_none=True) == {
        "pet_name": "Rex",
        "born": "2020-01-02",
        "colour": "red",
    }
    assert jsonable_encoder(pet, include={"born"}) == {"born": "2020-01-02"}
    assert jsonable_encoder(pet, exclude_unset=True) == {"petName": "Rex", "born": "2020-01-02"}
    assert jsonable_encoder({"a": 1, "b": None, "_sa_instance_state": "orm"}, exclude_none=True) == {"a": 1}


def test_scalar_conversions_match_fastapis() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    values = [when, time(1, 2), timedelta(minutes=1, seconds=30), Decimal("1.5"), Decimal("2"), b"raw"]
    values += [UUID(int=1), PurePosixPath("/tmp/x"), SecretStr("hidden"), frozenset({1}), (1, 2), Colour.RED]
    assert jsonable_encoder(values) == [
        "2024-05-06T07:08:09+00:00",
        "01:02:00",
        90.0,
        1.5,
        2,
        "raw",
        "00000000-0000-0000-0000-000000000001",
        "/tmp/x",
        "**********",
        [1],
        [1, 2],
        "red",
    ]


def test_custom_encoders_and_objects_with_attributes() -> None:
    class Point:
        def __init__(self) -> None:
            self.x = 1
            self.y = complex(1, 2)

    encoded = jsonable_encoder(Point(), custom_encoder={complex: lambda c: [c.real, c.imag]})
    assert encoded == {"x": 1, "y": [1.0, 2.0]}
    with pytest.raises(ValueError, match="cannot encode object"):
        jsonable_encoder(object())
