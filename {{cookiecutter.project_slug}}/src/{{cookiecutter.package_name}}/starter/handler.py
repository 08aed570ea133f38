"""Starts one saga per ``SagaRequested`` event, named after its saga id.

EventBridge can target a state machine directly, but it cannot choose the execution
name. Naming the execution after the saga id is what makes a Standard workflow refuse
a second start of the same saga, so a redelivered request never runs the saga twice.
"""

import functools
import json
import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.runtime.errors import InvalidInput
from {{ cookiecutter.package_name }}.runtime.models import SagaRequest, invalid_fields
from {{ cookiecutter.package_name }}.runtime.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


@functools.cache
def stepfunctions() -> "SFNClient":
    """The Step Functions client of this execution environment, created on first use."""
    return boto3.session.Session().client("stepfunctions")


class SagaRequestedEvent(EventBridgeModel):
    detail: SagaRequest


@logger.inject_lambda_context(correlation_id_path="detail.saga_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = SagaRequestedEvent.model_validate(event).detail
    except ValidationError as error:
        metrics.add_metric(name="InvalidSagaRequest", unit=MetricUnit.Count, value=1)
        logger.error("Invalid saga request", extra={"invalid_fields": invalid_fields(error)})
        raise InvalidInput(f"invalid saga request, check these fields: {invalid_fields(error)}") from None
    try:
        started = stepfunctions().start_execution(
            stateMachineArn=os.environ["SAGA_STATE_MACHINE_ARN"],
            name=request.saga_id,
            input=json.dumps(request.model_dump(mode="json")),
        )
    except stepfunctions().exceptions.ExecutionAlreadyExists:
        metrics.add_metric(name="DuplicateSagaRequest", unit=MetricUnit.Count, value=1)
        logger.info("Saga already started; duplicate request ignored")
        return {"saga_id": request.saga_id, "started": False}
    metrics.add_metric(name="SagaStarted", unit=MetricUnit.Count, value=1)
    logger.info("Saga started")
    return {"saga_id": request.saga_id, "started": True, "execution_arn": started["executionArn"]}
