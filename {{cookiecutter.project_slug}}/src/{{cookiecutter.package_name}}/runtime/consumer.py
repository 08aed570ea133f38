"""An EventBridge consumer of the saga's outcome events, wrapped as a Lambda handler.

EventBridge delivers at least once; the handler makes a redelivered event (same saga, same
outcome) a no-op that returns the first result. EventBridge invokes the function asynchronously:
a failure is raised for Lambda to retry the invocation (twice); after that the event waits in the
delivery dead-letter queue, where the rule also sends the events it could not deliver at all.
"""

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from {{ cookiecutter.package_name }}.naming import Consumer, consumer_key_prefix
from {{ cookiecutter.package_name }}.runtime import idempotency
from {{ cookiecutter.package_name }}.runtime.envelope import OutcomeEvent
from {{ cookiecutter.package_name }}.runtime.errors import InvalidInput
from {{ cookiecutter.package_name }}.runtime.observability import logger, metrics, observed, tracer

ConsumerFunction = Callable[[OutcomeEvent], dict[str, Any]]
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


class OutcomeConsumer:
    """Builds the handler of one consumer from its business function."""

    def __init__(self, consumer: Consumer, function: ConsumerFunction) -> None:
        self.consumer = consumer
        self.function = function
        self.handler = self._handler()

    def _handler(self) -> LambdaHandler:
        @tracer.capture_method
        def run(outcome: dict[str, Any]) -> dict[str, Any]:
            # Looked up per call, so the business function can be swapped in tests.
            return self.function(OutcomeEvent.parse(outcome))

        run_once = idempotency.once(
            run,
            data_keyword_argument="outcome",
            kind="consumer",
            config=idempotency.consumer_config,
            prefix=consumer_key_prefix(self.consumer.name),
        )

        @observed(correlation_id_path="detail.saga_id")
        def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            idempotency.consumer_config.register_lambda_context(context)
            logger.append_keys(consumer=self.consumer.name)
            try:
                outcome = OutcomeEvent.parse(event)
                if outcome.detail_type not in self.consumer.receives:
                    raise InvalidInput(
                        f"invalid outcome event: {self.consumer.name} does not receive {outcome.detail_type}"
                    )
                # The bus refuses the saga's source from anyone but the state machine; this checks it was this stage's.
                if not outcome.published_by(os.environ["SAGA_STATE_MACHINE_ARN"]):
                    raise InvalidInput("invalid outcome event: not published by an execution of this stage's saga")
                result = run_once(outcome=event)
            except InvalidInput as error:
                metrics.add_metric(name="InvalidInput", unit=MetricUnit.Count, value=1)
                logger.error("Invalid outcome event", extra={"reason": str(error)})
                raise
            except Exception:
                metrics.add_metric(name="OutcomeFailed", unit=MetricUnit.Count, value=1)
                logger.exception("Outcome handling failed; Lambda retries the invocation")
                raise
            metrics.add_metric(name="OutcomeHandled", unit=MetricUnit.Count, value=1)
            logger.info("Outcome handled", extra={"detail_type": outcome.detail_type})
            return result

        handler.__name__ = handler.__qualname__ = f"{self.consumer.name}_handler"
        return handler
