"""Real parts for the channels tests: a redis-server and uvicorn processes on free loopback ports, killed by PID."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.servers import free_port, wait_for_port
from wsapi.channels import Backend

HERE = Path(__file__).parent
REDIS_SERVER = "/usr/bin/redis-server"

MakeBackend = Callable[..., Backend]


def kill(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class RedisServer:
    """A real redis-server on a free loopback port; `persistent` keeps data across a kill (AOF, fsync always)."""

    def __init__(self, directory: Path, persistent: bool = False) -> None:
        self.port = free_port()
        self.directory = directory
        self.persistent = persistent
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        durability = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *durability]
        args += ["--dir", str(self.directory), "--enable-debug-command", "local"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    def kill(self) -> None:
        kill(self.proc)
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the process keeps its sockets (the kernel still accepts connections) and answers nothing."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)


class DroppingProxy:
    """A loopback TCP proxy in front of Redis that, once armed with a marker, loses the reply to the first command
    containing it: it closes both sides instead of forwarding that reply (a connection cut right after Redis
    answered)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.marker: bytes | None = None
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def __aenter__(self) -> DroppingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        armed = asyncio.Event()

        async def upstream() -> None:
            while data := await client_reader.read(65536):
                if self.marker is not None and self.marker in data:
                    self.marker = None
                    armed.set()
                server_writer.write(data)
                await server_writer.drain()

        async def downstream() -> None:
            while data := await server_reader.read(65536):
                if armed.is_set():
                    self.dropped += 1
                    break  # the reply is lost with the connection
                client_writer.write(data)
                await client_writer.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except OSError:
            pass
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_writer, server_writer):
                writer.close()


class ServerProcess:
    """A real uvicorn process on a free port (by default serving tests/channels/channels_app.py); `kill()` by PID."""

    def __init__(
        self,
        env: dict[str, str],
        app: str = "channels_app:app",
        app_dir: Path = HERE,
        port: int | None = None,
        options: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        args = ["--app-dir", str(app_dir), app, "--host", "127.0.0.1", "--port", str(self.port), *options]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *args, "--log-level", "warning"], env={**os.environ, **env}
        )

    def wait(self) -> None:
        wait_for_port(self.port, self.proc)

    def kill(self) -> None:
        kill(self.proc)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def redis_cli(port: int, *args: str, timeout: float = 10) -> str:
    command = ["/usr/bin/redis-cli", "-h", "127.0.0.1", "-p", str(port), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True).stdout


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.1)


class RedisNode:
    """One redis-server of a cluster or a sentinel set, restartable on its port with its own directory."""

    def __init__(self, directory: Path, *options: str) -> None:
        self.port = free_port()
        self.directory = directory
        self.options = options
        self.proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        if self.options[:1] == ("--sentinel",):  # a sentinel: its own config file first, which it rewrites
            args = [REDIS_SERVER, str(self.directory / "sentinel.conf"), "--sentinel", "--port", str(self.port)]
            args += ["--bind", "127.0.0.1", "--dir", str(self.directory)]
        else:
            args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            args += ["--dir", str(self.directory), *self.options]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        kill(self.proc)
        self.proc = None

    def info(self, section: str) -> dict[str, str]:
        lines = redis_cli(self.port, "INFO", section).splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line)


class RedisClusterNodes:
    """A real Redis Cluster on loopback: three primaries with a replica each, from Debian's redis-server.

    A node timeout of two seconds makes a replica take over about four seconds after its primary dies (with one
    second, a node starved of CPU for a second on a loaded 2-core machine was failed over mid-test). `heal()`
    restarts killed nodes (they rejoin as replicas) and waits until every slot is served again.
    """

    def __init__(self, directory: Path, primaries: int = 3) -> None:
        # A replica takes over however long it had been cut off from its primary (validity factor 0).
        options = (
            "--cluster-enabled",
            "yes",
            "--cluster-node-timeout",
            "2000",
            "--cluster-replica-validity-factor",
            "0",
        )
        self.nodes = []
        for n in range(primaries * 2):
            # The cluster bus port is set explicitly: the default (port + 10000) may be taken, or beyond 65535.
            bus = free_port()
            config = ("--cluster-config-file", "nodes.conf", "--cluster-port", str(bus))
            self.nodes.append(RedisNode(directory / f"node{n}", *options, *config))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        redis_cli(self.nodes[0].port, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes")
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 30) -> None:
        def healthy() -> bool:
            try:
                if not all(node.running for node in self.nodes):
                    return False
                if not all("cluster_state:ok" in redis_cli(node.port, "CLUSTER", "INFO") for node in self.nodes):
                    return False
                roles = [node.info("replication") for node in self.nodes]
                # A replica that has not synchronised with its primary yet would not take over from it.
                synced = all(r.get("master_link_status") == "up" for r in roles if r.get("role") == "slave")
                return synced and sum(r.get("role") == "master" for r in roles) == len(self.nodes) // 2
            except (subprocess.SubprocessError, OSError):
                return False

        _wait(healthy, timeout, "the cluster was not healthy")

    def primaries(self) -> list[RedisNode]:
        return [n for n in self.nodes if n.running and n.info("replication").get("role", "").strip() == "master"]

    def primary_of(self, key: str) -> RedisNode:
        """The running primary that serves `key`'s slot."""
        slot = int(redis_cli(self.primaries()[0].port, "CLUSTER", "KEYSLOT", key))
        for node in self.primaries():
            for line in redis_cli(node.port, "CLUSTER", "NODES").splitlines():
                fields = line.split()
                if "myself" in fields[2]:
                    for span in fields[8:]:
                        low, _, high = span.partition("-")
                        if low.isdigit() and int(low) <= slot <= int(high or low):
                            return node
        raise LookupError(f"no running primary serves slot {slot}")

    def move_slot_of(self, key: str) -> None:
        """Move `key`'s slot, keys included, to another primary (as `redis-cli --cluster reshard` does)."""
        slot = redis_cli(self.primaries()[0].port, "CLUSTER", "KEYSLOT", key).strip()
        source = self.primary_of(key)
        target = next(node for node in self.primaries() if node is not source)
        source_id, target_id = (redis_cli(n.port, "CLUSTER", "MYID").strip() for n in (source, target))
        redis_cli(target.port, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        redis_cli(source.port, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while keys := redis_cli(source.port, "CLUSTER", "GETKEYSINSLOT", slot, "100").split():
            redis_cli(source.port, "MIGRATE", "127.0.0.1", str(target.port), "", "0", "5000", "KEYS", *keys)
        for node in self.primaries():
            redis_cli(node.port, "CLUSTER", "SETSLOT", slot, "NODE", target_id)

    def heal(self) -> None:
        for node in self.nodes:
            if not node.running:
                node.start()  # it keeps its nodes.conf: it rejoins, as a replica of whoever took over
        self.wait_healthy()

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()


class RedisSentinelSet:
    """A primary, a replica and three sentinels (quorum 2) on loopback; the replica takes over about two seconds
    after the primary dies. `heal()` restarts killed nodes: a restarted old primary is made a replica again."""

    NAME = "wsapi"

    def __init__(self, directory: Path) -> None:
        self.primary = RedisNode(directory / "primary")
        self.replica = RedisNode(directory / "replica", "--replicaof", "127.0.0.1", str(self.primary.port))
        self.sentinels = [RedisNode(directory / f"sentinel{n}", "--sentinel") for n in range(3)]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", sentinel.port) for sentinel in self.sentinels]

    def start(self) -> None:
        self.primary.start()
        self.replica.start()
        for sentinel in self.sentinels:
            config = sentinel.directory / "sentinel.conf"
            config.write_text(
                f"sentinel monitor {self.NAME} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {self.NAME} 1000\n"
                f"sentinel failover-timeout {self.NAME} 3000\n"
            )
            sentinel.start()
        self.wait_healthy()

    def current_primary(self) -> RedisNode:
        reply = redis_cli(self.sentinels[0].port, "SENTINEL", "get-master-addr-by-name", self.NAME).split()
        port = int(reply[1])
        return next(node for node in (self.primary, self.replica) if node.port == port)

    def wait_healthy(self, timeout: float = 30) -> None:
        def healthy() -> bool:
            try:
                for sentinel in self.sentinels:
                    fields = redis_cli(sentinel.port, "SENTINEL", "master", self.NAME).split()
                    state = dict(zip(fields[::2], fields[1::2], strict=False))
                    if state["flags"] != "master" or state["num-other-sentinels"] != "2":
                        return False
                    if state["num-slaves"] == "0":
                        return False
                primary = self.current_primary()
                other = self.replica if primary is self.primary else self.primary
                replication = other.info("replication")
                return replication.get("role") == "slave" and replication.get("master_link_status") == "up"
            except (subprocess.SubprocessError, OSError, KeyError, StopIteration):
                return False

        _wait(healthy, timeout, "the sentinel set was not healthy")

    def heal(self) -> None:
        for node in (self.primary, self.replica):
            if not node.running:
                primary = self.current_primary()
                node.options = ("--replicaof", "127.0.0.1", str(primary.port))
                node.start()
        self.wait_healthy()

    def kill(self) -> None:
        for node in (*self.sentinels, self.replica, self.primary):
            node.kill()
