"""What the {{ consumer.name }} handler does with each outcome event, a redelivery and a malformed event.

The business function is replaced here, so these tests hold whatever ``logic`` does.
"""

from typing import Any

import pytest

from {{ saga.package_name }}.consumers.{{ consumer.name }} import DETAIL_TYPES, handler
from {{ saga.package_name }}.runtime.consumer import OutcomeEvent
from {{ saga.package_name }}.runtime.errors import InvalidInput
from {{ saga.package_name }}.runtime.models import EVENT_SOURCE

STATUS = {"SagaSucceeded": "SUCCEEDED", "SagaFailed": "FAILED", "SagaCompensationFailed": "COMPENSATION_FAILED"}


def outcome_event(detail_type: str, saga_id: str = "saga-1") -> dict[str, Any]:
    detail: dict[str, Any] = {"saga_id": saga_id, "status": STATUS[detail_type]}
    if detail_type != "SagaSucceeded":
        detail.update(failed_step="payment", error="PaymentRejected", cause="card declined")
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": EVENT_SOURCE,
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
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


@pytest.fixture
def business(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(handler.consumer, "function", recorder)
    return recorder


@pytest.mark.parametrize("detail_type", DETAIL_TYPES)
def test_each_subscribed_outcome_reaches_the_business_code(
    detail_type: str, business: Recorder, lambda_context: Any
) -> None:
    assert handler.handle(outcome_event(detail_type), lambda_context) == {"handled": 1}
    assert [(event.detail_type, event.detail.saga_id) for event in business.events] == [(detail_type, "saga-1")]


def test_redelivered_event_has_one_effect(business: Recorder, lambda_context: Any) -> None:
    detail_type = DETAIL_TYPES[0]
    first = handler.handle(outcome_event(detail_type), lambda_context)
    assert handler.handle(outcome_event(detail_type), lambda_context) == first
    assert len(business.events) == 1


def test_failure_is_raised_for_eventbridge_to_retry(business: Recorder, lambda_context: Any) -> None:
    business.failures.append(ConnectionError("downstream unavailable"))
    with pytest.raises(ConnectionError):
        handler.handle(outcome_event(DETAIL_TYPES[0]), lambda_context)
    assert handler.handle(outcome_event(DETAIL_TYPES[0]), lambda_context) == {"handled": 2}


@pytest.mark.parametrize(
    "malformed",
    [
        {},
        {**outcome_event("SagaFailed"), "detail": {"status": "FAILED"}},
        {**outcome_event("SagaFailed"), "detail-type": "SomethingElse"},
    ],
)
def test_malformed_event_fails_clearly_without_effect(
    malformed: dict[str, Any], business: Recorder, lambda_context: Any
) -> None:
    with pytest.raises(InvalidInput, match="invalid outcome event"):
        handler.handle(malformed, lambda_context)
    assert business.events == []


def test_logs_carry_the_saga_id(business: Recorder, lambda_context: Any, handler_output: Any) -> None:
    handler.handle(outcome_event(DETAIL_TYPES[0], saga_id="saga-logs"), lambda_context)
    handled = [line for line in handler_output().logs if line["message"] == "Outcome handled"]
    assert len(handled) == 1
    assert handled[0]["correlation_id"] == "saga-logs"
    assert handled[0]["consumer"] == "{{ consumer.name }}"


def test_rule_pattern_names_the_saga_source_and_the_subscribed_outcomes() -> None:
    assert handler.consumer.event_pattern == {"source": [EVENT_SOURCE], "detail-type": list(DETAIL_TYPES)}
