"""Headless Chromium driven over the DevTools protocol with the `websockets` client: pages run their own JavaScript."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx2
from websockets.asyncio.client import ClientConnection, connect

from tests.channels.support import kill
from tests.servers import free_port

CHROMIUM = "/usr/bin/chromium"


class Browser:
    def __init__(self, profile: Path) -> None:
        self.port = free_port()
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={self.port}"]
        self.proc = subprocess.Popen(
            [CHROMIUM, *flags, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[Any]] = {}
        self._devtools: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        deadline = time.monotonic() + 20
        async with httpx2.AsyncClient() as http:
            while True:
                try:
                    version = (await http.get(f"http://127.0.0.1:{self.port}/json/version")).json()
                    break
                except httpx2.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)
        self._devtools = await connect(version["webSocketDebuggerUrl"], max_size=None, proxy=None)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._devtools is not None:
            await self._devtools.close()
        kill(self.proc)

    async def _read(self) -> None:
        assert self._devtools is not None
        async for raw in self._devtools:
            message = json.loads(raw)
            reply = self._replies.pop(message.get("id", -1), None)
            if reply is not None and not reply.done():
                reply.set_result(message)

    async def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        assert self._devtools is not None
        number = next(self._ids)
        reply = self._replies[number] = asyncio.get_running_loop().create_future()
        command: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session is not None:
            command["sessionId"] = session
        await self._devtools.send(json.dumps(command))
        message = await asyncio.wait_for(reply, 10)
        if "error" in message:
            raise RuntimeError(f"{method}: {message['error']}")
        return message["result"]

    async def open(self, url: str) -> Page:
        target = await self.call("Target.createTarget", {"url": url})
        attached = await self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        return Page(self, attached["sessionId"])


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    async def evaluate(self, expression: str) -> Any:
        result = await self.browser.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session
        )
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 10) -> Any:
        """The value of `expression` once it is truthy."""
        deadline = time.monotonic() + timeout
        while not (value := await self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout} s: {expression}")
            await asyncio.sleep(0.05)
        return value
