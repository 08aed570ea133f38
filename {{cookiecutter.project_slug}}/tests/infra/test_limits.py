"""Every path of the definition fits its workflow's limits, by construction, as ``infra.limits`` reads it."""

from typing import Any

import pytest

from infra import definition as builder
from infra import limits
from infra.timing import DATABASE_WAIT_SECONDS, EXPRESS_FUNCTION_TIMEOUTS, INIT_PHASE_SECONDS, express, standard
{%- if cookiecutter.database_mode == "rds_proxy" %}
from {{ cookiecutter.package_name }}.database.rds_proxy import READY_TIMEOUT_SECONDS
{%- endif %}
from {{ cookiecutter.package_name }}.naming import Step
{%- if cookiecutter.database_mode == "rds_proxy" %}
from {{ cookiecutter.package_name }}.runtime.idempotency import SPARE_MILLISECONDS
{%- endif %}
from {{ cookiecutter.package_name }}.saga import STEPS, WORKFLOW_TYPE

EIGHT = tuple(Step(f"s{index}", f"undo{index}" if index <= 6 else None) for index in range(1, 9))


def test_this_sagas_definition_keeps_every_promise_and_limit() -> None:
    assert limits.check(builder.saga_definition(), builder.saga_timing(), WORKFLOW_TYPE) == []


@pytest.mark.parametrize("steps", [STEPS, EIGHT, (Step("only", "undo_only"),)], ids=["this-saga", "eight", "one"])
def test_an_express_saga_gets_the_most_generous_timing_that_fits_or_is_refused(steps: tuple[Step, ...]) -> None:
    tightest = builder.build_definition(steps, "EXPRESS", express(EXPRESS_FUNCTION_TIMEOUTS[-1]))
    if limits.longest_path(tightest).total_seconds > limits.EXPRESS_BUDGET_SECONDS:
        with pytest.raises(limits.SagaDoesNotFit, match="cannot end within 270 s"):
            builder.saga_timing(steps, "EXPRESS")
        return
    timing = builder.saga_timing(steps, "EXPRESS")
    definition = builder.build_definition(steps, "EXPRESS", timing)
    assert limits.check(definition, timing, "EXPRESS") == []
    more = [seconds for seconds in EXPRESS_FUNCTION_TIMEOUTS if seconds > timing.function_timeout]
    for seconds in more:
        looser = builder.build_definition(steps, "EXPRESS", express(seconds))
        assert limits.longest_path(looser).total_seconds > limits.EXPRESS_BUDGET_SECONDS


def test_eight_steps_do_not_fit_an_express_workflow_but_fit_a_standard_one() -> None:
    with pytest.raises(limits.SagaDoesNotFit):
        builder.saga_timing(EIGHT, "EXPRESS")
    assert limits.check(builder.build_definition(EIGHT, "STANDARD", standard()), standard(), "STANDARD") == []


def test_the_worst_case_of_a_task_is_every_attempt_timing_out_after_the_longest_waits() -> None:
    task = {
        "Type": "Task",
        "TimeoutSeconds": 10,
        "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 1, "MaxAttempts": 2}],
    }
    definition = {"StartAt": "T", "States": {"T": {**task, "Next": "Done"}, "Done": {"Type": "Succeed"}}}
    assert limits.longest_path(definition) == limits.Cost(seconds=3 * 10 + 1 + 2, transitions=3 + 1)


{%- if cookiecutter.database_mode == "data_api" %}


def test_a_paused_database_is_waited_for_once_per_path() -> None:
    resuming = {"ErrorEquals": ["DatabaseNotReady"], "IntervalSeconds": 60, "MaxAttempts": 1, "JitterStrategy": "NONE"}
    task = {"Type": "Task", "TimeoutSeconds": 10, "Retry": [resuming]}
    definition = {"StartAt": "A", "States": {"A": {**task, "Next": "B"}, "B": {**task, "End": True}}}
    assert limits.longest_path(definition).total_seconds == 10 + 10 + (60 + 10)
{%- else %}


def test_waiting_for_a_database_connection_counts_at_every_task() -> None:
    waiting = {"ErrorEquals": ["DatabaseNotReady"], "IntervalSeconds": 6, "MaxAttempts": 1, "JitterStrategy": "NONE"}
    task = {"Type": "Task", "TimeoutSeconds": 10, "Retry": [waiting]}
    definition = {"StartAt": "A", "States": {"A": {**task, "Next": "B"}, "B": {**task, "End": True}}}
    assert limits.longest_path(definition).total_seconds == 2 * (10 + (6 + 10))


def test_every_function_has_time_to_open_its_first_connection_and_work() -> None:
    shortest = min(*EXPRESS_FUNCTION_TIMEOUTS, standard().function_timeout)
    assert shortest >= READY_TIMEOUT_SECONDS + SPARE_MILLISECONDS / 1000 + 1
    problems = limits.check(builder.saga_definition(), express(3), "EXPRESS")
    assert any("a first invocation needs" in problem for problem in problems)
{%- endif %}


def problems_with(**changes: Any) -> list[str]:
    definition = builder.build_definition(STEPS, "STANDARD", standard())
    definition["States"][STEPS[0].title].update(changes)
    return limits.check(definition, standard(), "STANDARD")


def test_the_check_fails_a_task_that_could_time_out_while_its_function_runs() -> None:
    (problem,) = problems_with(TimeoutSeconds=standard().function_timeout + INIT_PHASE_SECONDS)
    assert "does not exceed the function's" in problem


def test_the_check_fails_retry_budgets_too_short_for_a_duplicate_a_paused_database_or_throttling() -> None:
    problems = problems_with(Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}])
    assert any("StepInProgress waits less than" in problem for problem in problems)
    assert any(f"DatabaseNotReady waits less than {DATABASE_WAIT_SECONDS} s" in problem for problem in problems)
    assert any("Lambda.TooManyRequestsException waits less than 60 s" in problem for problem in problems)


def test_the_check_fails_an_express_path_longer_than_five_minutes_less_the_margin() -> None:
    definition = builder.build_definition(EIGHT, "EXPRESS", express(3))
    assert any("more than the 270 s" in problem for problem in limits.check(definition, express(3), "EXPRESS"))


def test_a_definition_that_loops_has_no_worst_case() -> None:
    looping = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}
    with pytest.raises(ValueError, match="loops"):
        limits.longest_path(looping)
