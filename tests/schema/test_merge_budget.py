"""The budgeted field-merging rule: graphql-core's own meter, set lower. It reaches into the
rule's `rule_context.remaining_complexity_budget`; an upgrade that moves it must fail here."""

from __future__ import annotations

from graphql import parse, validate
from graphql.validation.rules.overlapping_fields_can_be_merged import OverlappingFieldsCanBeMergedRule, RuleContext

from schema.merge_budget import budgeted_field_merging
from schema.schema import schema


def test_graphql_core_still_meters_the_rule_where_the_budget_is_set() -> None:
    assert "remaining_complexity_budget" in RuleContext.__slots__, (
        "graphql-core moved the field-merging rule's complexity budget: schema/merge_budget.py needs a new hook"
    )
    assert issubclass(budgeted_field_merging(), OverlappingFieldsCanBeMergedRule)


def side_by_side(fragments: int) -> str:
    defined = " ".join(f"fragment F{n} on Race {{ id name }}" for n in range(fragments))
    spreads = " ".join(f"...F{n}" for n in range(fragments))
    return f'{{ race(id: "1") {{ {spreads} }} }} {defined}'


def test_a_document_over_the_budget_is_refused_and_one_under_it_is_not() -> None:
    document = parse(side_by_side(40))
    refused = validate(schema._schema, document, [budgeted_field_merging(50)])  # noqa: SLF001
    assert [e.extensions for e in refused] == [{"code": "QUERY_TOO_COMPLEX"}]
    assert validate(schema._schema, document, [budgeted_field_merging(100_000)]) == []  # noqa: SLF001
