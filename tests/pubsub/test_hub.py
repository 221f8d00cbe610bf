"""The hub: one broadcaster subscription per channel, bounded buffers that flag overflow."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC
from typing import Any

import pytest
from broadcaster import Broadcast

from events.envelope import Envelope
from events.payloads import RunnerScratched
from pubsub.hub import Hub
from pubsub.rejections import Rejections
from pubsub.seal import Seal
from pubsub.telemetry import Telemetry

SCRATCH = RunnerScratched(race_id=1, runner_id=1)


def event(seq: int, stream: str = "odds:1") -> Envelope:
    # The hub passes any record on: a scratching stands in for every kind.
    payload = RunnerScratched(race_id=1, runner_id=seq)
    return Envelope(stream=stream, seq=seq, kind="scratch", payload=payload, created_at="2026-01-01T00:00:00+00:00")


async def test_every_listener_gets_each_event_once_and_leaving_unsubscribes() -> None:
    async with Broadcast("memory://") as broadcast:
        hub = Hub(broadcast)
        async with hub.listen(["odds:1"]) as a, hub.listen(["odds:1", "odds:2"]) as b:
            await hub.publish(event(1))
            await hub.publish(event(1, "odds:2"))
            got_a = await asyncio.wait_for(a.get(), 5)
            got_b = [await asyncio.wait_for(b.get(), 5) for _ in range(2)]
            assert got_a == event(1) and a.empty()
            assert sorted(e.stream for e in got_b) == ["odds:1", "odds:2"]
        await hub.close()
        assert hub.listener_count == 0 and broadcast._subscribers == {}  # noqa: SLF001


async def test_a_full_buffer_drops_and_flags_instead_of_growing() -> None:
    async with Broadcast("memory://") as broadcast:
        hub = Hub(broadcast, buffer=3)
        async with hub.listen(["odds:1"]) as slow, hub.listen(["odds:1"]) as fast:
            for seq in range(1, 11):
                await hub.publish(event(seq))
                assert (await asyncio.wait_for(fast.get(), 5)).seq == seq
            assert slow.overflowed
            assert await slow.get() is None and slow.empty()


async def test_many_listeners_joining_one_channel_at_once_all_receive() -> None:
    async with Broadcast("memory://") as broadcast:
        hub = Hub(broadcast)

        async def listen(ready: asyncio.Event, go: asyncio.Event) -> int:
            async with hub.listen(["odds:7"]) as listener:
                ready.set()
                await go.wait()
                return (await asyncio.wait_for(listener.get(), 5)).seq

        readies = [asyncio.Event() for _ in range(100)]
        go = asyncio.Event()
        tasks = [asyncio.create_task(listen(r, go)) for r in readies]
        await asyncio.gather(*(r.wait() for r in readies))
        await hub.publish(event(1, "odds:7"))
        go.set()
        assert await asyncio.gather(*tasks) == [1] * 100


async def test_an_event_committed_but_never_published_is_delivered_from_the_log(db: Any) -> None:
    from datetime import datetime

    from storage import events
    from storage.events import LogReader

    async with Broadcast("memory://") as broadcast:
        hub = Hub(broadcast, log=LogReader(db), watch_interval=0.05)
        hub.start()
        async with hub.listen(["odds:9"]) as listener:
            async with db.write() as session:  # as if the process died between commit and publish
                lost = await events.append(session, stream="odds:9", payload=SCRATCH, now=datetime.now(UTC))
            assert (await asyncio.wait_for(listener.get(), 5)) == lost
        await hub.close()


async def test_the_hub_puts_out_of_order_events_back_in_order(db: Any) -> None:
    from datetime import datetime

    from storage import events
    from storage.events import LogReader

    async with Broadcast("memory://") as broadcast:
        hub = Hub(broadcast, log=LogReader(db), watch_interval=60)
        async with hub.listen(["odds:5"]) as listener:
            stored = []
            for _ in range(3):
                async with db.write() as session:
                    stored.append(await events.append(session, stream="odds:5", payload=SCRATCH, now=datetime.now(UTC)))
            for event in (stored[2], stored[0], stored[1]):
                await hub.publish(event)
            received = [await asyncio.wait_for(listener.get(), 5) for _ in range(3)]
            assert [e.seq for e in received] == [1, 2, 3] and listener.empty()
        await hub.close()


class Counted(Telemetry):
    def __init__(self) -> None:
        self.refusals: list[str] = []
        self._changed = asyncio.Event()

    def refused(self, reason: str) -> None:
        self.refusals.append(reason)
        self._changed.set()

    async def wait_for(self, count: int) -> list[str]:
        while len(self.refusals) < count:
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), 5)
        return self.refusals


async def test_forged_messages_are_refused_and_counted_and_real_events_still_arrive(db: Any) -> None:
    from datetime import datetime

    from storage import events
    from storage.events import LogReader

    seal = Seal(b"deployment-key-0123456789abcdef!")
    async with Broadcast("memory://") as broadcast:
        counted = Counted()
        hub = Hub(broadcast, log=LogReader(db), watch_interval=60, seal=seal, telemetry=counted)
        async with hub.listen(["odds:3"]) as listener:
            channel = hub.namespace.channel("odds:3")
            ahead = event(999_999_999, "odds:3")
            for forged in (
                ahead.encode(),
                Seal(b"another-deployment-key-012345678").seal(channel, ahead),
                b"\xff garbage",
                seal.seal(hub.namespace.channel("odds:4"), ahead),
            ):
                await broadcast.publish(channel, forged)
            await broadcast.publish(channel, seal.seal(channel, ahead))  # sealed, but not in the log
            assert await counted.wait_for(5) == ["unsealed", "bad_mac", "unsealed", "bad_mac", "not_in_log"]
            async with db.write() as session:
                real = await events.append(session, stream="odds:3", payload=SCRATCH, now=datetime.now(UTC))
            await hub.publish(real)
            assert await asyncio.wait_for(listener.get(), 5) == real and listener.empty()
            assert len(counted.refusals) == 5
        await hub.close()


async def test_a_sealed_replay_of_an_old_event_is_not_passed_on_again(db: Any) -> None:
    from datetime import datetime

    from storage import events
    from storage.events import LogReader

    async with Broadcast("memory://") as broadcast:
        hub = Hub(broadcast, log=LogReader(db), watch_interval=60)
        async with hub.listen(["odds:6"]) as listener:
            stored = []
            for _ in range(2):
                async with db.write() as session:
                    stored.append(await events.append(session, stream="odds:6", payload=SCRATCH, now=datetime.now(UTC)))
                await hub.publish(stored[-1])
            await hub.publish(stored[0])
            await hub.publish(stored[1])
            async with db.write() as session:
                stored.append(await events.append(session, stream="odds:6", payload=SCRATCH, now=datetime.now(UTC)))
            await hub.publish(stored[2])
            assert [await asyncio.wait_for(listener.get(), 5) for _ in range(3)] == stored
            assert listener.empty()
        await hub.close()


def test_refusals_are_all_counted_but_logged_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    counted = Counted()
    rejections = Rejections(counted, interval=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="pubsub.hub"):
        for _ in range(1000):
            rejections.refused("racewire:odds:1", "bad_mac")
        now[0] = 10.5
        rejections.refused("racewire:odds:1", "unsealed")
    assert len(counted.refusals) == 1001
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "bad_mac" in lines[0] and "unsealed" in lines[1] and "999 more" in lines[1]


class FlakyLog:
    """The stored log, which can be taken away; counts the watchdog's attempts while it is away."""

    def __init__(self, log: Any) -> None:
        self._log = log
        self.down = False
        self.failures = 0
        self.failed_often = asyncio.Event()

    async def heads(self, streams: Any) -> dict[str, int]:
        if self.down:
            self.failures += 1
            if self.failures >= 5:
                self.failed_often.set()
            raise ConnectionError("the database is away")
        return await self._log.heads(streams)

    async def read(self, stream: str, *, after: int, until: int) -> list[Envelope]:
        return await self._log.read(stream, after=after, until=until)


async def test_a_database_outage_is_logged_once_not_every_watchdog_round(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import datetime

    from storage import events
    from storage.events import LogReader

    log = FlakyLog(LogReader(db))
    async with Broadcast("memory://") as broadcast:
        hub = Hub(broadcast, log=log, watch_interval=0.01)
        async with hub.listen(["odds:3"]) as listener:
            with caplog.at_level(logging.INFO, logger="pubsub.hub"):
                hub.start()
                log.down = True
                await asyncio.wait_for(log.failed_often.wait(), 10)
                log.down = False
                async with db.write() as session:  # stored while nobody published it: the watchdog must find it
                    stored = await events.append(session, stream="odds:3", payload=SCRATCH, now=datetime.now(UTC))
                assert await asyncio.wait_for(listener.get(), 5) == stored
            messages = [r.getMessage() for r in caplog.records]
            assert sum("the log watchdog failed" in m for m in messages) == 1, messages
            assert [r.exc_info is not None for r in caplog.records if "watchdog failed" in r.getMessage()] == [True]
            assert messages.count("the log watchdog reads the log again") == 1
        await hub.close()
