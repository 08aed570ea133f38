"""What {{ consumer.name }} does with a saga outcome. This module is yours: regenerating never overwrites it.

It runs at most once per saga and outcome. Raise any exception to have EventBridge
retry the delivery; after the retries the event lands in the consumer's dead-letter queue.
"""

from typing import Any

from {{ saga.package_name }}.runtime.consumer import OutcomeEvent
from {{ saga.package_name }}.runtime.observability import logger, tracer


@tracer.capture_method
def handle(event: OutcomeEvent) -> dict[str, Any]:
    outcome = event.detail
    logger.info(
        "Saga outcome received",
        extra={"outcome": event.detail_type, "saga_id": outcome.saga_id, "failed_step": outcome.failed_step},
    )
    return {"saga_id": outcome.saga_id, "outcome": event.detail_type}
