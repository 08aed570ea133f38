"""Tests of the {{ consumer.name }} business logic. Yours to edit along with ``logic``."""

from {{ saga.package_name }}.consumers.{{ consumer.name }} import logic
from {{ saga.package_name }}.runtime.consumer import OutcomeEvent


def test_handle_reports_the_outcome() -> None:
    event = OutcomeEvent.model_validate(
        {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "SagaFailed",
            "source": "{{ saga.package_name }}.saga",
            "account": "123456789012",
            "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {"saga_id": "saga-1", "status": "FAILED", "failed_step": "payment"},
        }
    )
    assert logic.handle(event) == {"saga_id": "saga-1", "outcome": "SagaFailed"}
