{%- set saga = cookiecutter | saga_model -%}
"""Powertools logger, tracer and metrics, configured once for the whole package, and the handlers' wrapping.

The service name (``POWERTOOLS_SERVICE_NAME``) and the metrics namespace of the stage
(``POWERTOOLS_METRICS_NAMESPACE``) are set per function by the infrastructure and read from the
environment as each event is handled, not when this module is imported, so that no import order
(a test, a benchmark, a REPL) leaves a function without them. Logs are structured JSON and never
include the event (it may hold PII); for the same reason the infrastructure has the tracer record
neither results nor exceptions, only timings and calls.
"""

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from {{ saga.package_name }}.naming import OBSERVABILITY_FAILED

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# The libraries whose calls become X-Ray subsegments: AWS SDK calls and plain HTTP. Add one the
# business code uses (requests, httpx...) to trace it too; patching every library X-Ray knows would
# import each installed one at every cold start.{% if saga.database_mode == "rds_proxy" %} X-Ray's pg8000 patch traces pg8000's DB-API connections
# only, not the native interface the database layer uses: SQL time shows in the subsegment of the step's logic.{% endif %}
TRACED_LIBRARIES = ("botocore", "httplib")

logger = Logger()
tracer = Tracer(patch_modules=TRACED_LIBRARIES)
metrics = Metrics()


def observed(correlation_id_path: str) -> Callable[[LambdaHandler], LambdaHandler]:
    """The handler with the saga id in its logs, traced, and its metrics flushed, none of which decides its outcome.

    Observability watches the saga: an error the logger, the tracer or the metrics flush raises (a
    namespace missing, a limit exceeded) is logged as an ``OBSERVABILITY_FAILED`` warning naming the
    metrics it lost, which a log metric filter counts for an alarm (``infra/monitoring.py``), and the
    handler's own result or error stands. When it fails before the handler ran, the handler runs without
    it, and its metrics are published with the next invocation's.
    """

    def decorate(handler: LambdaHandler) -> LambdaHandler:
        own = threading.local()  # what the handler itself did in this invocation, per thread

        def run(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            own.ran = True
            # The service name in the logs, after the logger's context is reset for this event.
            logger.append_keys(service=metrics.service)
            try:
                result = handler(event, context)
            except Exception as error:
                own.error = error
                raise
            own.result = result
            return result

        instrumented = logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)(
            tracer.capture_lambda_handler(metrics.log_metrics(run))
        )

        @functools.wraps(handler)
        def observed_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            own.__dict__.clear()
            try:
                names_from_environment()
                result: dict[str, Any] = instrumented(event, context)
            except Exception as error:
                if error is getattr(own, "error", None):
                    raise
                lost(error)
            else:
                return result
            if not getattr(own, "ran", False):
                return handler(event, context)
            if hasattr(own, "error"):
                raise own.error
            result = own.result
            return result

        return observed_handler

    return decorate


def names_from_environment() -> None:
    """The function's service name and metrics namespace, as its environment holds them now."""
    service = os.environ.get("POWERTOOLS_SERVICE_NAME")
    metrics.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
    metrics.service = tracer.service = service


def lost(error: Exception) -> None:
    """Report what observability failed to record, and drop the metrics it could not publish."""
    unpublished = sorted(metrics.metric_set)
    metrics.clear_metrics()
    logger.warning(
        OBSERVABILITY_FAILED,
        extra={"error": f"{type(error).__name__}: {error}", "unpublished_metrics": unpublished},
    )
