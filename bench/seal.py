"""What verifying the broadcaster's envelopes costs: µs per message to open a sealed odds event
(MAC check, parse, validation, the payload's record built) against parsing the bare JSON alone, as the hub did before.

Each run times `--messages` calls of each in turn on the same message (a 10-runner odds event, as
bench/run.py stores); prints the median µs per message over the runs and the ratio. The hub opens
each message once per process, whatever the number of its subscribers.

    .venv/bin/python bench/seal.py [--runs 15] [--messages 10000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from events.envelope import Envelope
from events.payloads import OddsChanged, PriceChange
from pubsub.channels import Namespace
from pubsub.seal import Seal


def odds_event(runners: int = 10) -> Envelope:
    now = datetime.now(UTC)
    prices = tuple(PriceChange(1000 + n, 2.5 + n) for n in range(runners))
    return Envelope(
        stream="odds:42",
        seq=123_456,
        kind="odds",
        created_at=now.isoformat(),
        payload=OddsChanged(race_id=42, source="feed", observed_at=now, prices=prices),
    )


def per_message(work: Callable[[], object], messages: int) -> float:
    start = time.perf_counter()
    for _ in range(messages):
        work()
    return (time.perf_counter() - start) / messages * 1e6


def bare_decode(raw: bytes) -> dict[str, object]:
    """The hub's decode before envelopes were sealed: the JSON alone, its payload left a dict."""
    data: dict[str, object] = orjson.loads(raw)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()

    event = odds_event()
    channel = Namespace().channel(event.stream)
    seal = Seal(b"bench-deployment-key-0123456789abcdef")
    bare, sealed = event.encode(), seal.seal(channel, event)
    assert seal.open(channel, sealed, stream=event.stream) == event and bare_decode(bare)["seq"] == event.seq
    cases = {
        "decode alone (before)": lambda: bare_decode(bare),
        "open: MAC + decode + validate": lambda: seal.open(channel, sealed, stream=event.stream),
        "publish: encode alone (before)": event.encode,
        "publish: seal (encode + MAC)": lambda: seal.seal(channel, event),
    }
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, work in cases.items():
            runs[name].append(per_message(work, args.messages))
    median = {name: statistics.median(values) for name, values in runs.items()}
    print(f"{len(sealed)} bytes sealed ({len(bare)} bare); median of {args.runs} runs × {args.messages} messages")
    for name, value in median.items():
        print(f"  {name:<34} {value:6.2f} µs/message")
    opened, decoded = median["open: MAC + decode + validate"], median["decode alone (before)"]
    print(f"  open / decode alone: {opened / decoded:.2f}×  (+{opened - decoded:.2f} µs per message per process)")
    print(
        f"  seal / encode alone: {median['publish: seal (encode + MAC)'] / median['publish: encode alone (before)']:.2f}×"
    )


if __name__ == "__main__":
    main()
