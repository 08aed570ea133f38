"""What must hold for any failure: effects end committed or undone, and consumers get what their rules say."""

import uuid
from collections import Counter
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.harness.faults import STEP_FAILURES, Injection
from {{ cookiecutter.package_name }}.naming import EVENT_SOURCE, OUTCOME_STATUS
from {{ cookiecutter.package_name }}.runtime.envelope import OutcomeEvent
from {{ cookiecutter.package_name }}.saga import CONSUMERS, STEPS

if TYPE_CHECKING:
    from devtools.harness.runner import SagaHarness

COMPENSATIONS = [str(step.compensation) for step in STEPS if step.compensation]
failure_points = st.tuples(
    st.sampled_from([None, *[step.name for step in STEPS]]),
    st.sampled_from(STEP_FAILURES),
    st.sampled_from([None, *COMPENSATIONS]),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(point=failure_points)
def test_every_effect_ends_committed_or_undone(
    harness: "SagaHarness", point: tuple[str | None, str, str | None]
) -> None:
    step, kind, failing_compensation = point
    run = harness.run(
        {"saga_id": f"property-{uuid.uuid4().hex[:12]}", "payload": {}},
        failures={step: kind} if step else {},
        fail_compensations={failing_compensation} if failing_compensation else set(),
    )
    assert run.record is not None
    if run.record["status"] == "SUCCEEDED":
        assert set(run.effects.values()) == {"DONE"}
        return
    undo_failed = set(run.dlq_messages[0]["state"].get("compensation_errors", {})) if run.dlq_messages else set()
    for compensated in STEPS:
        if compensated.compensation and run.effects[compensated.name] is not None:
            # Undone, unless its compensation failed: then the dead-letter queue says so.
            expected = "DONE" if compensated.compensation in undo_failed else "COMPENSATED"
            assert run.effects[compensated.name] == expected, compensated.name
    assert run.error == ("CompensationFailed" if undo_failed else None)
    failed_at = [candidate.name for candidate in STEPS].index(str(step))
    assert all(run.effects[later.name] is None for later in STEPS[failed_at + 1 :])


def test_consumer_rules_match_the_events_the_saga_publishes(harness: "SagaHarness") -> None:
    last = STEPS[-1].name
    runs = [
        harness.run({"saga_id": f"route-ok-{uuid.uuid4().hex[:8]}", "payload": {}}),
        harness.run({"saga_id": f"route-failed-{uuid.uuid4().hex[:8]}", "payload": {}}, failures={last: "crash"}),
    ]
    if COMPENSATIONS:
        saga_id = f"route-undo-{uuid.uuid4().hex[:8]}"
        runs.append(harness.run({"saga_id": saga_id, "payload": {}}, {last: "crash"}, {COMPENSATIONS[0]}))
    for run in runs:
        (published,) = run.event_types
        (event,) = run.events
        assert event["source"] == EVENT_SOURCE
        # What EventBridge delivers parses as the consumers' outcome event.
        outcome = OutcomeEvent.parse({**event, "id": "delivered", "time": "2026-01-01T00:00:00Z"})
        assert (outcome.detail.saga_id, outcome.detail.status) == (run.saga_id, OUTCOME_STATUS[published])
        # Step Functions names the execution in the event's resources: what the consumers accept it by.
        assert outcome.published_by(harness.account.state_machine_arn)
        for consumer in CONSUMERS:
            wanted = [published] if published in consumer.receives else []
            assert run.consumer_deliveries[consumer.name] == wanted, consumer.name


def test_each_broken_invariant_is_named_with_its_saga(harness: "SagaHarness") -> None:
    from devtools.harness.runner import broken  # noqa: PLC0415 - imports the handlers

    run = harness.run()
    run.events, run.dlq_messages, run.effects[STEPS[0].name] = run.events * 2, [{"state": {}}], None
    problems = broken(Injection(), run, Counter({(STEPS[-1].name, "action", run.saga_id): 2}))

    assert [problem.removeprefix(f"{run.saga_id}: ") for problem in problems] == [
        "outcome SUCCEEDED, outcome events ['SUCCEEDED', 'SUCCEEDED']",
        "1 dead letters, 0 failing compensations",
        f"{STEPS[0].name}'s effect is None in a saga SUCCEEDED",
        f"{STEPS[-1].name} action acted more than once",
    ]
