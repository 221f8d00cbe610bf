"""A local Redis Cluster for tests, started by the project's own scripts/redis-cluster: 3 primaries
and 3 replicas on loopback ports BASE..BASE+5, so a test can kill a primary, restart it, or move a
slot. Each base port is one cluster; tests that break theirs use a base of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from live_server import ROOT

SCRIPT = ROOT / "scripts" / "redis-cluster"
SHARED_BASE = int(os.environ.get("RACEWIRE_TEST_CLUSTER_PORT", "17000"))


class RedisClusterNodes:
    def __init__(self, base: int, nodes: int = 6) -> None:
        self.base = base
        self.ports = [base + n for n in range(nodes)]
        self.nodes = nodes
        self.dir = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / f"racewire-redis-cluster-{base}"

    @property
    def url(self) -> str:
        return "redis-cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:3])

    def _script(self, command: str) -> None:
        env = {
            **os.environ,
            "RACEWIRE_TEST_CLUSTER_NODES": str(self.nodes),
            "RACEWIRE_TEST_CLUSTER_REPLICAS": "1" if self.nodes >= 6 else "0",
        }
        subprocess.run(
            [str(SCRIPT), command, str(self.base)], check=True, env=env, timeout=60, stdout=subprocess.DEVNULL
        )

    def start(self) -> RedisClusterNodes:
        """Starts every node that is not running and waits until the cluster is whole."""
        self._script("start")
        return self

    def stop(self) -> None:
        self._script("stop")

    def running(self) -> bool:
        try:
            with Redis(port=self.ports[0], socket_timeout=1, retry=Retry(NoBackoff(), 0)) as node:
                return bool(node.ping())
        except OSError:
            return False
        except Exception:  # noqa: BLE001 - anything but an answer means not running
            return False

    def client(self, port: int) -> Redis:
        return Redis(port=port, socket_timeout=5, retry=Retry(NoBackoff(), 0))

    def pid(self, port: int) -> int:
        return int((self.dir / f"{port}.pid").read_text())

    def kill(self, port: int | None = None) -> None:
        """Kills one node (SIGKILL), or every node."""
        for victim in [port] if port is not None else self.ports:
            try:
                os.kill(self.pid(victim), signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError):
                continue
            self._wait(lambda victim=victim: not self._answers(victim), f"127.0.0.1:{victim} to die")

    def owner(self, channel: str) -> int:
        """The port of the primary that owns the channel's slot now."""
        for port in self.ports:
            if not self._answers(port):
                continue
            with self.client(port) as node:
                slot = int(node.execute_command("CLUSTER", "KEYSLOT", channel))
                for start, end, primary, *_ in node.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        return int(primary[1])
        raise AssertionError(f"no node owns {channel}")

    def primaries(self) -> list[int]:
        with self.client(next(p for p in self.ports if self._answers(p))) as node:
            return sorted({int(primary[1]) for _, _, primary, *_ in node.execute_command("CLUSTER", "SLOTS")})

    def move_slot_of(self, channel: str, to_port: int) -> int:
        """Moves the (keyless) slot of a channel to another primary, as `redis-cli --cluster reshard`
        would: IMPORTING / MIGRATING, then SETSLOT NODE on both sides and every other primary."""
        source_port = self.owner(channel)
        with self.client(source_port) as source, self.client(to_port) as target:
            slot = int(source.execute_command("CLUSTER", "KEYSLOT", channel))
            source_id = source.execute_command("CLUSTER", "MYID").decode()
            target_id = target.execute_command("CLUSTER", "MYID").decode()
            target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            target.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
            source.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        for port in self.primaries():
            if port not in (source_port, to_port):
                with self.client(port) as other:
                    other.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        return slot

    def wait_promoted(self, dead_port: int, timeout: float = 30) -> None:
        """Waits until a replica has taken over every slot the dead primary held."""
        self._wait(
            lambda: dead_port not in self.primaries() and len(self.primaries()) == 3,
            f"a replica to replace 127.0.0.1:{dead_port}",
            timeout,
        )

    def _answers(self, port: int) -> bool:
        try:
            with Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)) as node:
                return bool(node.ping())
        except Exception:  # noqa: BLE001 - refused, reset, loading: not answering
            return False

    @staticmethod
    def _wait(done: Callable[..., object], what: str, timeout: float = 20) -> None:  # called with no arguments
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)


def shared_cluster() -> tuple[RedisClusterNodes, bool]:
    """The cluster scripts/services starts on 17000-17005 (started here if it is not up), and
    whether this call started it."""
    cluster = RedisClusterNodes(SHARED_BASE)
    was_running = cluster.running()
    cluster.start()
    return cluster, not was_running
