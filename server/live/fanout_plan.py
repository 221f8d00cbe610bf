"""Which subscriptions may share one execution, and under what key.

Subscribers whose results must be identical form a group: same document, same operation, same
variables (the resume cursor aside) and same scopes. Only fields that read nothing from the
viewer are shared; anything else runs on its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import orjson
from cachetools import LRUCache
from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
)

from resolvers.viewer import Viewer
from schema.documents import MAX_CACHED_QUERY_BYTES, document_bytes, text_bytes

# Streams whose events depend only on the arguments (none reads the viewer): the group key's
# scopes and sign-in keep apart what a field's permissions might tell apart.
SHAREABLE_FIELDS = frozenset({"oddsUpdated", "raceUpdated", "raceStatus", "feedStatus", "news"})
RESUME_ARGUMENT = "after"
SNAPSHOT_ARGUMENT = "snapshot"
CACHE_BYTES = 8 * 1024 * 1024  # for each of the planner's two caches
PLAN_BYTES = 1024  # a plan's own objects, beside its text and its variables (decoded: ~4x their JSON)


@dataclass(frozen=True)
class GroupKey:
    query: str
    operation_name: str | None
    variables: str  # canonical JSON; a str is its exact size, orjson's bytes are over-allocated
    scopes: frozenset[str]
    authenticated: bool


@dataclass(frozen=True)
class Plan:
    key: GroupKey
    variables: dict[str, Any]  # the member's own; shared by identical subscribers, never changed
    group_variables: dict[str, Any]  # the member's variables with the resume cursor cleared
    resume_variable: str | None
    resumes: bool
    wants_snapshot: bool
    field: str


class Planner:
    """Plans are kept (most recent first): identical subscribers share one plan, and with it one
    copy of the query text and variables, instead of each holding its own decoded message."""

    def __init__(self, *, max_bytes: int = CACHE_BYTES, max_tokens: int = 1_000, max_length: int = 32 * 1024) -> None:
        # The schema's own limits: a document over them is left to run on its own, and refused there.
        self._max_tokens = max_tokens
        self._max_length = max_length
        self._documents: LRUCache[str, _Parsed] = LRUCache(max_bytes, getsizeof=_parsed_bytes)
        self._plans: LRUCache[tuple[Any, ...], _Planned] = LRUCache(max_bytes, getsizeof=_planned_bytes)

    def plan(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None, viewer: Viewer
    ) -> Plan | None:
        """The sharing plan for a subscribe message, or None to run it on its own."""
        try:
            given = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:
            return None
        cache_key = (query, given, operation_name, viewer.scopes, viewer.authenticated)
        planned = self._plans.get(cache_key)
        if planned is not None:
            return planned.plan
        size = text_bytes(query) + 4 * text_bytes(given)
        if size > MAX_CACHED_QUERY_BYTES:
            return None  # a document or variables this large are run on their own, and nothing is kept
        plan = self._plan(query, variables, operation_name, viewer)
        self._plans[cache_key] = _Planned(plan, PLAN_BYTES + size)
        return plan

    def _plan(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None, viewer: Viewer
    ) -> Plan | None:
        query, operation = self._operation(query, operation_name)
        if operation is None:
            return None
        variables = dict(variables or {})
        defaults = {
            d.variable.name.value: d.default_value for d in operation.variable_definitions or () if d.default_value
        }
        resume_variable: str | None = None
        resumes = snapshot = False
        for field in operation.selection_set.selections:
            if not isinstance(field, FieldNode) or field.name.value not in SHAREABLE_FIELDS or field.directives:
                return None
            for argument in field.arguments or ():
                name, value = argument.name.value, argument.value
                if name == RESUME_ARGUMENT:
                    if not isinstance(value, VariableNode):
                        return None  # a cursor written into the document cannot be shared
                    resume_variable = value.name.value
                    resumes = resumes or variables.get(resume_variable) is not None
                elif name == SNAPSHOT_ARGUMENT:
                    snapshot = snapshot or _truthy(value, variables, defaults)
        shared = {k: v for k, v in variables.items() if k != resume_variable}
        canonical = orjson.dumps(shared, option=orjson.OPT_SORT_KEYS).decode()
        key = GroupKey(query, operation_name, canonical, viewer.scopes, viewer.authenticated)
        group_variables = {**shared, resume_variable: None} if resume_variable else shared
        root_field = cast(FieldNode, operation.selection_set.selections[0]).name.value  # each one checked above
        return Plan(key, variables, group_variables, resume_variable, resumes, snapshot, root_field)

    def _operation(self, query: str, operation_name: str | None) -> tuple[str, OperationDefinitionNode | None]:
        """The query text as first seen (one copy for all), and its one operation if shareable."""
        if len(query) > self._max_length:
            return query, None
        cached = self._documents.get(query)
        if cached is None:
            try:
                document: DocumentNode | None = parse(query, max_tokens=self._max_tokens)
            except GraphQLError:
                document = None
            cached = self._documents[query] = _Parsed(query, document)
        query, document = cached.query, cached.document
        if document is None:
            return query, None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is not None:
            operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
        if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
            return query, None
        return query, operations[0]


@dataclass(frozen=True)
class _Parsed:
    query: str
    document: DocumentNode | None


@dataclass(frozen=True)
class _Planned:
    plan: Plan | None
    bytes: int


def _parsed_bytes(parsed: _Parsed) -> int:
    return text_bytes(parsed.query) if parsed.document is None else document_bytes(parsed.document)


def _planned_bytes(planned: _Planned) -> int:
    return planned.bytes


def _truthy(value: Any, variables: dict[str, Any], defaults: dict[str, Any]) -> bool:
    if isinstance(value, BooleanValueNode):
        return bool(value.value)
    if isinstance(value, VariableNode):
        name = value.name.value
        if name in variables:
            return bool(variables[name])
        default = defaults.get(name)
        return isinstance(default, BooleanValueNode) and default.value
    return False
