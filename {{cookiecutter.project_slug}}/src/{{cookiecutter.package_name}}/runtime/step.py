"""One saga step: its action and its compensation wrapped as Lambda handlers.

The handler does the plumbing every step needs (input validation, structured logs with the saga
id as correlation id, tracing, metrics, idempotency, error mapping) so that the step's module in
``steps/`` holds only business code: ``execute`` and, when the step can be undone, the
function named after its compensation.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from {{ cookiecutter.package_name }}.naming import Step
from {{ cookiecutter.package_name }}.runtime import idempotency
from {{ cookiecutter.package_name }}.runtime.envelope import StepRequest, StepResult
from {{ cookiecutter.package_name }}.runtime.errors import (
    DatabaseNotReady,
    IdempotencyStoreUnavailable,
    InvalidInput,
    StepCancelled,
    StepInProgress,
    StepRejected,
    TransientError,
)
from {{ cookiecutter.package_name }}.runtime.observability import logger, metrics, observed, tracer

StepFunction = Callable[[StepRequest], StepResult]
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
MAX_REASON_CHARACTERS = 200


class SagaStep:
    """Builds the action and compensation handlers of one step from its business functions.

    Every ``StepRejected`` the business code raises, subclasses included, reaches Step Functions
    under the step's rejection error; every ``TransientError`` or ``DatabaseNotReady`` under that
    class's own name, the names the definition retries.
    """

    def __init__(self, step: Step, functions: dict[str, StepFunction], max_payload: int) -> None:
        self.step = step
        self.max_payload = max_payload
        self.rejection: type[StepRejected] = type(step.rejection_error, (StepRejected,), {"__module__": __name__})
        self.functions = functions
        self.handlers = {role: self._handler(role) for role in functions}

    def _handler(self, role: str) -> LambdaHandler:
        function = self.step.name if role == "action" else str(self.step.compensation)

        @tracer.capture_method
        def run(request: StepRequest) -> dict[str, Any]:
            # Looked up per call, so the business function can be swapped in tests.
            return self.functions[role](request).as_dict()

        run_once = idempotency.once(
            run,
            data_keyword_argument="request",
            kind="step",
            config=idempotency.step_config,
            prefix=idempotency.key_prefix(self.step.name, role),
        )

        @observed(correlation_id_path="saga_id")
        def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            idempotency.step_config.register_lambda_context(context)
            logger.append_keys(step=self.step.name, function=function)
            try:
                request = StepRequest.parse(event, self.max_payload)
                if role == "compensation":
                    idempotency.hold_action(self.step.name, request.as_dict(), context)
                result = run_once(request=request)
                if result == idempotency.CANCELLED:
                    raise StepCancelled(f"{self.step.name}: its compensation took hold of it before this invocation")
            except Exception as error:
                raise self._reported(error) from None
            metrics.add_metric(name="Succeeded", unit=MetricUnit.Count, value=1)
            logger.info("Step finished", extra={"status": result["status"]})
            return result

        handler.__name__ = handler.__qualname__ = f"{function}_handler"
        return handler

    def _reported(self, error: Exception) -> Exception:
        """The error as the state machine must see it, logged and counted once: its class name and at most
        ``MAX_REASON_CHARACTERS`` of its message, which become the failure's ``Cause`` in the saga's state."""
        reason = str(error)[:MAX_REASON_CHARACTERS]
        if isinstance(error, StepRejected):
            self._count("Rejected", expected=True)
            logger.warning("Step rejected", extra={"reason": reason, "rejection": type(error).__name__})
            return self.rejection(reason)
        if isinstance(error, InvalidInput):
            self._count("InvalidInput", expected=False)
            logger.error("Invalid step input", extra={"reason": reason})
            return InvalidInput(reason)
        for retried in (TransientError, DatabaseNotReady):
            if isinstance(error, retried):
                self._count(retried.__name__, expected=True)
                logger.warning("Step not done; the state machine retries it", extra={"reason": reason})
                return retried(reason)
        if isinstance(error, StepCancelled):
            self._count("Cancelled", expected=True)
            logger.warning("Step cancelled by its compensation; the saga compensates it", extra={"reason": reason})
            return StepCancelled(reason)
        if isinstance(error, StepInProgress | IdempotencyStoreUnavailable):
            self._count(type(error).__name__, expected=True)
            logger.info("Another invocation holds the step; the state machine retries", extra={"reason": reason})
            return type(error)(reason)
        self._count("Crashed", expected=False)
        logger.exception("Step crashed")  # the whole message and stack trace stay in the log
        crash: Exception = type(type(error).__name__, (Exception,), {"__module__": type(error).__module__})(reason)
        return crash

    @staticmethod
    def _count(metric: str, *, expected: bool) -> None:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
        if expected:
            # What the function's error alarm subtracts from Lambda's Errors: retried, or a business answer.
            metrics.add_metric(name="ExpectedFailures", unit=MetricUnit.Count, value=1)
