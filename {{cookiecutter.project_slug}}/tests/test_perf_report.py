"""The README's cost per saga: counted from offline executions, and current."""

import pytest

from devtools import cost, perf_report
from infra.config import STEPS


@pytest.fixture(scope="module")
def costs() -> list[cost.PathCost]:
    return cost.measure_offline()


def test_the_readme_cost_figures_are_current(costs: list[cost.PathCost]) -> None:
    readme = (perf_report.PROJECT_DIR / perf_report.README_FILE).read_text(encoding="utf-8")
    assert perf_report.with_block(readme, costs) == readme, "run `make perf-report`"


def test_every_path_is_counted_from_its_execution(costs: list[cost.PathCost]) -> None:
    by_path = {item.path: item for item in costs}
    assert [item.path for item in costs] == [path.name for path in cost.paths()]
    happy = by_path["happy path"]
    assert (happy.status, happy.invocations) == ("SUCCEEDED", len(STEPS))
    assert by_path[f"{STEPS[0].name} rejected"].invocations == 1
    # A retried step is invoked, and billed, once more.
    transient = by_path[f"{STEPS[0].name} transient"]
    assert transient.invocations == happy.invocations + 1
    assert transient.state_transitions == happy.state_transitions + 1


def test_prices_follow_the_stated_constants() -> None:
    item = cost.PathCost("example", "SUCCEEDED", state_transitions=10, invocations=3)
    standard = item.per_million("STANDARD") / 1_000_000
    assert standard == pytest.approx(10 * cost.STANDARD_PER_STATE_TRANSITION + item.lambda_price())
    express = item.per_million("EXPRESS") / 1_000_000
    billed_seconds = 0.3  # three invocations of 100 ms, one after the other
    workflow = cost.EXPRESS_PER_REQUEST + billed_seconds * cost.EXPRESS_MEMORY_GB * cost.EXPRESS_PER_GB_SECOND
    assert express == pytest.approx(workflow + item.lambda_price())
