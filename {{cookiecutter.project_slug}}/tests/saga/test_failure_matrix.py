{%- set saga = cookiecutter | saga_model -%}
"""The state machine, run for real offline: every step fails in every way, every compensation fails.

Each test runs ``statemachine/saga.asl.json`` in moto's interpreter against the real handlers
and the services' own business code, which writes to a real PostgreSQL (``DatabaseLedger``);
each assertion is about what the definition, the handlers and the database do together.
"""

from typing import Any

import pytest

from devtools.saga_harness import KINDS, EffectLedger, SagaHarness, SagaRun
from infra.config import STEPS, Step

COMPENSATED = [service for service in STEPS if service.compensation]
ERRORS = {"rejected": "{title}Rejected", "timeout": "States.Timeout", "crash": "InjectedCrash"}


def saga_input(saga_id: str) -> dict[str, Any]:
    return {"saga_id": saga_id, "payload": {"order_id": "o-1"}}


def undone_after(failed: int, kind: str) -> list[str]:
    """The compensations that must run, in order, when step ``failed`` (0-based) fails this way."""
    ran = STEPS[: failed + 1] if kind in {"timeout", "crash"} else STEPS[:failed]
    return [str(service.compensation) for service in reversed(ran) if service.compensation]


def expected_calls(failed: int, kind: str) -> list[str]:
    names = [service.name for service in STEPS]
    if kind == "transient":
        return [*names[: failed + 1], names[failed], *names[failed + 1 :]]
    return [*names[: failed + 1], *undone_after(failed, kind)]


def retry_policy(definition: dict[str, Any], state: str, errors: str) -> dict[str, Any]:
    policies = definition["States"][state]["Retry"]
    return next(policy for policy in policies if errors in policy["ErrorEquals"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("service", STEPS, ids=lambda service: service.name)
def test_every_step_failing_every_way(
    harness: SagaHarness, ledger: EffectLedger, definition: dict[str, Any], service: Step, kind: str
) -> None:
    failed = STEPS.index(service)
    run = harness.run(saga_input(f"{service.name}-{kind}"), failures={service.name: kind})

    assert run.calls == expected_calls(failed, kind)
    assert run.dlq_messages == []
    if kind == "transient":
        assert (run.status, run.error, run.event_types) == ("SUCCEEDED", None, ["SagaSucceeded"])
        assert run.record is not None
        assert run.record["status"] == "SUCCEEDED"
        policy = retry_policy(definition, service.title, "TransientError")
        assert len(run.retry_delays) == 1
        assert 0 <= run.retry_delays[0] <= policy["IntervalSeconds"]
        assert all(ledger.of(run.saga_id).values())
        return

    assert (run.status, run.error, run.event_types) == ("FAILED", "SagaFailed", ["SagaFailed"])
    detail = run.events[0]["detail"]
    assert detail["saga_id"] == run.saga_id
    assert detail["status"] == "FAILED"
    assert detail["failed_step"] == service.name
    assert detail["error"] == ERRORS[kind].format(title=service.title)
    assert run.record is not None
    assert (run.record["status"], run.record["failed_step"]) == ("FAILED", service.name)
    assert run.retry_delays == []
    effects = ledger.of(run.saga_id)
    for position, step in enumerate(STEPS):
        # What ran stays done only when it has no compensation; what never ran left nothing.
        did_work = position < failed or (position == failed and kind in {"timeout", "crash"})
        assert effects[step.name] is (did_work and step.compensation is None), step.name


{% if saga.compensated_services -%}
@pytest.mark.parametrize("failing", COMPENSATED, ids=lambda service: str(service.compensation))
def test_a_failing_compensation_does_not_stop_the_others(
    harness: SagaHarness, ledger: EffectLedger, definition: dict[str, Any], failing: Step
) -> None:
    last = STEPS[-1]
    run = harness.run(
        saga_input(f"undo-{failing.compensation}"),
        failures={last.name: "crash"},
        fail_compensations={str(failing.compensation)},
    )

    policy = retry_policy(definition, str(failing.compensation_title), "States.ALL")
    attempts = 1 + policy["MaxAttempts"]
    expected = [service.name for service in STEPS]
    for service in reversed(COMPENSATED):
        expected += [str(service.compensation)] * (attempts if service is failing else 1)
    assert run.calls == expected
    assert (run.status, run.error) == ("FAILED", "CompensationFailed")
    assert run.event_types == ["SagaCompensationFailed"]
    assert run.record is not None
    assert run.record["status"] == "COMPENSATION_FAILED"
    assert len(run.retry_delays) == policy["MaxAttempts"]
    assert all(0 <= delay <= policy["MaxDelaySeconds"] for delay in run.retry_delays)

    assert len(run.dlq_messages) == 1
    state = run.dlq_messages[0]["state"]
    assert state["saga_id"] == run.saga_id
    assert state["payload"] == {"order_id": "o-1"}
    assert set(state["results"]) == {service.name for service in STEPS[:-1]}
    assert state["failure"]["step"] == last.name
    assert list(state["compensation_errors"]) == [failing.compensation]
    assert state["compensation_errors"][failing.compensation]["Error"] == "InjectedCrash"
    assert set(state["compensations"]) == {service.compensation for service in COMPENSATED} - {failing.compensation}

    effects = ledger.of(run.saga_id)
    assert {name for name, present in effects.items() if present} == {
        service.name for service in STEPS if service is failing or service.compensation is None
    }


{% endif -%}
def test_the_happy_path_runs_every_step_once(harness: SagaHarness, ledger: EffectLedger) -> None:
    run = harness.run(saga_input("happy"))

    assert run.calls == [service.name for service in STEPS]
    assert (run.status, run.error, run.event_types) == ("SUCCEEDED", None, ["SagaSucceeded"])
    assert run.events[0]["detail"] == {"saga_id": "happy", "status": "SUCCEEDED"}
    assert run.output is not None
    assert set(run.output["results"]) == {service.name for service in STEPS}
    assert run.record is not None
    assert run.record["status"] == "SUCCEEDED"
    assert all(ledger.of("happy").values())


@pytest.mark.parametrize(
    "malformed",
    [
        {},
        {"payload": {}},
        {"saga_id": "no-payload"},
        {"saga_id": 42, "payload": {}},
        {"saga_id": "", "payload": {}},
        {"saga_id": "text-payload", "payload": "not an object"},
        {"saga_id": "null-payload", "payload": None},
        ["not", "an", "object"],
    ],
)
def test_malformed_input_fails_fast_without_effects(harness: SagaHarness, ledger: EffectLedger, malformed: Any) -> None:
    applied_before = len(ledger.applied)
    run = harness.run(malformed)

    assert (run.status, run.error) == ("FAILED", "InvalidSagaInput")
    assert "saga_id" in str(run.cause)
    assert run.states_entered == ["Validate input", "Invalid input"]
    assert run.calls == []
    assert run.events == []
    assert run.record is None
    assert len(ledger.applied) == applied_before

{% if saga.workflow_type == "STANDARD" %}
def test_a_duplicate_start_is_refused_by_execution_name(harness: SagaHarness, ledger: EffectLedger) -> None:
    first = harness.run(saga_input("twice"))
    with pytest.raises(Exception, match="ExecutionAlreadyExists"):
        harness.start(saga_input("twice"))

    assert first.status == "SUCCEEDED"
    assert [role for _, role, saga_id in ledger.applied if saga_id == "twice"] == ["action"] * len(STEPS)
{%- else %}
def test_a_duplicate_start_has_one_effect_per_step(harness: SagaHarness, ledger: EffectLedger) -> None:
    # Express workflows do not deduplicate starts: the handlers' idempotency does.
    first = harness.run(saga_input("twice"))
    second = harness.run(saga_input("twice"))

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert second.calls == first.calls
    assert second.output == first.output
    assert [role for _, role, saga_id in ledger.applied if saga_id == "twice"] == ["action"] * len(STEPS)
{%- endif %}


def test_state_transitions_are_counted_from_the_history(harness: SagaHarness) -> None:
    run: SagaRun = harness.run(saga_input("counted"))
    # Validate, start, record, the steps, record, publish, succeed.
    assert run.state_transitions == len(STEPS) + 6
    assert run.states_entered[-1] == "Saga succeeded"
