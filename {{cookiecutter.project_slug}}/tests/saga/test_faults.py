"""The saga under the cloud's real behaviour: duplicates, a paused database, failing integrations, the size limit.

Each fault is one of the harness's own (``devtools/harness/faults.py``, ``--fault`` in ``make
local-run``). The saga is deployed once per workflow type here, since duplicates behave differently
in each: a Standard start is refused by execution name, an Express one is not.
"""

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from devtools.harness.faults import Fault
from infra.definition import ALREADY_STARTED
from infra.timing import DATABASE_WAIT_SECONDS
from {{ cookiecutter.package_name }} import handlers
from {{ cookiecutter.package_name }}.naming import Step
from {{ cookiecutter.package_name }}.runtime.envelope import MAX_RESULT_BYTES, StepRequest, StepResult, max_payload_bytes
from {{ cookiecutter.package_name }}.saga import STEPS

if TYPE_CHECKING:
    from devtools.harness.runner import SagaHarness
    from devtools.local_database import LocalDatabase

COMPENSATIONS = {str(step.compensation) for step in STEPS if step.compensation}


@pytest.fixture(scope="module", params=["STANDARD", "EXPRESS"])
def harness(request: pytest.FixtureRequest, database_server: "LocalDatabase") -> Iterator["SagaHarness"]:
    from devtools.harness.runner import SagaHarness  # noqa: PLC0415 - imports the handlers

    with SagaHarness(database_server, workflow_type=request.param) as deployed:
        yield deployed


def new_saga(payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"saga_id": f"fault-{uuid.uuid4().hex[:12]}", "payload": payload or {}}


def actions_applied(harness: "SagaHarness", saga_id: str) -> list[str]:
    return [step for step, role, applied_to in harness.applied if applied_to == saga_id and role == "action"]


def test_a_second_execution_of_a_running_saga_runs_no_step(harness: "SagaHarness") -> None:
    saga_input = new_saga()
    run = harness.run(saga_input, faults=[Fault("duplicate")])

    assert run.duplicate is not None
    assert run.duplicate.status == "SUCCEEDED"
    assert run.duplicate.states_entered[-1] == ALREADY_STARTED
    assert run.duplicate.output == {"saga_id": run.saga_id, "outcome": "IGNORED", "reason": "saga already started"}
    assert run.duplicate.calls == []
    assert (run.status, run.record and run.record["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert actions_applied(harness, run.saga_id) == [step.name for step in STEPS]
    assert set(run.effects.values()) == {"DONE"}
    assert run.event_types == ["SagaSucceeded"]


def test_a_saga_that_ended_is_never_run_again(harness: "SagaHarness") -> None:
    first = harness.run(new_saga(), failures={STEPS[-1].name: "crash"})
    if harness.workflow_type == "STANDARD":
        with pytest.raises(Exception, match="ExecutionAlreadyExists"):
            harness.start({"saga_id": first.saga_id, "payload": {}})
    # Under another execution name, as a caller that retries with new names would.
    saga_input, before = {"saga_id": first.saga_id, "payload": {}}, len(harness.invocations)
    harness.wait(execution_arn := harness.start(saga_input, name=str(uuid.uuid4())))
    again = harness.collect(saga_input, execution_arn, first_call=before)
    assert again.states_entered[-1] == ALREADY_STARTED
    assert again.calls == []
    assert again.record == first.record


@pytest.mark.skipif(not COMPENSATIONS, reason="no step of this saga can be undone")
def test_an_action_its_compensation_took_hold_of_fails_like_a_crash_never_as_done(
    harness: "SagaHarness", lambda_context: Any
) -> None:
    step, saga_input = next(step for step in STEPS if step.compensation), new_saga()
    handlers.step(step.name).handlers["compensation"]({**saga_input, "results": {}}, lambda_context)
    run = harness.run(saga_input)

    assert [call.outcome for call in run.invocations if call.function == step.title] == ["StepCancelled"]
    assert run.record is not None
    assert (run.record["failed_step"], run.record["error"]) == (step.name, "StepCancelled")
    assert (run.event_types, run.effects[step.name]) == (["SagaFailed"], None)


@pytest.mark.parametrize("step", STEPS, ids=lambda step: step.name)
def test_a_step_retried_while_it_still_runs_acts_once(harness: "SagaHarness", step: Step) -> None:
    run = harness.run(new_saga(), faults=[Fault("retried-invocation", target=step.name)])

    outcomes = [call.outcome for call in run.invocations if call.function == step.title]
    # The second invocation found the first one running, waited for it, and answered with its result.
    assert outcomes == ["Lambda.SdkClientException", "ok"]
    assert actions_applied(harness, run.saga_id) == [step.name for step in STEPS]
    assert (run.status, run.record and run.record["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert not [call for call in run.invocations if call.role == "compensation"]
    assert set(run.effects.values()) == {"DONE"}


def test_an_unreachable_idempotency_table_is_retried(harness: "SagaHarness") -> None:
    step = STEPS[0]
    run = harness.run(new_saga(), faults=[Fault("store-unavailable", target=step.name)])

    assert [call.outcome for call in run.invocations if call.function == step.title] == [
        "IdempotencyStoreUnavailable",
        "ok",
    ]
    assert (run.status, run.record and run.record["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert actions_applied(harness, run.saga_id) == [step.name for step in STEPS]


def test_the_first_saga_after_a_pause_waits_for_the_database(harness: "SagaHarness") -> None:
    run = harness.run(new_saga(), faults=[Fault("db-paused", seconds=DATABASE_WAIT_SECONDS)])

    first = [call.outcome for call in run.invocations if call.function == STEPS[0].title]
    assert first[0] == "DatabaseNotReady"
    assert first[-1] == "ok"
    assert sum(run.retry_delays) >= DATABASE_WAIT_SECONDS
    assert (run.status, run.record and run.record["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert set(run.effects.values()) == {"DONE"}
    assert actions_applied(harness, run.saga_id) == [step.name for step in STEPS]


def test_a_pause_longer_than_the_budget_ends_recorded(harness: "SagaHarness") -> None:
    run = harness.run(new_saga(), faults=[Fault("db-paused", seconds=3600)])

    assert sum(run.retry_delays) >= DATABASE_WAIT_SECONDS
    assert run.record is not None
    assert run.record["failed_step"] == STEPS[0].name
    assert run.record["error"] == "DatabaseNotReady"
    assert set(run.effects.values()) == {None}
    if STEPS[0].compensation:
        # Its own compensation could not reach the database either: a person finishes the saga.
        assert (run.error, run.record["status"]) == ("CompensationFailed", "COMPENSATION_FAILED")
        assert len(run.dlq_messages) == 1
    else:
        assert (run.status, run.record["status"]) == ("SUCCEEDED", "FAILED")


@pytest.mark.parametrize(
    ("services", "error", "recorded"),
    [
        (["dynamodb"], "BookkeepingFailed", None),
        (["events"], "BookkeepingFailed", "SUCCEEDED"),
        (["dynamodb", "sqs"], "DeadLetterFailed", None),
    ],
)
def test_a_failing_integration_never_leaves_a_saga_unrecorded(
    harness: "SagaHarness", services: list[str], error: str, recorded: str | None
) -> None:
    run = harness.run(new_saga(), faults=[Fault("integration", target=service) for service in services])

    assert (run.status, run.error) == ("FAILED", error)
    assert (run.record or {}).get("status") == recorded
    if error == "BookkeepingFailed":
        (message,) = run.dlq_messages
        assert (message["reason"], message["state"]["saga_id"]) == ("BOOKKEEPING_FAILED", run.saga_id)
    else:
        assert run.dlq_messages == []
    if "dynamodb" in services:
        assert run.calls == [], "nothing runs before the saga is recorded"


@pytest.mark.usefixtures("broken_metrics")
@pytest.mark.parametrize("failures", [{}, {STEPS[-1].name: "crash"}], ids=["happy-path", "last-step-crashes"])
def test_failing_metrics_never_change_how_a_saga_ends(harness: "SagaHarness", failures: dict[str, str]) -> None:
    run = harness.run(new_saga(), failures)

    undone = [step.compensation_title for step in reversed(STEPS) if failures and step.compensation]
    assert run.calls == [*(step.title for step in STEPS), *undone]
    assert (run.status, run.record and run.record["status"]) == ("SUCCEEDED", "FAILED" if failures else "SUCCEEDED")
    assert run.effects == {step.name: "COMPENSATED" if failures and step.compensation else "DONE" for step in STEPS}


@pytest.mark.parametrize(
    ("crash", "compensations_fail"),
    [("raised", False), ("raised", True), ("crash:30000", False)],
    ids=["compensated", "compensations-fail", "a-30000-byte-crash-at-the-last-step"],
)
def test_a_payload_at_its_limit_with_every_result_at_its_limit_and_a_long_crash_still_ends_recorded(
    harness: "SagaHarness", monkeypatch: pytest.MonkeyPatch, crash: str, compensations_fail: bool
) -> None:
    def largest(status: str) -> Any:
        def result(request: StepRequest) -> StepResult:
            return StepResult(status, {"blob": "x" * (MAX_RESULT_BYTES - 16)})  # type: ignore[arg-type]

        return result

    for step, role in harness.business:
        monkeypatch.setitem(harness.business, (step, role), largest("DONE" if role == "action" else "COMPENSATED"))

    def crash_with_a_long_message(request: StepRequest) -> StepResult:
        raise RuntimeError("m" * 256 * 1024)  # leaves the function cut short: whole, it alone would overflow the state

    if crash == "raised":
        monkeypatch.setitem(harness.business, (STEPS[-1].name, "action"), crash_with_a_long_message)
    payload = {"blob": "x" * (max_payload_bytes(STEPS) - 16)}
    failing = COMPENSATIONS if compensations_fail else set()
    run = harness.run(new_saga(payload), {STEPS[-1].name: "crash" if crash == "raised" else crash}, failing)

    assert run.largest_state_bytes < 256 * 1024
    assert run.record is not None
    if failing:
        assert run.record["status"] == "COMPENSATION_FAILED"
        (message,) = run.dlq_messages
        assert len(json.dumps(message["state"]["payload"])) >= len(payload["blob"])
    else:
        assert (run.status, run.record["status"], run.event_types) == ("SUCCEEDED", "FAILED", ["SagaFailed"])
        undone = [call.function for call in run.invocations if call.role == "compensation" and call.outcome == "ok"]
        assert undone == [step.compensation_title for step in reversed(STEPS) if step.compensation]
