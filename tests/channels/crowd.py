"""Clients in a process of their own, for tests that need the load and the readers apart from the test process.

python -m tests.channels.crowd read URL CONNECTIONS MESSAGES   # read at full speed; print what each received
python -m tests.channels.crowd flood URL MESSAGES              # send MESSAGES texts in one burst, read on
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
import threading
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

DEADLINE = 60.0  # seconds any mode runs at most


async def read(url: str, connections: int, messages: int) -> None:
    clients = [await connect(url, compression=None, proxy=None, max_size=None) for _ in range(connections)]
    for ws in clients:
        json.loads(await ws.recv())  # subscribed
    print("ready", flush=True)

    async def one(ws: ClientConnection) -> dict[str, Any]:
        offsets: list[int] = []
        try:
            while len(offsets) < messages:
                frame = json.loads(await ws.recv())
                if frame["type"] == "message":
                    offsets.append(frame["offset"])
        except ConnectionClosed as closed:
            return {"offsets": offsets, "closed": closed.rcvd.code if closed.rcvd else None}
        await ws.close()
        return {"offsets": offsets, "closed": None}

    results = await asyncio.wait_for(asyncio.gather(*(one(ws) for ws in clients)), DEADLINE)
    print(json.dumps(results), flush=True)


def flood(port: int, path: str, messages: int) -> None:
    """Write `messages` frames in one `sendall` (so the server reads hundreds per TCP read) from a raw socket that
    reads everything it is sent at full speed, in a thread, until the process is killed."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    threading.Thread(target=_discard, args=(sock,), daemon=True).start()
    time.sleep(0.5)  # subscribed
    sock.sendall(b"".join(_masked_text(json.dumps({"n": n}).encode()) for n in range(messages)))
    print("sent", flush=True)
    time.sleep(DEADLINE)


def _discard(sock: socket.socket) -> None:
    while sock.recv(1 << 16):
        pass


def _masked_text(payload: bytes) -> bytes:
    assert len(payload) < 126
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


if __name__ == "__main__":
    mode, url, *counts = sys.argv[1:]
    if mode == "read":
        asyncio.run(read(url, int(counts[0]), int(counts[1])))
    else:
        flood(int(url.rsplit(":", 1)[1].split("/")[0]), "/" + url.split("/", 3)[3], int(counts[0]))
