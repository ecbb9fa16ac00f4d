"""Fan-out with wsapi's channels: every `/sub` connection subscribes to one channel through its own bounded queue;
each text received on `/pub` is published once. FANOUT_REDIS_URL selects the Redis backend, FANOUT_REDIS_CLUSTER_URL
the Redis Cluster one (default: memory)."""

import os

from benchmarks.apps import UNTRIGGERED_LIMITS
from wsapi import WebSocket, WsAPI
from wsapi.channels import Backend, Channels, ChannelsDep, MemoryBackend, RedisBackend, RedisClusterBackend

url = os.environ.get("FANOUT_REDIS_URL")
cluster = os.environ.get("FANOUT_REDIS_CLUSTER_URL")
backend: Backend = RedisBackend(url) if url else RedisClusterBackend(cluster) if cluster else MemoryBackend()
app = WsAPI(
    limits=UNTRIGGERED_LIMITS, channels=Channels(backend, queue_size=int(os.environ.get("FANOUT_QUEUE_SIZE", "256")))
)


@app.websocket("/sub")
async def sub(websocket: WebSocket, hub: ChannelsDep) -> None:
    await websocket.accept()
    async with hub.subscribe(websocket, "fan"):
        async for _ in websocket.iter_text():
            pass


@app.websocket("/pub")
async def pub(websocket: WebSocket, hub: ChannelsDep) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await hub.publish("fan", text)
