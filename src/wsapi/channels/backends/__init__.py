"""Backends: where messages are numbered, kept as history and carried to every process."""

from wsapi.channels.backends.base import Backend, Receiver, Snapshot
from wsapi.channels.backends.memory import MemoryBackend

__all__ = ["Backend", "MemoryBackend", "Receiver", "Snapshot"]
