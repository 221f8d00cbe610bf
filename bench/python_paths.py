"""The live wing's Python CPU on its two hot paths, without the kernel: on a machine shared with
others the full bench (bench/run.py) cannot resolve a change of a few per cent, these can.

- `upgrade`: a WebSocket handshake from the request's bytes reaching uvicorn's httptools
  protocol (server.http_protocol) to the connection queued for the app, the app not run; the
  transport a stub. CPU µs per upgrade.
- `publish`: `Group._publish` to 5,000 members through each member's outbox and the uvicorn fast
  path's `write_frame`, the transport's `write` a stub (no `send` syscall). CPU ns per member.

Each figure is the fastest of B batches (the least disturbed by neighbours), in a fresh process
per checkout, the checkouts interleaved, median of R runs, with the ratio to the first checkout:

    git archive <commit> | tar -x -C /tmp/before
    .venv/bin/python bench/python_paths.py --code /tmp/before --code . --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUEST = (
    b"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
)
PATHS = ("upgrade", "publish")


class StubTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.protocol: Any = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: Any) -> None:
        pass

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


async def _never_run(scope: Any, receive: Any, send: Any) -> None:
    pass


async def upgrade(batches: int) -> float:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from server.http_protocol import RacewireHttpProtocol
    from server.live.uvicorn_fast_path import RacewireWebSocketProtocol

    config = Config(
        _never_run,
        ws=RacewireWebSocketProtocol,
        http=RacewireHttpProtocol,
        ws_per_message_deflate=True,
        log_config=None,
    )
    config.load()
    state = ServerState()
    best = float("inf")
    for _ in range(batches):
        transports = []
        gc.disable()
        start = time.process_time()
        for _ in range(200):
            transport = StubTransport()
            protocol = RacewireHttpProtocol(config=config, server_state=state, app_state={})
            protocol.connection_made(transport)
            protocol.data_received(REQUEST)
            transports.append(transport)
        best = min(best, (time.process_time() - start) / 200 * 1e6)
        gc.enable()
        assert all(isinstance(t.protocol, RacewireWebSocketProtocol) for t in transports)  # upgraded
        for task in list(state.tasks):
            task.cancel()
        await asyncio.sleep(0)
        state.tasks.clear()
        state.connections.clear()
    return best


async def publish(batches: int) -> float:
    from schema.stream_tap import StreamTap
    from server.live.fanout import Group, Member
    from server.live.fanout_plan import GroupKey, Plan
    from server.live.outbox import Outbox
    from server.live.uvicorn_fast_path import RacewireWebSocketProtocol, Writable

    class Protocol:
        def __init__(self) -> None:
            self.transport = StubTransport()
            self.writable = Writable()
            self.close_sent = False
            self._frame_kind = 0
            self.write_frame = RacewireWebSocketProtocol.write_frame.__get__(self)

    class Scoped:
        def __init__(self) -> None:
            self.scope = {"extensions": {"racewire.write_frame": Protocol().write_frame}}

    key = GroupKey("subscription { x }", None, "{}", frozenset(), False)
    plan = Plan(key, {}, {}, None, False, False, "oddsUpdated")
    group = Group.__new__(Group)  # its state, without the execution task a real group starts
    group.members, group.pending, group._waiting = set(), set(), {}  # noqa: SLF001 - the group's state, set by hand
    group._ring = collections.deque(maxlen=64)  # noqa: SLF001
    group.tap = StreamTap(counted_by_caller=True)
    for _ in range(5000):
        group.members.add(Member("1", Outbox(Scoped(), limit=1 << 20), plan, None))  # type: ignore[arg-type]
    payload = json.dumps({"data": {"oddsUpdated": {"prices": [{"runnerId": str(r)} for r in range(10)]}}})
    best = float("inf")
    for n in range(batches):
        start = time.process_time()
        group._publish(payload, f"cursor-{n}")  # noqa: SLF001 - the fan-out step measured
        best = min(best, (time.process_time() - start) / 5000 * 1e9)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", action="append", help="a checkout to measure (repeatable; default this one)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)  # one measurement, in a child process
    args = parser.parse_args()
    if args.path:
        sys.path.insert(0, str(Path.cwd()))
        import server

        assert Path(server.__file__).is_relative_to(Path.cwd()), server.__file__  # the checkout asked for
        print(asyncio.run(upgrade(args.batches) if args.path == "upgrade" else publish(args.batches)))
        return
    codes = [str(Path(code).resolve()) for code in (args.code or [ROOT])]
    figures: dict[tuple[str, str], list[float]] = {(path, code): [] for path in PATHS for code in codes}
    for _ in range(args.repeat):
        for path in PATHS:
            for code in codes:
                done = subprocess.run(
                    [sys.executable, str(Path(__file__).resolve()), "--path", path, "--batches", str(args.batches)],
                    cwd=code,
                    env={**os.environ, "PYTHONPATH": code},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                figures[path, code].append(float(done.stdout))
    print(f"fastest of {args.batches} batches, median of {args.repeat} runs, checkouts interleaved")
    print("path | checkout | figure | vs the first checkout | runs")
    for path in PATHS:
        unit = "µs per upgrade" if path == "upgrade" else "ns per member"
        first = statistics.median(figures[path, codes[0]])
        for code in codes:
            runs = figures[path, code]
            median = statistics.median(runs)
            shown = ", ".join(f"{r:.0f}" for r in runs)
            print(f"{path} | {code} | {median:.0f} {unit} | {median / first:.2f}x | {shown}")


if __name__ == "__main__":
    main()
