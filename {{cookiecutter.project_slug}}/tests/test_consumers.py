{%- set saga = cookiecutter | saga_model -%}
"""What every consumer's handler does with each outcome it receives, a redelivery and a malformed event.

Written once for every consumer in ``saga.py``: the business functions are replaced here, so these
tests hold whatever each consumer's module does (its own tests are in ``tests/consumers/``).
{%- if not saga.consumers %}
This saga has no consumer yet, so they are skipped.
{%- endif %}
"""

from typing import Any

import pytest

from {{ saga.package_name }} import handlers, saga
from {{ saga.package_name }}.naming import ALL_OUTCOMES, EVENT_SOURCE, OUTCOME_STATUS, Consumer
from {{ saga.package_name }}.runtime.envelope import OutcomeEvent
from {{ saga.package_name }}.runtime.errors import InvalidInput

RECEIVED = [(consumer, outcome) for consumer in saga.CONSUMERS for outcome in consumer.receives]
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:OrderSaga"
OTHER_STAGE = "arn:aws:states:us-east-1:123456789012:stateMachine:OrderSagaOfAnotherStage"


def outcome_event(detail_type: str, saga_id: str = "saga-1", state_machine: str = STATE_MACHINE) -> dict[str, Any]:
    detail: dict[str, Any] = {"saga_id": saga_id, "status": OUTCOME_STATUS[detail_type]}
    if detail_type != "SagaSucceeded":
        detail |= {"failed_step": saga.STEPS[0].name, "error": saga.STEPS[0].rejection_error}
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": EVENT_SOURCE,
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        # What Step Functions adds to the events it publishes: the execution's ARN and its state machine's.
        "resources": [f"{state_machine.replace(':stateMachine:', ':execution:')}:{saga_id}", state_machine],
        "detail": detail,
    }


class Recorder:
    def __init__(self) -> None:
        self.events: list[OutcomeEvent] = []
        self.failures: list[Exception] = []

    def __call__(self, event: OutcomeEvent) -> dict[str, Any]:
        self.events.append(event)
        if self.failures:
            raise self.failures.pop(0)
        return {"handled": len(self.events)}


@pytest.fixture(params=saga.CONSUMERS, ids=lambda consumer: consumer.name)
def consumer(request: pytest.FixtureRequest) -> Consumer:
    chosen: Consumer = request.param
    return chosen


@pytest.fixture
def business(consumer: Consumer, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    monkeypatch.setenv("SAGA_STATE_MACHINE_ARN", STATE_MACHINE)
    recorder = Recorder()
    monkeypatch.setattr(handlers.consumer(consumer.name), "function", recorder)
    return recorder


def handle(consumer: Consumer, event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handlers.consumer(consumer.name).handler(event, context)


@pytest.mark.parametrize(("consumer", "detail_type"), RECEIVED, ids=[f"{c.name}-{o}" for c, o in RECEIVED])
def test_each_received_outcome_reaches_the_business_code(
    consumer: Consumer, detail_type: str, business: Recorder, lambda_context: Any
) -> None:
    assert handle(consumer, outcome_event(detail_type), lambda_context) == {"handled": 1}
    assert [(event.detail_type, event.detail.saga_id) for event in business.events] == [(detail_type, "saga-1")]


def test_the_entry_point_runs_the_consumer_its_environment_names(
    consumer: Consumer, business: Recorder, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGA_CONSUMER", consumer.name)
    assert handlers.outcome(outcome_event(consumer.receives[0]), lambda_context) == {"handled": 1}


def test_redelivered_event_has_one_effect(consumer: Consumer, business: Recorder, lambda_context: Any) -> None:
    first = handle(consumer, outcome_event(consumer.receives[0]), lambda_context)
    assert handle(consumer, outcome_event(consumer.receives[0]), lambda_context) == first
    assert len(business.events) == 1


def test_failure_is_raised_for_eventbridge_to_retry(
    consumer: Consumer, business: Recorder, lambda_context: Any
) -> None:
    business.failures.append(ConnectionError("downstream unavailable"))
    with pytest.raises(ConnectionError):
        handle(consumer, outcome_event(consumer.receives[0]), lambda_context)
    assert handle(consumer, outcome_event(consumer.receives[0]), lambda_context) == {"handled": 2}


@pytest.mark.usefixtures("broken_metrics")
def test_failing_metrics_never_fail_a_handled_outcome(
    consumer: Consumer, business: Recorder, lambda_context: Any, handler_output: Any
) -> None:
    assert handle(consumer, outcome_event(consumer.receives[0]), lambda_context) == {"handled": 1}
    assert handle(consumer, outcome_event(consumer.receives[0]), lambda_context) == {"handled": 1}
    assert handler_output().lost() == ["OutcomeHandled", "OutcomeHandled"]
    assert len(business.events) == 1, "a redelivery is still a no-op"


@pytest.mark.parametrize(
    "malformed",
    [
        {},
        {**outcome_event("SagaFailed"), "detail": {"status": "FAILED"}},
        {**outcome_event("SagaFailed"), "detail-type": "SomethingElse"},
        {**outcome_event("SagaFailed"), "detail": {"saga_id": "saga-1", "status": "SUCCEEDED"}},
        {**outcome_event("SagaFailed"), "resources": []},
        {**outcome_event("SagaFailed"), "resources": "not a list"},
        outcome_event("SagaFailed", state_machine=OTHER_STAGE),
        outcome_event("SagaFailed", state_machine=STATE_MACHINE.replace("us-east-1", "eu-west-1")),
    ],
    ids=[
        "empty",
        "no-saga-id",
        "unknown-outcome",
        "status-mismatch",
        "no-execution",
        "resources-not-a-list",
        "another-stage",
        "another-region",
    ],
)
def test_malformed_event_fails_clearly_without_effect(
    consumer: Consumer, malformed: dict[str, Any], business: Recorder, lambda_context: Any
) -> None:
    with pytest.raises(InvalidInput, match="invalid outcome event"):
        handle(consumer, malformed, lambda_context)
    assert business.events == []


def test_an_outcome_the_consumer_does_not_receive_is_refused(
    consumer: Consumer, business: Recorder, lambda_context: Any
) -> None:
    others = [outcome for outcome in ALL_OUTCOMES if outcome not in consumer.receives]
    for outcome in others:
        with pytest.raises(InvalidInput, match="does not receive"):
            handle(consumer, outcome_event(outcome), lambda_context)
    assert business.events == []


def test_logs_carry_the_saga_id(
    consumer: Consumer, business: Recorder, lambda_context: Any, handler_output: Any
) -> None:
    handle(consumer, outcome_event(consumer.receives[0], saga_id="saga-logs"), lambda_context)
    (handled,) = [line for line in handler_output().logs if line["message"] == "Outcome handled"]
    assert (handled["correlation_id"], handled["consumer"]) == ("saga-logs", consumer.name)


def test_the_rule_pattern_names_the_saga_source_and_the_received_outcomes(consumer: Consumer) -> None:
    assert consumer.event_pattern == {"source": [EVENT_SOURCE], "detail-type": list(consumer.receives)}
