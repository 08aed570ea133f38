"""One saga step: its action and compensation wrapped as Lambda handlers.

The handler does the plumbing every step needs (input validation, structured
logs with the saga id as correlation id, tracing, metrics, idempotency, error
mapping) so that a service's ``logic`` module holds only business code.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.runtime import idempotency
from {{ cookiecutter.package_name }}.runtime.errors import InvalidInput, StepRejected, TransientError
from {{ cookiecutter.package_name }}.runtime.models import StepRequest, StepResult, invalid_fields
from {{ cookiecutter.package_name }}.runtime.observability import logger, metrics, tracer

StepFunction = Callable[[StepRequest], StepResult]
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


class SagaStep:
    """Builds the action and compensation handlers of one step.

    ``rejection_error`` is the error name the state machine's Catch expects for a
    business rejection of this step; every ``StepRejected`` raised by the logic,
    subclasses included, reaches Step Functions under that exact name.
    """

    def __init__(
        self,
        name: str,
        rejection_error: str,
        action: StepFunction,
        compensation: StepFunction | None = None,
    ) -> None:
        self.name = name
        self.rejection = type(rejection_error, (StepRejected,), {"__module__": __name__})
        self.functions: dict[str, StepFunction] = {"action": action}
        self.action_handler = self._handler("action")
        self.compensation_handler: LambdaHandler | None = None
        if compensation is not None:
            self.functions["compensation"] = compensation
            self.compensation_handler = self._handler("compensation")

    def _handler(self, role: str) -> LambdaHandler:
        @tracer.capture_method
        def run(request: StepRequest) -> dict[str, Any]:
            # Looked up per call, so the business function can be swapped in tests.
            return self.functions[role](request).model_dump(mode="json")

        run_once = idempotency.once(
            run,
            data_keyword_argument="request",
            store=idempotency.step_store,
            config=idempotency.step_config,
            key_prefix=f"{self.name}.{role}",
        )

        @logger.inject_lambda_context(correlation_id_path="saga_id", clear_state=True)
        @tracer.capture_lambda_handler
        @metrics.log_metrics
        def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            idempotency.step_config.register_lambda_context(context)
            logger.append_keys(step=self.name, role=role)
            metrics.add_dimension(name="step", value=self.name)
            request = self._parse(event, role)
            try:
                result = run_once(request=request)
            except StepRejected as error:
                metrics.add_metric(name=f"{role.capitalize()}Rejected", unit=MetricUnit.Count, value=1)
                logger.warning("Step rejected", extra={"reason": str(error), "rejection": type(error).__name__})
                raise self.rejection(str(error)) from error
            except TransientError as error:
                metrics.add_metric(name=f"{role.capitalize()}Transient", unit=MetricUnit.Count, value=1)
                logger.warning("Transient failure, the state machine retries", extra={"reason": str(error)})
                if type(error) is TransientError:
                    raise
                raise TransientError(str(error)) from error
            except Exception:
                metrics.add_metric(name=f"{role.capitalize()}Crashed", unit=MetricUnit.Count, value=1)
                logger.exception("Step crashed")
                raise
            metrics.add_metric(name=f"{role.capitalize()}Succeeded", unit=MetricUnit.Count, value=1)
            logger.info("Step finished", extra={"status": result["status"]})
            return result

        handler.__name__ = handler.__qualname__ = f"{self.name}_{role}_handler"
        return handler

    @staticmethod
    def _parse(event: dict[str, Any], role: str) -> StepRequest:
        try:
            return StepRequest.model_validate(event)
        except ValidationError as error:
            metrics.add_metric(name=f"{role.capitalize()}InvalidInput", unit=MetricUnit.Count, value=1)
            logger.error("Invalid step input", extra={"invalid_fields": invalid_fields(error)})
            raise InvalidInput(f"invalid step input, check these fields: {invalid_fields(error)}") from None
