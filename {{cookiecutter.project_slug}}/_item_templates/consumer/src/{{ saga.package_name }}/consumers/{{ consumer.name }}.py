"""What the {{ consumer.name }} consumer does with a saga's outcome. This module is yours: regenerating never overwrites it.

It runs at most once per saga and outcome, for the outcomes ``saga.py`` says it receives. Raise any
exception to have Lambda retry the invocation (twice); after that the event waits in the delivery
dead-letter queue.
"""

from typing import Any

from {{ saga.package_name }}.runtime.envelope import OutcomeEvent
from {{ saga.package_name }}.runtime.observability import logger, tracer


@tracer.capture_method
def handle(event: OutcomeEvent) -> dict[str, Any]:
    outcome = event.detail
    logger.info("Saga outcome received", extra={"outcome": event.detail_type, "failed_step": outcome.failed_step})
    return {"saga_id": outcome.saga_id, "outcome": event.detail_type}
