"""What must hold for any failure: effects end committed or undone, and consumers get what their rules say."""

import uuid
from importlib import import_module

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.saga_harness import KINDS, EffectLedger, SagaHarness
from infra.config import CONSUMERS, PACKAGE, STEPS

COMPENSATIONS = [str(service.compensation) for service in STEPS if service.compensation]
failure_points = st.tuples(
    st.sampled_from([None, *[service.name for service in STEPS]]),
    st.sampled_from(KINDS),
    st.sampled_from([None, *COMPENSATIONS]),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(point=failure_points)
def test_every_effect_ends_committed_or_undone(
    harness: SagaHarness, ledger: EffectLedger, point: tuple[str | None, str, str | None]
) -> None:
    step, kind, failing_compensation = point
    saga_id = f"property-{uuid.uuid4().hex[:12]}"
    run = harness.run(
        {"saga_id": saga_id, "payload": {}},
        failures={step: kind} if step else {},
        fail_compensations={failing_compensation} if failing_compensation else set(),
    )
    effects = ledger.of(saga_id)

    if run.status == "SUCCEEDED":
        assert all(effects.values())
        return
    undo_failed = set(run.dlq_messages[0]["state"]["compensation_errors"]) if run.dlq_messages else set()
    for service in STEPS:
        if service.compensation is None:
            continue
        # Undone, unless its compensation failed: then the dead-letter queue says so.
        assert effects[service.name] is (service.compensation in undo_failed), service.name
    assert run.error == ("CompensationFailed" if undo_failed else "SagaFailed")
    assert len(run.dlq_messages) == (1 if undo_failed else 0)
    failed_at = [service.name for service in STEPS].index(str(step))
    assert not any(effects[service.name] for service in STEPS[failed_at + 1 :])


def consumer_detail_types() -> dict[str, tuple[str, ...]]:
    return {name: import_module(f"{PACKAGE}.consumers.{name}.handler").DETAIL_TYPES for name in CONSUMERS}


def test_consumer_rules_match_the_events_the_saga_publishes(harness: SagaHarness) -> None:
    last = STEPS[-1].name
    runs = [
        harness.run({"saga_id": f"route-ok-{uuid.uuid4().hex[:8]}", "payload": {}}),
        harness.run({"saga_id": f"route-failed-{uuid.uuid4().hex[:8]}", "payload": {}}, failures={last: "crash"}),
    ]
    if COMPENSATIONS:
        runs.append(
            harness.run(
                {"saga_id": f"route-undo-{uuid.uuid4().hex[:8]}", "payload": {}},
                failures={last: "crash"},
                fail_compensations={COMPENSATIONS[0]},
            )
        )
    outcome_model = import_module(f"{PACKAGE}.runtime.models").SagaOutcome
    statuses = {"SagaSucceeded": "SUCCEEDED", "SagaFailed": "FAILED", "SagaCompensationFailed": "COMPENSATION_FAILED"}
    for run in runs:
        (published,) = run.event_types
        assert run.events[0]["source"] == f"{PACKAGE}.saga"
        # The detail is what the consumers' model expects.
        outcome = outcome_model.model_validate(run.events[0]["detail"])
        assert (outcome.saga_id, outcome.status) == (run.saga_id, statuses[published])
        for consumer, wanted in consumer_detail_types().items():
            assert run.consumer_deliveries[consumer] == ([published] if published in wanted else []), consumer
