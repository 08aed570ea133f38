"""The offline AWS account the saga is deployed in: its tables, bus, queues and state machine, their names
fixed here and filled into the definition's placeholders, as the CDK app fills in the deployed resources."""

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from infra.config import METRICS_NAMESPACE, REGION
from {{ cookiecutter.package_name }} import saga
from {{ cookiecutter.package_name }}.naming import (
    DEAD_LETTER_QUEUE_PLACEHOLDER,
    EVENT_BUS_PLACEHOLDER,
    EVENT_SOURCE,
    SAGA_TABLE_PLACEHOLDER,
    function_placeholder,
)

ACCOUNT = "123456789012"
SAGA_TABLE = "sagas"
IDEMPOTENCY_TABLE = "idempotency"
EVENT_BUS = "saga-events"
DEAD_LETTER_QUEUE = "saga-dead-letters"
# What a function's environment holds in Lambda, with credentials that reach nothing but moto.
LAMBDA_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
    "POWERTOOLS_METRICS_NAMESPACE": f"{METRICS_NAMESPACE}/local",
    "SAGA_TABLE_NAME": SAGA_TABLE,
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@dataclass
class LambdaContext:
    """The parts of Lambda's context object the handlers use."""

    function_name: str
    region: str = "us-east-1"
    timeout_seconds: float = 20.0
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


class OfflineAccount:
    """Creates every resource the saga uses, in the moto account active now."""

    def __init__(self, region: str, definition_file: Path, workflow_type: str) -> None:
        # One client per service: creating a boto3 client costs more than running a saga.
        self.dynamodb = boto3.client("dynamodb", region_name=region)
        self.sqs = boto3.client("sqs", region_name=region)
        self.events = boto3.client("events", region_name=region)
        self.stepfunctions = boto3.client("stepfunctions", region_name=region)
        existing = self.dynamodb.list_tables()["TableNames"]  # a test's own account may have made them
        for table, key in ((IDEMPOTENCY_TABLE, "id"), (SAGA_TABLE, "saga_id")):
            if table not in existing:
                self.dynamodb.create_table(
                    TableName=table,
                    KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )
        self.events.create_event_bus(Name=EVENT_BUS)
        self.dead_letter_queue = self.sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
        # Every event the saga publishes, in order, for the run's report; and each consumer's, by its own rule.
        self.events_queue = self.route("all-saga-events", {"source": [EVENT_SOURCE]})
        self.consumer_queues = {c.name: self.route(f"consumer-{c.name}", c.event_pattern) for c in saga.CONSUMERS}
        titles = [title for step in saga.STEPS for title in step.functions.values()]
        substitutions = {
            SAGA_TABLE_PLACEHOLDER: SAGA_TABLE,
            EVENT_BUS_PLACEHOLDER: EVENT_BUS,
            DEAD_LETTER_QUEUE_PLACEHOLDER: self.dead_letter_queue,
            **{function_placeholder(title): LambdaContext(title, region).invoked_function_arn for title in titles},
        }
        definition = definition_file.read_text(encoding="utf-8")
        for name, value in substitutions.items():
            definition = definition.replace("${" + name + "}", value)
        if "${" in definition:
            raise ValueError(f"{definition_file} has a placeholder the harness does not know")
        self.state_machine_arn: str = self.stepfunctions.create_state_machine(
            name="saga",
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/saga",
            type="EXPRESS" if workflow_type == "EXPRESS" else "STANDARD",
        )["stateMachineArn"]

    def route(self, name: str, pattern: Mapping[str, Any]) -> str:
        url: str = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name=name, EventBusName=EVENT_BUS, EventPattern=json.dumps(pattern))
        self.events.put_targets(Rule=name, EventBusName=EVENT_BUS, Targets=[{"Id": name, "Arn": arn}])
        return url

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message waiting in a queue, parsed, in order; the queue is empty afterwards."""
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            messages += [json.loads(message["Body"]) for message in batch]
            entries = enumerate(message["ReceiptHandle"] for message in batch)
            self.sqs.delete_message_batch(
                QueueUrl=queue_url, Entries=[{"Id": str(n), "ReceiptHandle": r} for n, r in entries]
            )
        return messages

    def status_record(self, saga_id: Any) -> dict[str, Any] | None:
        if not isinstance(saga_id, str) or not saga_id:
            return None
        item = self.dynamodb.get_item(TableName=SAGA_TABLE, Key={"saga_id": {"S": saga_id}}).get("Item")
        return {key: next(iter(value.values())) for key, value in item.items()} if item else None
