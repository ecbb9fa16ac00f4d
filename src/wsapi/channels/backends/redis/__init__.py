"""Redis backend (redis-py asyncio; Valkey works the same): processes sharing one Redis behave as one app.

The pieces are apart so that other Redis deployments (a cluster) can reuse them: `layout` (key names, Lua scripts,
the pub/sub payload format), `commands` (timeouts, health checks, retries within a deadline), `live` (the pub/sub
connection and its liveness check), `backend` (`RedisBackend`, which puts them together, and presence). On top:
`sentinel` (`RedisSentinelBackend`: a primary found through Redis Sentinel) and `cluster` (`RedisClusterBackend`:
Redis Cluster, with `sharded` pub/sub).
"""

from wsapi.channels.backends.redis.backend import DEFAULT_HISTORY_TTL, RedisBackend
from wsapi.channels.backends.redis.cluster import RedisClusterBackend
from wsapi.channels.backends.redis.sentinel import RedisSentinelBackend

__all__ = ["DEFAULT_HISTORY_TTL", "RedisBackend", "RedisClusterBackend", "RedisSentinelBackend"]
