{%- set saga = cookiecutter | saga_model -%}
"""The state machine, run for real offline: every step fails in every way, every compensation fails.

Each test runs ``statemachine/saga.asl.json`` in moto's interpreter against the real handlers and
the steps' own business code, which writes to a real PostgreSQL; each assertion is about what the
definition, the handlers and the database do together.
"""

{% if saga.compensated_steps -%}
import json
{% endif -%}
from typing import TYPE_CHECKING, Any

import pytest

from devtools.harness.faults import STEP_FAILURES, Fault
from infra import limits
from infra.definition import (
    ALREADY_STARTED,
    CHECK_SAGA_ID,
    INVALID_SAGA_INPUT,
    READ_SAGA_ID,
    VALIDATE_INPUT,
    record_state,
)
from {{ saga.package_name }}.naming import Step
from {{ saga.package_name }}.saga import STEPS

if TYPE_CHECKING:
    from devtools.harness.runner import SagaHarness

COMPENSATED = [step for step in STEPS if step.compensation]
ERRORS = {"rejected": "{title}Rejected", "timeout": "States.Timeout", "crash": "InjectedCrash"}


def saga_input(saga_id: str) -> dict[str, Any]:
    return {"saga_id": saga_id, "payload": {"order_id": "o-1"}}


def undone_after(failed: int, kind: str) -> list[str]:
    """The compensations that must run, in order, when step ``failed`` (0-based) fails this way."""
    ran = STEPS[: failed + 1] if kind in {"timeout", "crash"} else STEPS[:failed]
    return [str(step.compensation) for step in reversed(ran) if step.compensation]


def expected_calls(failed: int, kind: str) -> list[str]:
    titles = [step.title for step in STEPS]
    if kind == "transient":
        return [*titles[: failed + 1], titles[failed], *titles[failed + 1 :]]
    undone = undone_after(failed, kind)
    return [
        *titles[: failed + 1],
        *[step.compensation_title for step in reversed(STEPS) if step.compensation in undone],
    ]


def rule_for(definition: dict[str, Any], state: str, error: str) -> dict[str, Any]:
    rule = limits.first_rule_for(definition["States"][state], error)
    assert rule is not None
    return dict(rule)


@pytest.mark.parametrize("kind", STEP_FAILURES)
@pytest.mark.parametrize("step", STEPS, ids=lambda step: step.name)
def test_every_step_failing_every_way(
    harness: "SagaHarness", definition: dict[str, Any], step: Step, kind: str
) -> None:
    failed = STEPS.index(step)
    run = harness.run(saga_input(f"{step.name}-{kind}"), failures={step.name: kind})

    assert run.calls == expected_calls(failed, kind)
    assert run.dlq_messages == []
    assert run.status == "SUCCEEDED", "a compensated saga is an outcome, not a failed execution"
    if kind == "transient":
        assert (run.event_types, run.record and run.record["status"]) == (["SagaSucceeded"], "SUCCEEDED")
        assert len(run.retry_delays) == 1
        assert 0 <= run.retry_delays[0] <= rule_for(definition, step.title, "TransientError")["IntervalSeconds"]
        assert set(run.effects.values()) == {"DONE"}
        return

    assert run.event_types == ["SagaFailed"]
    error = ERRORS[kind].format(title=step.title)
    detail = {"saga_id": run.saga_id, "status": "FAILED", "failed_step": step.name, "error": error}
    assert run.events[0]["detail"] == detail
    assert run.record is not None
    assert (run.record["status"], run.record["failed_step"], run.record["error"]) == ("FAILED", step.name, error)
    assert run.retry_delays == []
    for position, other in enumerate(STEPS):
        did_work = position < failed or (position == failed and kind in {"timeout", "crash"})
        expected = ("COMPENSATED" if other.compensation else "DONE") if did_work else None
        assert run.effects[other.name] == expected, other.name


{% if saga.compensated_steps -%}
@pytest.mark.parametrize("failing", COMPENSATED, ids=lambda step: str(step.compensation))
def test_a_failing_compensation_does_not_stop_the_others(
    harness: "SagaHarness", definition: dict[str, Any], failing: Step
) -> None:
    last = STEPS[-1]
    run = harness.run(saga_input(f"undo-{failing.compensation}"), {last.name: "crash"}, {str(failing.compensation)})

    rule = rule_for(definition, failing.compensation_title, "InjectedCrash")
    expected = [step.title for step in STEPS]
    for step in reversed(COMPENSATED):
        expected += [step.compensation_title] * (1 + rule["MaxAttempts"] if step is failing else 1)
    assert run.calls == expected
    assert (run.status, run.error) == ("FAILED", "CompensationFailed")
    assert run.event_types == ["SagaCompensationFailed"]
    assert run.record is not None
    assert run.record["status"] == "COMPENSATION_FAILED"
    bounds = limits.retry_delays(rule)
    assert all(0 <= delay <= bound for delay, bound in zip(run.retry_delays, bounds, strict=True))

    (message,) = run.dlq_messages
    assert message["reason"] == "COMPENSATION_FAILED"
    state = message["state"]
    assert (state["saga_id"], state["payload"]) == (run.saga_id, {"order_id": "o-1"})
    assert set(state["results"]) == {step.name for step in STEPS[:-1]}
    assert state["failure"] == {"step": last.name, "error": "InjectedCrash"}
    assert state["compensation_errors"] == {failing.compensation: {"error": "InjectedCrash"}}
    assert set(state.get("compensations", {})) == {step.compensation for step in COMPENSATED} - {failing.compensation}
    # Errors travel by name only: no message, no stack trace, nothing of the payload beyond the state's own.
    assert "Cause" not in json.dumps(message)
    assert run.effects == {
        step.name: "DONE" if step is failing or step.compensation is None else "COMPENSATED" for step in STEPS
    }


{% endif -%}
def test_the_happy_path_runs_every_step_once(harness: "SagaHarness") -> None:
    run = harness.run(saga_input("happy"))

    assert run.calls == [step.title for step in STEPS]
    assert (run.status, run.error, run.event_types) == ("SUCCEEDED", None, ["SagaSucceeded"])
    assert run.events[0]["detail"] == {"saga_id": "happy", "status": "SUCCEEDED"}
    assert run.output is not None
    assert set(run.output["results"]) == {step.name for step in STEPS}
    assert run.record is not None
    assert run.record["status"] == "SUCCEEDED"
    assert set(run.effects.values()) == {"DONE"}


@pytest.mark.parametrize(
    "malformed",
    [
        {},
        {"payload": {}},
        {"saga_id": "no-payload"},
        {"saga_id": 42, "payload": {}},
        {"saga_id": "", "payload": {}},
        {"saga_id": "order#1", "payload": {}},
        {"saga_id": "text-payload", "payload": "not an object"},
        {"saga_id": "null-payload", "payload": None},
        {"saga_id": "forged-results", "payload": {}, "results": {STEPS[0].name: {"status": "DONE"}}},
        ["not", "an", "object"],
    ],
)
def test_malformed_input_fails_fast_without_effects(harness: "SagaHarness", malformed: Any) -> None:
    applied_before = len(harness.applied)
    run = harness.run(malformed)

    assert (run.status, run.error) == ("FAILED", "InvalidSagaInput")
    assert run.states_entered[-1] == INVALID_SAGA_INPUT
    assert (run.calls, run.events, run.record) == ([], [], None)
    assert len(harness.applied) == applied_before


@pytest.mark.parametrize("scenario", limits.scenarios(STEPS), ids=lambda scenario: scenario.name)
def test_each_path_runs_the_transitions_and_invocations_the_definition_says_and_a_rerun_changes_nothing(
    harness: "SagaHarness", definition: dict[str, Any], scenario: limits.Scenario
) -> None:
    step = next((step for step in STEPS if step.title == scenario.failed_state), None)
    failing = {
        str(step.compensation) for step in COMPENSATED if step.compensation_title in scenario.failing_compensations
    }
    failures = {step.name: "rejected" if scenario.rejected else "crash"} if step else {}
    run = harness.run(saga_input(f"path-{len(harness.invocations)}"), failures, failing, [Fault("rerun")])

    figures = limits.figures(definition, scenario)
    assert tuple(run.states_entered) == figures.states
    assert (run.state_transitions, len(run.invocations)) == (figures.transitions, figures.invocations)
    assert run.largest_state_bytes < 256 * 1024
    assert run.rerun is not None
    started = [VALIDATE_INPUT, READ_SAGA_ID, CHECK_SAGA_ID, record_state("STARTED")]
    assert run.rerun.states_entered == [*started, ALREADY_STARTED]
    assert (run.rerun.calls, run.rerun.events, run.rerun.dlq_messages) == ([], [], [])
    assert (run.rerun.record, run.rerun.effects) == (run.record, run.effects)
