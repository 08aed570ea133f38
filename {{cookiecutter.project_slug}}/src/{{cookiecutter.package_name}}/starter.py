"""Starts one saga per ``SagaRequested`` event, once per saga id.

EventBridge delivers at least once, and an Express workflow does not refuse a second execution of
the same name. So the starter first claims the saga id in the saga table with a conditional write
(status ``REQUESTED``), then starts the execution named after it. A request for a saga id already
claimed starts nothing, unless an earlier delivery claimed it and may have failed before starting:
then it starts again, and the state machine's own conditional record keeps it to one saga.

An event replayed from an archive (EventBridge marks it with ``replay-name``) starts nothing: a
replay is for consumers that missed outcomes, not for moving money a second time.
"""

import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from {{ cookiecutter.package_name }} import saga
from {{ cookiecutter.package_name }}.naming import SAGA_REQUESTED
from {{ cookiecutter.package_name }}.runtime import aws
from {{ cookiecutter.package_name }}.runtime.envelope import SagaRequest, max_payload_bytes
from {{ cookiecutter.package_name }}.runtime.errors import InvalidInput
from {{ cookiecutter.package_name }}.runtime.observability import logger, metrics, observed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

REQUESTED = "REQUESTED"


def stepfunctions() -> "SFNClient":
    """The Step Functions client of this execution environment, created on first use."""
    client: SFNClient = aws.client("stepfunctions")
    return client


def dynamodb() -> "DynamoDBClient":
    client: DynamoDBClient = aws.client("dynamodb")
    return client


@observed(correlation_id_path="detail.saga_id")
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "replay-name" in event:
        metrics.add_metric(name="ReplayedSagaRequest", unit=MetricUnit.Count, value=1)
        logger.info("Replayed saga request ignored", extra={"replay": str(event["replay-name"])})
        return {"started": False, "replay": str(event["replay-name"])}
    try:
        if not isinstance(event, dict) or event.get("detail-type") != SAGA_REQUESTED:
            raise InvalidInput(f"invalid saga request: not a {SAGA_REQUESTED} event")
        request = SagaRequest.parse(event.get("detail"), max_payload_bytes(saga.STEPS))
    except InvalidInput as error:
        # The producer's mistake, which no retry mends: refused here, not dead-lettered as a fault.
        metrics.add_metric(name="InvalidSagaRequest", unit=MetricUnit.Count, value=1)
        logger.warning("Saga request rejected", extra={"reason": str(error)})
        return {"started": False, "rejected": str(error)}
    if not claim(request.saga_id, str(event.get("id", ""))):
        metrics.add_metric(name="DuplicateSagaRequest", unit=MetricUnit.Count, value=1)
        logger.info("Saga already started; duplicate request ignored")
        return {"saga_id": request.saga_id, "started": False}
    try:
        started = stepfunctions().start_execution(
            stateMachineArn=os.environ["SAGA_STATE_MACHINE_ARN"],
            name=request.saga_id,
            input=json.dumps(request.as_dict()),
        )
    except stepfunctions().exceptions.ExecutionAlreadyExists:
        metrics.add_metric(name="DuplicateSagaRequest", unit=MetricUnit.Count, value=1)
        logger.info("Saga already started; duplicate request ignored")
        return {"saga_id": request.saga_id, "started": False}
    metrics.add_metric(name="SagaStarted", unit=MetricUnit.Count, value=1)
    logger.info("Saga started")
    return {"saga_id": request.saga_id, "started": True, "execution_arn": started["executionArn"]}


def claim(saga_id: str, request_id: str) -> bool:
    """Whether this request may start the saga: it claimed the id, or the claim was never followed by a start."""
    client, table = dynamodb(), os.environ["SAGA_TABLE_NAME"]
    item = {
        "saga_id": {"S": saga_id},
        "status": {"S": REQUESTED},
        "request_id": {"S": request_id},
        "updated_at": {"S": datetime.now(UTC).isoformat()},
    }
    try:
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(saga_id)")
    except client.exceptions.ConditionalCheckFailedException:
        existing = client.get_item(TableName=table, Key={"saga_id": {"S": saga_id}}, ConsistentRead=True).get(
            "Item", {}
        )
        return existing.get("status", {}).get("S") == REQUESTED
    return True
