"""Starting sagas from SagaRequested events: one execution per saga id, whatever the deliveries."""

import json
from typing import Any

import boto3
import pytest

from devtools.harness.account import SAGA_TABLE
from {{ cookiecutter.package_name }} import starter
from {{ cookiecutter.package_name }}.naming import REQUEST_SOURCE_PREFIX, SAGA_REQUESTED


@pytest.fixture(params=["STANDARD", "EXPRESS"])
def state_machine_arn(request: pytest.FixtureRequest, dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    dynamodb.create_table(
        TableName=SAGA_TABLE,
        KeySchema=[{"AttributeName": "saga_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "saga_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    arn = boto3.client("stepfunctions").create_state_machine(
        name="saga", definition=definition, roleArn="arn:aws:iam::123456789012:role/saga", type=request.param
    )["stateMachineArn"]
    monkeypatch.setenv("SAGA_STATE_MACHINE_ARN", arn)
    return str(arn)


def requested(detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "0d079340-135a-c8c6-95c2-41fb8f496c53",
        "detail-type": SAGA_REQUESTED,
        "source": f"{REQUEST_SOURCE_PREFIX}api",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def executions(arn: str) -> list[str]:
    return [
        execution["name"]
        for execution in boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    ]


def status(dynamodb: Any, saga_id: str) -> str:
    return str(dynamodb.get_item(TableName=SAGA_TABLE, Key={"saga_id": {"S": saga_id}})["Item"]["status"]["S"])


def test_a_request_claims_the_saga_id_and_starts_one_execution_named_after_it(
    state_machine_arn: str, lambda_context: Any, dynamodb: Any
) -> None:
    result = starter.handle(requested({"saga_id": "order-42", "payload": {"total": 3}}), lambda_context)
    assert result["started"] is True
    assert executions(state_machine_arn) == ["order-42"]
    described = boto3.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    assert json.loads(described["input"]) == {"saga_id": "order-42", "payload": {"total": 3}}
    assert status(dynamodb, "order-42") == "REQUESTED"


def test_a_request_for_a_saga_already_running_starts_nothing(
    state_machine_arn: str, lambda_context: Any, dynamodb: Any
) -> None:
    starter.handle(requested({"saga_id": "order-42", "payload": {}}), lambda_context)
    # The execution records its start; from then on the saga id is taken, in both workflow types.
    dynamodb.put_item(TableName=SAGA_TABLE, Item={"saga_id": {"S": "order-42"}, "status": {"S": "STARTED"}})
    again = starter.handle(requested({"saga_id": "order-42", "payload": {"total": 4}}), lambda_context)
    assert again == {"saga_id": "order-42", "started": False}
    assert executions(state_machine_arn) == ["order-42"]


def test_a_claim_never_followed_by_a_start_is_taken_over_by_the_next_delivery(
    state_machine_arn: str, lambda_context: Any, dynamodb: Any
) -> None:
    dynamodb.put_item(TableName=SAGA_TABLE, Item={"saga_id": {"S": "order-7"}, "status": {"S": "REQUESTED"}})
    assert starter.handle(requested({"saga_id": "order-7", "payload": {}}), lambda_context)["started"] is True
    assert executions(state_machine_arn) == ["order-7"]


@pytest.mark.parametrize(
    "detail",
    [{}, {"saga_id": "order#1"}, {"saga_id": "o" * 81}, {"saga_id": "x", "payload": [], "extra": 1}, "not an object"],
)
def test_a_malformed_request_is_rejected_without_failing_the_delivery(
    state_machine_arn: str, lambda_context: Any, detail: Any, caplog: pytest.LogCaptureFixture
) -> None:
    result = starter.handle(requested(detail), lambda_context)
    assert (result["started"], result["rejected"].startswith("invalid saga request")) == (False, True)
    assert executions(state_machine_arn) == []
    assert [(record.levelname, record.message) for record in caplog.records] == [("WARNING", "Saga request rejected")]


def test_a_request_replayed_from_an_archive_starts_nothing(state_machine_arn: str, lambda_context: Any) -> None:
    replayed = {**requested({"saga_id": "order-9", "payload": {}}), "replay-name": "after-the-incident"}
    assert starter.handle(replayed, lambda_context) == {"started": False, "replay": "after-the-incident"}
    assert executions(state_machine_arn) == []
