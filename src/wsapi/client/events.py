"""The client's lifecycle events, given to `Client.on_state` listeners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ClientState = Literal["connecting", "connected", "disconnected", "closed"]


@dataclass(frozen=True, slots=True)
class Connecting:
    attempt: int  # failed attempts since the last connection


@dataclass(frozen=True, slots=True)
class Connected:
    pass


@dataclass(frozen=True, slots=True)
class Disconnected:
    code: int  # the close code; 1006 when there was none (the server vanished, or could not be reached)
    reason: str
    will_retry: bool


@dataclass(frozen=True, slots=True)
class Reconnecting:
    delay: float  # seconds
    attempt: int


@dataclass(frozen=True, slots=True)
class Closed:
    pass


ClientEvent = Connecting | Connected | Disconnected | Reconnecting | Closed
