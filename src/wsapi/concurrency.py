"""How a user's callable is called: awaited, run in a thread, or entered as a (sync or async) context manager.

The kind is told as Starlette tells an async callable (a `functools.partial` is looked through, an object is judged
by its `__call__`), and a `functools.wraps` wrapper by what it wraps, as FastAPI does: a sync wrapper that returns
the wrapped coroutine function's coroutine is awaited, not run in a thread.
"""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool, run_until_first_complete

T = TypeVar("T")

# Starlette's helpers too, so that `from fastapi.concurrency import run_in_threadpool` ports by renaming.
__all__ = [
    "CallKind",
    "call_kind",
    "contextmanager_in_threadpool",
    "is_async_callable",
    "iterate_in_threadpool",
    "run_in_threadpool",
    "run_until_first_complete",
    "unwrapped",
]


class CallKind(enum.Enum):
    ASYNC = "async"
    SYNC = "sync"
    ASYNC_GENERATOR = "async generator"
    SYNC_GENERATOR = "sync generator"


def _impartial(call: Any) -> Any:
    while isinstance(call, functools.partial):
        call = call.func
    return call


def unwrapped(call: Any) -> Any:
    """The function behind partials and `functools.wraps` wrappers."""
    return _impartial(inspect.unwrap(_impartial(call)))


def _candidates(call: Any) -> list[Any]:
    """The functions whose kind decides `call`'s, most direct first."""
    call = _impartial(call)
    found = [call, unwrapped(call)]
    if not inspect.isroutine(call):
        dunder = getattr(call, "__call__", None)  # noqa: B004
        if dunder is not None:
            found += [_impartial(dunder), unwrapped(dunder)]
    return found


def call_kind(call: Callable[..., Any]) -> CallKind:
    """Whether calling `call` gives a coroutine, a value, an async generator or a generator."""
    if inspect.isclass(_impartial(call)):
        return CallKind.SYNC  # a class is instantiated, whatever its `__call__` is
    for candidate in _candidates(call):
        if inspect.isasyncgenfunction(candidate):
            return CallKind.ASYNC_GENERATOR
        if inspect.isgeneratorfunction(candidate):
            return CallKind.SYNC_GENERATOR
        if inspect.iscoroutinefunction(candidate):
            return CallKind.ASYNC
    return CallKind.SYNC


def is_async_callable(call: Callable[..., Any]) -> bool:
    return call_kind(call) is CallKind.ASYNC


@asynccontextmanager
async def contextmanager_in_threadpool(cm: AbstractContextManager[T]) -> AsyncIterator[T]:
    """A sync context manager (a generator dependency) entered and exited in worker threads.

    The exit does not queue for the default thread limiter: when every token is held by entries blocked on a
    resource only an exit releases (a connection pool as large as the limiter, say), waiting for one would deadlock.
    It is shielded from cancellation, so a cancelled connection still releases what its dependencies hold.
    """
    value = await run_in_threadpool(cm.__enter__)
    try:
        yield value
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            suppressed = await _exit_in_thread(cm, type(exc), exc, exc.__traceback__)
        if not suppressed:
            raise
    else:
        with anyio.CancelScope(shield=True):
            await _exit_in_thread(cm, None, None, None)


async def _exit_in_thread(cm: AbstractContextManager[Any], *exc_info: Any) -> bool:
    # A limiter of its own: one token, never contended.
    return bool(await anyio.to_thread.run_sync(cm.__exit__, *exc_info, limiter=anyio.CapacityLimiter(1)))
