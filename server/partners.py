"""Partners: each client's own controls, selected by its token's client identity (`client`, else
`azp`): a query cost limit, a request rate and a maximum of active subscriptions
(RACEWIRE_PARTNERS_FILE, one TOML table per client id), and its registered operations (a manifest
per client, server/manifests.py). Every client is metered: a listed partner under its id; any other
token with a client as `other`, one without as `none` (so metrics stay as few as the partners).

Quotas are per process, like the mutation rate: with N processes a partner gets N times its rate
and subscriptions (docs/partners.md says so)."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from resolvers.viewer import Viewer
from server.live.fanout_plan import Plan, Planner
from server.manifests import ManifestError, Operation, load_manifests
from server.rate_limits import TokenBucket

NONE = "none"
OTHER = "other"


class PartnersError(ValueError):
    """Partner settings this server refuses to start with."""


@dataclass(frozen=True)
class PartnerSettings:
    max_query_cost: int | None = None
    requests_per_second: float | None = None
    request_burst: int | None = None
    max_subscriptions: int | None = None


class ClientMeter(Protocol):
    def client_operation(self, client: str, *, cost: int | None, failed: bool) -> None: ...

    def client_subscriptions(self, client: str, delta: int) -> None: ...


class _NoMeter:
    def client_operation(self, client: str, *, cost: int | None, failed: bool) -> None:
        pass

    def client_subscriptions(self, client: str, delta: int) -> None:
        pass


class Quota:
    """One client's controls and meter (schema.clients.ClientQuota), shared by all its tokens."""

    def __init__(
        self, label: str, settings: PartnerSettings, documents: frozenset[str] | None, meter: ClientMeter
    ) -> None:
        self.label = label
        self.max_cost = settings.max_query_cost
        self.documents = documents
        self.max_subscriptions = settings.max_subscriptions
        self.active_subscriptions = 0
        rate = settings.requests_per_second
        self._bucket = TokenBucket(rate, settings.request_burst or max(1, int(rate))) if rate is not None else None
        self._meter = meter

    def take_request(self) -> float:
        return self._bucket.take() if self._bucket is not None else 0.0

    def open_subscription(self) -> bool:
        if self.max_subscriptions is not None and self.active_subscriptions >= self.max_subscriptions:
            return False
        self.active_subscriptions += 1
        self._meter.client_subscriptions(self.label, 1)
        return True

    def close_subscription(self) -> None:
        self.active_subscriptions -= 1
        self._meter.client_subscriptions(self.label, -1)

    def record(self, *, cost: int | None, failed: bool) -> None:
        self._meter.client_operation(self.label, cost=cost, failed=failed)


class Partners:
    """The listed partners' quotas, and the shared ones of every other client."""

    def __init__(
        self,
        settings: Mapping[str, PartnerSettings] | None = None,
        manifests: Mapping[str, Iterable[Operation]] | None = None,
        *,
        default_documents: Iterable[str] | None = None,
        meter: ClientMeter | None = None,
    ) -> None:
        meter = meter or _NoMeter()
        settings, manifests = dict(settings or {}), {c: list(o) for c, o in (manifests or {}).items()}
        default = frozenset(default_documents) if default_documents is not None else None
        self.documents = {operation.id: operation.body for ops in manifests.values() for operation in ops}
        self._quotas = {
            client: Quota(
                client,
                settings.get(client, PartnerSettings()),
                frozenset(o.id for o in manifests[client]) if client in manifests else default,
                meter,
            )
            for client in sorted({*settings, *manifests})
        }
        self._other = Quota(OTHER, PartnerSettings(), default, meter)
        self._none = Quota(NONE, PartnerSettings(), default, meter)

    @property
    def clients(self) -> list[str]:
        return list(self._quotas)

    def listed(self, viewer: Viewer) -> bool:
        return viewer.client is not None and viewer.client in self._quotas

    def quota_for(self, viewer: Viewer) -> Quota:
        if viewer.client is None:
            return self._none
        return self._quotas.get(viewer.client, self._other)


def read_settings(path: Path) -> dict[str, PartnerSettings]:
    """RACEWIRE_PARTNERS_FILE: `[client-id]` tables of max_query_cost, requests_per_second,
    request_burst and max_subscriptions."""
    try:
        tables = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PartnersError(f"RACEWIRE_PARTNERS_FILE={path}: {error}") from None
    except RecursionError:  # tomllib recurses per level of nested arrays and inline tables
        raise PartnersError(f"RACEWIRE_PARTNERS_FILE={path}: nested too deep") from None
    known = {f.name: f for f in fields(PartnerSettings)}
    found = {}
    for client, table in tables.items():
        if not isinstance(table, dict):
            raise PartnersError(f"{path}: [{client}] must be a table of settings")
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise PartnersError(f"{path}: [{client}] has unknown settings {unknown} (known: {sorted(known)})")
        for name, value in table.items():
            _check(path, client, name, value)
        found[client] = PartnerSettings(**table)
    return found


def _check(path: Path, client: str, name: str, value: Any) -> None:
    number = (int, float) if name == "requests_per_second" else (int,)
    # TOML has inf and nan: neither is a rate (nan passes every comparison's refusal).
    if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value) or value <= 0:
        raise PartnersError(
            f"{path}: [{client}] {name} must be a positive {'finite number' if len(number) > 1 else 'integer'}"
        )


def load_partners(
    *, partners_file: str, documents_dir: str, default_documents: Iterable[str] | None, meter: ClientMeter | None = None
) -> Partners:
    settings = read_settings(Path(partners_file)) if partners_file else {}
    try:
        manifests = load_manifests(Path(documents_dir)) if documents_dir else {}
    except ManifestError as error:
        raise PartnersError(str(error)) from None
    return Partners(settings, manifests, default_documents=default_documents, meter=meter)


class UnsharedForPartners(Planner):
    """The fan-out's planner, declining to share a listed partner's subscriptions: each then runs
    on its own execution, where the partner's trusted documents, cost limit, request rate and
    subscription allowance apply, and its meter counts it (a shared group is checked once, for
    the member who started it)."""

    def __init__(self, partners: Partners, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._partners = partners

    def plan(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None, viewer: Viewer
    ) -> Plan | None:
        if self._partners.listed(viewer):
            return None
        return super().plan(query, variables, operation_name, viewer)
