"""Prometheus metrics at /metrics: connections, subscriptions, events, delivery latency, storeOdds,
and each client's requests, errors, cost and subscriptions.

Each app has its own registry, so several apps in one process (as in tests) count apart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from pubsub import channels as channel_names
from pubsub.telemetry import Telemetry

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics(Telemetry):
    def __init__(self, *, open_connections: Callable[[], float], open_streams: Callable[[], float] = lambda: 0) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        Gauge("racewire_open_connections", "Open WebSocket connections.", registry=r).set_function(open_connections)
        Gauge("racewire_open_streams", "Open SSE and multipart subscription streams.", registry=r).set_function(
            open_streams
        )
        self.subscriptions = Gauge(
            "racewire_active_subscriptions", "Active subscriptions by field.", ["field"], registry=r
        )
        self.published_events = Counter(
            "racewire_events_published", "Events handed to the broadcaster.", ["stream"], registry=r
        )
        self.delivered = Counter(
            "racewire_events_delivered", "Updates sent to subscribers, by field.", ["field"], registry=r
        )
        self.latency = Histogram(
            "racewire_delivery_latency_seconds",
            "From an event's commit to its update leaving the subscription.",
            ["field"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.conflations = Counter(
            "racewire_conflated_updates", "Merged updates sent to lagging subscribers.", registry=r
        )
        self.drops = Counter("racewire_dropped_events", "Buffered events dropped for lagging subscribers.", registry=r)
        self.refusals = Counter(
            "racewire_broadcast_refused",
            "Broadcaster messages not passed on, by reason (a forgery, another deployment, "
            "or a seq the log does not hold).",
            ["reason"],
            registry=r,
        )
        self.reconnects = Counter("racewire_broadcaster_reconnects", "Times the broadcaster reconnected.", registry=r)
        self.mutations = Histogram(
            "racewire_mutation_seconds", "Mutation latency.", ["mutation"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.mutation_errors = Counter(
            "racewire_mutation_errors", "Mutations that failed, by error.", ["mutation", "error"], registry=r
        )
        self.client_requests = Counter(
            "racewire_client_requests",
            "Operations by the token's client (a listed partner's id, `other` or `none`).",
            ["client"],
            registry=r,
        )
        self.client_errors = Counter(
            "racewire_client_errors", "Operations that ended with errors, by client.", ["client"], registry=r
        )
        self.client_cost = Counter(
            "racewire_client_cost_spent", "Query cost of the operations run, by client.", ["client"], registry=r
        )
        self.client_active = Gauge(
            "racewire_client_active_subscriptions",
            "Active subscriptions by client (a listed partner's are each its own).",
            ["client"],
            registry=r,
        )

    def published(self, stream: str) -> None:
        self.published_events.labels("odds" if channel_names.race_of(stream) is not None else stream).inc()

    def listening(self, field: str, delta: int) -> None:
        self.subscriptions.labels(field).inc(delta)

    def sent(self, field: str, stored_at: datetime | None, copies: int = 1) -> None:
        if copies <= 0:
            return
        self.delivered.labels(field).inc(copies)
        if stored_at is not None:
            if stored_at.tzinfo is None:
                stored_at = stored_at.replace(tzinfo=UTC)
            lag = (datetime.now(UTC) - stored_at).total_seconds()
            self.latency.labels(field).observe(max(lag, 0.0))

    def conflated(self, stream: str) -> None:
        self.conflations.inc()

    def dropped(self, count: int) -> None:
        self.drops.inc(count)

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    def broadcaster_reconnected(self) -> None:
        self.reconnects.inc()

    def client_operation(self, client: str, *, cost: int | None, failed: bool) -> None:
        self.client_requests.labels(client).inc()
        if failed:
            self.client_errors.labels(client).inc()
        if cost:
            self.client_cost.labels(client).inc(cost)

    def client_subscriptions(self, client: str, delta: int) -> None:
        self.client_active.labels(client).inc(delta)

    @contextmanager
    def mutation(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        except Exception as error:
            self.mutation_errors.labels(name, getattr(error, "code", type(error).__name__)).inc()
            raise
        finally:
            self.mutations.labels(name).observe(time.perf_counter() - start)

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
