"""Background work of one hub: every task is owned, its errors are logged and counted, loops restart with backoff.

The hub creates one `Supervisor` and hands it to its backend, so that no part of the channels layer starts a task
nobody watches: a loop that fails (Redis answered `READONLY`, `NOPERM`, `BUSY`, or something unforeseen) is logged,
counted in `errors` under its name, and run again after a jittered, doubling delay, instead of stopping for good.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

logger = logging.getLogger("wsapi.channels")

T = TypeVar("T")

RETRY_MIN = 0.05  # seconds before the first restart of a failed loop
RETRY_MAX = 2.0  # the longest delay between restarts


def backoff(delay: float) -> float:
    """`delay` with jitter (0.5x to 1.5x), so that processes that failed together do not retry in step."""
    return delay * (0.5 + random.random())


class Supervisor:
    """Runs and owns a hub's background tasks; `stop()` cancels whatever is still running and waits for it."""

    def __init__(self) -> None:
        self.errors: Counter[str] = Counter()  # failures per task name, for logs and metrics
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, name: str, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run `coroutine` once in the background; an error is logged and counted (and stays on the task for
        whoever awaits it)."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def keep_running(self, name: str, loop: Callable[[], Awaitable[object]]) -> asyncio.Task[None]:
        """Run `loop()` until it returns; after an error, log and count it and run it again after a backoff."""
        return self.spawn(name, self._restarting(name, loop))

    async def _restarting(self, name: str, loop: Callable[[], Awaitable[object]]) -> None:
        delay = RETRY_MIN
        task = asyncio.current_task()
        assert task is not None
        while True:
            started = time.monotonic()
            try:
                await loop()
                return
            except Exception as exc:
                if task.cancelling():
                    # The library turned our cancellation into an error of its own (redis-py can): stop anyway.
                    raise asyncio.CancelledError from exc
                self.errors[name] += 1
                logger.warning("%s failed (%s: %s); retrying in about %.2f s", name, type(exc).__name__, exc, delay)
            if time.monotonic() - started > 10 * RETRY_MAX:
                delay = RETRY_MIN  # it had been working: this is a new failure, not the same one again
            await asyncio.sleep(backoff(delay))
            delay = min(delay * 2, RETRY_MAX)

    def report(self, name: str, error: BaseException | str) -> None:
        """Count a failure that a loop handled itself; logged the 1st, 2nd, 4th, 8th... time, so a flood of them
        (a client publishing garbage on Redis) cannot flood the log."""
        self.errors[name] += 1
        count = self.errors[name]
        if count & (count - 1) == 0:
            logger.warning("%s: %s (%d so far)", name, error, count)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.errors[task.get_name()] += 1
            logger.warning("%s failed: %s: %s", task.get_name(), type(exc).__name__, exc)

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
