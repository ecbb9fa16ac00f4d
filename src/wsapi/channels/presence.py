"""Presence: who is subscribed to a channel, as members with an id and the info the app supplied."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json


@dataclass(frozen=True, slots=True)
class Member:
    """One connection present in a channel. `id` is `<node>.<n>`: the hub (process) it is on, then a counter."""

    id: str
    info: Any

    def to_json(self) -> str:
        return to_json({"id": self.id, "info": self.info}).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> Member:
        value = json.loads(text)
        return cls(value["id"], value["info"])

    @property
    def node(self) -> str:
        return self.id.partition(".")[0]
