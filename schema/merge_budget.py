"""graphql-core's field-merging rule on a budget the server can afford.

OverlappingFieldsCanBeMergedRule compares every pair of fields that share a response name
(and every pair of fragments spread side by side), so its work grows with the square of a
document's size. graphql-core meters that work and gives up past a budget, but its default
(500,000 units) takes over a second to spend; past ours the document is refused as too complex.
The one reach-in: the rule's `rule_context.remaining_complexity_budget`, which graphql-core
offers no argument for (guarded by tests/schema/test_merge_budget.py)."""

from __future__ import annotations

from typing import Any

from graphql import OverlappingFieldsCanBeMergedRule, ValidationContext
from graphql.validation import ASTValidationRule
from graphql.validation.validate import ValidationAbortedError

DEFAULT_BUDGET = 2_000


class FieldMergingTooComplex(ValidationAbortedError):
    def __init__(self, budget: int) -> None:
        super().__init__(
            f"too many overlapping fields to check (a budget of {budget} comparisons)",
            extensions={"code": "QUERY_TOO_COMPLEX"},
        )


def budgeted_field_merging(budget: int = DEFAULT_BUDGET) -> type[ASTValidationRule]:
    class BudgetedFieldMerging(OverlappingFieldsCanBeMergedRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.rule_context.remaining_complexity_budget = budget

        def enter_selection_set(self, *args: Any) -> None:
            try:
                super().enter_selection_set(*args)
            except ValidationAbortedError:
                if self.rule_context.remaining_complexity_budget >= 0:
                    raise  # graphql-core's own limit on the number of errors
                raise FieldMergingTooComplex(budget) from None

    return BudgetedFieldMerging


def with_budget(
    rules: tuple[type[ASTValidationRule], ...], budgeted: type[ASTValidationRule]
) -> tuple[type[ASTValidationRule], ...]:
    """The rules, with graphql-core's field-merging rule replaced by `budgeted`."""
    return tuple(budgeted if rule is OverlappingFieldsCanBeMergedRule else rule for rule in rules)
