"""``make bench`` in short, inside ``make test``: every section, two runs of each, in both database modes.

It proves that the benchmark runs to its end, so that it cannot break unseen; its figures are
printed after the test results (``pytest_terminal_summary``), never asserted: speed is not a test.
The sagas of 1 and 8 steps are left out: they add only the offline saga and the failure matrix,
whose generated suites the template's matrix already runs for sagas of one and eight steps.
"""

import sys
from collections.abc import Callable

import pytest

from tests.conftest import TEMPLATE_ROOT, run

pytestmark = [pytest.mark.bench, pytest.mark.suite]
PROJECTS = ("data_api", "rds_proxy")
SECTIONS = ("Zipped asset", "Cold starts", "1,000 concurrent invocations", "One offline saga", "Failure matrix")


def test_the_benchmark_runs_every_section_to_its_end(
    record_property: Callable[[str, object], None],
) -> None:
    command = [sys.executable, "-m", "bench.template", "--runs", "2", "--renders", "1", "--only", ",".join(PROJECTS)]
    result = run(command, cwd=TEMPLATE_ROOT)

    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    figures = result.stdout[result.stdout.rindex("\ncpu: ") :]
    record_property("figures", figures)
    assert [project for project in PROJECTS if f"== {project}:" not in result.stdout] == []
    assert [section for section in SECTIONS if section not in result.stdout] == []
    assert "(failed:" not in figures, "a failure matrix failed"
