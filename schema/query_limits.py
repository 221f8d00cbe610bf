"""Published query limits: depth, aliases, fragment spreads, tokens and cost, the partners-only
gate, the mutation rate per token, and each client's own controls (schema/clients.py), all
enforced by one extension per operation (schema/operation_gate.py). Each refusal is a typed
error with a stable `extensions.code` (schema/limit_errors.py).

A document is judged in time linear in its size: its figures are measured in one pass
(`schema.measure`) and checked before graphql-core validates it, and validation's one
quadratic rule runs on a budget (`schema.merge_budget`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from strawberry.extensions import SchemaExtension

from schema.merge_budget import DEFAULT_BUDGET, budgeted_field_merging
from schema.operation_gate import OperationGate


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int = 12
    max_aliases: int = 30
    max_fragment_spreads: int = 100
    max_tokens: int = 1_000
    max_query_length: int = 32 * 1024
    max_cost: int = 5_000
    default_list_size: int = 10
    validation_budget: int = DEFAULT_BUDGET


def limit_extensions(limits: QueryLimits) -> list[Callable[[], SchemaExtension]]:
    """A factory, so every operation gets a gate of its own; the budgeted rule is built once."""
    merging = budgeted_field_merging(limits.validation_budget)
    return [functools.partial(OperationGate, limits=limits, merging=merging)]
