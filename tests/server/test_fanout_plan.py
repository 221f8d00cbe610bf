"""The fan-out planner's caches are bounded by bytes; a large document is planned but not kept."""

from __future__ import annotations

from resolvers.viewer import Viewer
from schema.documents import MAX_CACHED_QUERY_BYTES
from server.live.fanout_plan import Planner

ANONYMOUS = Viewer(subject=None, scopes=frozenset())


def odds(tag: str, padding: int = 0) -> str:
    return f'# {tag}{"x" * padding}\nsubscription {{ oddsUpdated(raceIds: ["1"]) {{ seq }} }}'


def test_the_planner_stays_within_its_byte_budget() -> None:
    budget = 256 * 1024
    planner = Planner(max_bytes=budget)
    for n in range(500):
        plan = planner.plan(odds(f"s{n}", 1_000), None, None, ANONYMOUS)
        assert plan is not None and plan.field == "oddsUpdated"
        assert planner._documents.currsize <= budget and planner._plans.currsize <= budget  # noqa: SLF001
    assert len(planner._plans) < 500  # noqa: SLF001 - the oldest were forgotten
    latest = odds("s499", 1_000)
    assert planner.plan(latest, None, None, ANONYMOUS) is planner.plan(latest, None, None, ANONYMOUS)


def test_a_document_over_the_size_runs_on_its_own_and_is_not_kept() -> None:
    planner = Planner()
    assert planner.plan(odds("large", MAX_CACHED_QUERY_BYTES), None, None, ANONYMOUS) is None
    assert len(planner._plans) == 0 and len(planner._documents) == 0  # noqa: SLF001
    assert planner.plan(odds("small"), None, None, ANONYMOUS) is not None  # the positive control


def test_large_variables_are_not_kept_either() -> None:
    planner = Planner()
    variables = {"padding": "x" * MAX_CACHED_QUERY_BYTES}
    assert planner.plan(odds("v"), variables, None, ANONYMOUS) is None
    assert len(planner._plans) == 0  # noqa: SLF001
