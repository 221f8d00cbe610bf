"""Prometheus metrics from a real server process: what a subscription and a write leave behind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from events.envelope import Envelope
from events.payloads import SnapshotMark
from live_server import ODDS, SECRET, GraphQLWs, ServerProcess, store, wait_subscribed
from pubsub.hub import Listener
from server.auth import create_access_token
from server.metrics import Metrics


@pytest.fixture
def race(served_race: dict[str, Any]) -> dict[str, Any]:
    """The race the live server serves (tests/fixtures/live.py), not the suite's race in the test database."""
    return served_race


async def scrape(server: ServerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient(base_url=server.http) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_a_delivered_update_and_a_failed_write_are_counted(server: ServerProcess, race: dict[str, Any]) -> None:
    client = await GraphQLWs.open(server.ws)
    await client.subscribe("1", ODDS, ids=[race["id"]])
    await wait_subscribed(server, 1)
    await store(server, race, 2.5)
    await client.next("1")
    rejected = (await store(server, race, 0.5)).json()
    metrics = await scrape(server)
    await client.close()

    assert rejected["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert metrics[("racewire_open_connections", ())] == 1
    assert metrics[("racewire_active_subscriptions", (("field", "oddsUpdated"),))] == 1
    assert metrics[("racewire_events_published_total", (("stream", "odds"),))] == 1
    assert metrics[("racewire_events_delivered_total", (("field", "oddsUpdated"),))] == 1
    assert metrics[("racewire_delivery_latency_seconds_count", (("field", "oddsUpdated"),))] == 1
    assert metrics[("racewire_mutation_seconds_count", (("mutation", "storeOdds"),))] == 2
    assert metrics[("racewire_mutation_errors_total", (("error", "BAD_USER_INPUT"), ("mutation", "storeOdds")))] == 1
    assert metrics[("racewire_dropped_events_total", ())] == 0
    assert metrics[("racewire_broadcaster_reconnects_total", ())] == 0


async def test_each_subscription_is_counted_under_its_own_field(server: ServerProcess) -> None:
    bearer = create_access_token(secret=SECRET, subject="metrics-reader", scopes=[])
    client = await GraphQLWs.open(server.ws, {"Authorization": f"Bearer {bearer}"})
    before = await scrape(server)
    await client.subscribe("s", "subscription { raceStatus { seq } }")
    await client.subscribe("n", "subscription { news { seq } }")
    await client.subscribe("p", "subscription { notifications { seq } }")
    await wait_subscribed(server, 3)
    metrics = await scrape(server)
    await client.close()

    def active(sample: dict[tuple[str, tuple[tuple[str, str], ...]], float], field: str) -> float:
        return sample.get(("racewire_active_subscriptions", (("field", field),)), 0)

    for field in ("raceStatus", "news", "notifications"):
        assert active(metrics, field) - active(before, field) == 1, field
    assert active(metrics, "oddsUpdated") == active(before, "oddsUpdated")


async def test_an_open_sse_stream_is_counted(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        before = await scrape(server)
        request = {"query": "subscription { raceStatus { seq } }"}
        async with client.stream("POST", "/graphql", json=request, headers={"accept": "text/event-stream"}) as stream:
            assert stream.status_code == 200  # the headers are sent once the stream holds its slot
            during = await scrape(server)
    assert before[("racewire_open_streams", ())] == 0
    assert during[("racewire_open_streams", ())] == 1


async def test_a_replayed_update_is_delivered_but_not_timed_as_live(
    server: ServerProcess, race: dict[str, Any]
) -> None:
    live = await GraphQLWs.open(server.ws)
    await live.subscribe("1", ODDS, ids=[race["id"]])
    await wait_subscribed(server, 1)
    await store(server, race, 2.5)
    before = (await live.next("1"))["oddsUpdated"]["cursor"]
    await store(server, race, 3.0)
    await live.next("1")
    resumed = await GraphQLWs.open(server.ws)
    await resumed.subscribe("2", ODDS, ids=[race["id"]], after=before)
    replayed = (await resumed.next("2"))["oddsUpdated"]
    metrics = await scrape(server)
    await live.close()
    await resumed.close()

    assert replayed["prices"][0]["decimal"] == 3.0  # the positive control: the replay itself arrives
    assert metrics[("racewire_events_delivered_total", (("field", "oddsUpdated"),))] == 3
    assert metrics[("racewire_delivery_latency_seconds_count", (("field", "oddsUpdated"),))] == 2


def test_a_lagging_listener_counts_what_it_drops() -> None:
    metrics = Metrics(open_connections=lambda: 0)
    listener = Listener(2, on_drop=metrics.dropped)
    for seq in range(1, 5):
        listener.deliver(Envelope(stream="odds:1", seq=seq, kind="snapshot", payload=SnapshotMark(), created_at=""))

    assert listener.overflowed
    assert metrics.registry.get_sample_value("racewire_dropped_events_total") == 3
