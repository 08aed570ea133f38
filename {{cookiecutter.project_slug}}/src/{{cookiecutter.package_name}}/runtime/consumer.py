"""An EventBridge consumer of the saga's outcome events, wrapped as a Lambda handler.

EventBridge delivers at least once; the handler makes a redelivered event
(same saga, same detail-type) a no-op that returns the first result.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, ValidationError

from {{ cookiecutter.package_name }}.runtime import idempotency
from {{ cookiecutter.package_name }}.runtime.errors import InvalidInput
from {{ cookiecutter.package_name }}.runtime.models import (
    OutcomeDetailType,
    SagaOutcome,
    invalid_fields,
    outcome_event_pattern,
)
from {{ cookiecutter.package_name }}.runtime.observability import logger, metrics, tracer


class OutcomeEvent(EventBridgeModel):
    """An outcome event as EventBridge delivers it."""

    detail_type: OutcomeDetailType = Field(alias="detail-type")
    detail: SagaOutcome


ConsumerFunction = Callable[[OutcomeEvent], dict[str, Any]]
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


class OutcomeConsumer:
    """Builds the handler of one consumer; ``detail_types`` are the events its rule routes to it."""

    def __init__(self, name: str, detail_types: tuple[OutcomeDetailType, ...], function: ConsumerFunction) -> None:
        self.name = name
        self.detail_types = detail_types
        self.function = function
        self.handler = self._handler()

    @property
    def event_pattern(self) -> dict[str, list[str]]:
        """The EventBridge rule pattern that routes this consumer's outcome events to it."""
        return outcome_event_pattern(self.detail_types)

    def _handler(self) -> LambdaHandler:
        @tracer.capture_method
        def run(outcome: OutcomeEvent) -> dict[str, Any]:
            # Looked up per call, so the business function can be swapped in tests.
            return self.function(outcome)

        run_once = idempotency.once(
            run,
            data_keyword_argument="outcome",
            store=idempotency.consumer_store,
            config=idempotency.consumer_config,
            key_prefix=f"consumer.{self.name}",
        )

        @logger.inject_lambda_context(correlation_id_path="detail.saga_id", clear_state=True)
        @tracer.capture_lambda_handler
        @metrics.log_metrics
        def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            idempotency.consumer_config.register_lambda_context(context)
            logger.append_keys(consumer=self.name)
            metrics.add_dimension(name="consumer", value=self.name)
            outcome = self._parse(event)
            try:
                result = run_once(outcome=outcome)
            except Exception:
                metrics.add_metric(name="OutcomeFailed", unit=MetricUnit.Count, value=1)
                logger.exception("Outcome handling failed; EventBridge retries the delivery")
                raise
            metrics.add_metric(name="OutcomeHandled", unit=MetricUnit.Count, value=1)
            logger.info("Outcome handled", extra={"detail_type": outcome.detail_type})
            return result

        handler.__name__ = handler.__qualname__ = f"{self.name}_handler"
        return handler

    def _parse(self, event: dict[str, Any]) -> OutcomeEvent:
        try:
            outcome = OutcomeEvent.model_validate(event)
        except ValidationError as error:
            metrics.add_metric(name="InvalidInput", unit=MetricUnit.Count, value=1)
            logger.error("Invalid outcome event", extra={"invalid_fields": invalid_fields(error)})
            raise InvalidInput(f"invalid outcome event, check these fields: {invalid_fields(error)}") from None
        if outcome.detail_type not in self.detail_types:
            metrics.add_metric(name="InvalidInput", unit=MetricUnit.Count, value=1)
            raise InvalidInput(f"{self.name} does not consume {outcome.detail_type} events")
        return outcome
