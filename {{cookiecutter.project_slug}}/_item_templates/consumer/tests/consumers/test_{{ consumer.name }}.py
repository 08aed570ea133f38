"""Tests of the {{ consumer.name }} consumer's business code. Yours to edit along with it."""

from {{ saga.package_name }}.consumers import {{ consumer.name }}
from {{ saga.package_name }}.runtime.envelope import OutcomeEvent, SagaOutcome


def test_handle_reports_the_outcome() -> None:
    outcome = SagaOutcome("saga-1", "FAILED", failed_step="payment", error="PaymentRejected")
    event = OutcomeEvent("6a7e8feb", "SagaFailed", "{{ saga.package_name }}.saga", "2026-01-01T00:00:00Z", outcome)
    assert {{ consumer.name }}.handle(event) == {"saga_id": "saga-1", "outcome": "SagaFailed"}
