"""What one delivery's write costs, with nothing else in the process: N loopback TCP connections,
one ~700-byte frame written to each, E times, CPU time (user + system, this process) per write.
The readers are left unread (the kernel buffers the E frames), so only the writing side runs.

Ways, each in a fresh process, interleaved, median of R runs, against the raw `socket.send` floor
measured in the same run:
- `send`: `socket.send` in a Python loop (the floor: one syscall per delivery)
- `asyncio`, `uvloop`: each loop's `transport.write`
- `fanout-asyncio`, `fanout-uvloop`: the fan-out's own path, `Group._publish` through each
  member's outbox and the uvicorn fast path's `write_frame`

    .venv/bin/python bench/write_path.py --connections 5000 --events 20 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FRAME = json.dumps(
    {
        "id": "1",
        "type": "next",
        "payload": {
            "data": {
                "oddsUpdated": {
                    "raceId": "1",
                    "seq": 1,
                    "cursor": "c" * 24,
                    "prices": [{"runnerId": str(r), "decimal": 2.5 + r} for r in range(12)],
                }
            }
        },
    }
)
WAYS = ("send", "asyncio", "uvloop", "fanout-asyncio", "fanout-uvloop")


def connections(count: int) -> tuple[list[socket.socket], list[socket.socket]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    servers, clients = [], []
    for _ in range(count):
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvicorn sets it
        server.setblocking(False)
        servers.append(server)
        clients.append(client)
    listener.close()
    return servers, clients


class Sink(asyncio.Protocol):
    pass


class FakeProtocol:
    """The fast path's `write_frame` on a real transport (uvicorn's protocol without its parser)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        from server.live.uvicorn_fast_path import RacewireWebSocketProtocol, Writable

        self.transport = transport
        self.writable = Writable()
        self.close_sent = False
        self._frame_kind = 0
        self.write_frame = RacewireWebSocketProtocol.write_frame.__get__(self)


def run_way(way: str, count: int, events: int) -> float:
    servers, _clients = connections(count)
    data = FRAME.encode()
    if way == "send":
        start = time.process_time()
        for _ in range(events):
            for sock in servers:
                sock.send(data)
        return (time.process_time() - start) / (count * events) * 1e6
    if way.endswith("uvloop"):
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    return loop.run_until_complete(_on_loop(way, servers, events))


async def _on_loop(way: str, servers: list[socket.socket], events: int) -> float:
    loop = asyncio.get_running_loop()
    transports = [(await loop.connect_accepted_socket(Sink, sock))[0] for sock in servers]
    count = len(transports)
    if way.startswith("fanout"):
        return await _fanout(transports, events)
    data = FRAME.encode()
    start = time.process_time()
    for _ in range(events):
        for transport in transports:
            transport.write(data)
    return (time.process_time() - start) / (count * events) * 1e6


async def _fanout(transports: list[Any], events: int) -> float:
    from schema.stream_tap import StreamTap
    from server.live.fanout import Group, Member
    from server.live.fanout_plan import GroupKey, Plan
    from server.live.outbox import Outbox

    class Scoped:
        def __init__(self, transport: Any) -> None:
            self.scope = {"extensions": {"racewire.write_frame": FakeProtocol(transport).write_frame}}

    key = GroupKey("subscription { x }", None, "{}", frozenset(), False)
    plan = Plan(key, {}, {}, None, False, False, "oddsUpdated")
    group = Group.__new__(Group)  # its state, without the execution task a real group starts
    group.members, group.pending, group._waiting = set(), set(), {}  # noqa: SLF001 - the group's state, set by hand
    group._ring = __import__("collections").deque(maxlen=64)  # noqa: SLF001
    group.tap = StreamTap(counted_by_caller=True)
    for transport in transports:
        member = Member("1", Outbox(Scoped(transport), limit=1 << 20), plan, None)  # type: ignore[arg-type]
        group.members.add(member)
    payload = json.dumps(json.loads(FRAME)["payload"])
    start = time.process_time()
    for n in range(events):
        group._publish(payload, f"cursor-{n}")  # noqa: SLF001 - the fan-out step measured
    return (time.process_time() - start) / (len(transports) * events) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)  # one measurement, in a child process
    args = parser.parse_args()
    if args.way:
        print(run_way(args.way, args.connections, args.events))
        return
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    figures: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(args.repeat):
        for way in WAYS:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--way",
                    way,
                    "--connections",
                    str(args.connections),
                    "--events",
                    str(args.events),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            figures[way].append(float(done.stdout))
    floor = statistics.median(figures["send"])
    print(f"{args.connections} connections, {args.events} frames of {len(FRAME)} bytes each, median of {args.repeat}")
    print("way | CPU µs per write | vs send | runs")
    for way, runs in figures.items():
        median = statistics.median(runs)
        print(f"{way} | {median:.2f} | {median / floor:.2f}x | {', '.join(f'{r:.2f}' for r in runs)}")


if __name__ == "__main__":
    main()
