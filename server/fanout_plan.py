"""Which subscriptions may share one execution, and under what key.

Subscribers whose results must be identical form a group: same document, same operation, same
variables (the resume cursor aside) and same scopes. Only fields that read nothing from the
viewer are shared; anything else runs on its own."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
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

SHAREABLE_FIELDS = frozenset({"oddsUpdated", "raceStatus", "news"})
RESUME_ARGUMENT = "after"
SNAPSHOT_ARGUMENT = "snapshot"


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

    def __init__(self, *, cache_size: int = 512, max_tokens: int = 1_000, max_length: int = 32 * 1024) -> None:
        # The schema's own limits: a document over them is left to run on its own, and refused there.
        self._max_tokens = max_tokens
        self._max_length = max_length
        self._documents: OrderedDict[str, tuple[str, DocumentNode | None]] = OrderedDict()
        self._plans: OrderedDict[tuple[Any, ...], Plan | None] = OrderedDict()
        self._cache_size = cache_size

    def plan(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None, viewer: Viewer
    ) -> Plan | None:
        """The sharing plan for a subscribe message, or None to run it on its own."""
        try:
            given = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:
            return None
        cache_key = (query, given, operation_name, viewer.scopes, viewer.authenticated)
        if cache_key in self._plans:
            self._plans.move_to_end(cache_key)
            return self._plans[cache_key]
        plan = self._plan(query, variables, operation_name, viewer)
        self._plans[cache_key] = plan
        if len(self._plans) > self._cache_size:
            self._plans.popitem(last=False)
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
        field = operation.selection_set.selections[0].name.value  # type: ignore[attr-defined]
        return Plan(key, variables, group_variables, resume_variable, resumes, snapshot, field)

    def _operation(self, query: str, operation_name: str | None) -> tuple[str, OperationDefinitionNode | None]:
        """The query text as first seen (one copy for all), and its one operation if shareable."""
        if len(query) > self._max_length:
            return query, None
        cached = self._documents.get(query)
        if cached is None:
            try:
                document: DocumentNode | None = parse(query, no_location=True, max_tokens=self._max_tokens)
            except GraphQLError:
                document = None
            cached = self._documents[query] = (query, document)
            if len(self._documents) > self._cache_size:
                self._documents.popitem(last=False)
        query, document = cached
        if document is None:
            return query, None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is not None:
            operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
        if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
            return query, None
        return query, operations[0]


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
