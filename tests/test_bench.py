"""``make bench`` in short, inside ``make test``: every section of every project, two runs of each.

It proves that the benchmark runs to its end, so that it cannot break unseen; its figures are
printed after the test results (``pytest_terminal_summary``), never asserted: speed is not a test.
"""

import sys
from collections.abc import Callable

import pytest

from tests.conftest import TEMPLATE_ROOT, run

pytestmark = [pytest.mark.bench, pytest.mark.suite]
SECTIONS = ("Zipped asset", "Cold starts", "1,000 concurrent invocations", "One offline saga", "Failure matrix")


def test_the_benchmark_runs_every_section_of_every_project_to_its_end(
    record_property: Callable[[str, object], None],
) -> None:
    result = run([sys.executable, "-m", "bench.template", "--runs", "2", "--renders", "1"], cwd=TEMPLATE_ROOT)

    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    figures = result.stdout[result.stdout.rindex("\ncpu: ") :]
    record_property("figures", figures)
    for project in ("data_api", "rds_proxy", "1 step", "8 steps"):
        assert f"== {project}:" in result.stdout
    assert [section for section in SECTIONS if section not in result.stdout] == []
    assert "(failed:" not in figures, "a failure matrix failed"
