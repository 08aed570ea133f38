"""Starting sagas from SagaRequested events: one execution per saga id, whatever the deliveries."""

import json
from typing import Any

import boto3
import pytest

from {{ cookiecutter.package_name }}.runtime.errors import InvalidInput
from {{ cookiecutter.package_name }}.runtime.models import SAGA_REQUESTED
from {{ cookiecutter.package_name }}.starter import handler


@pytest.fixture
def state_machine_arn(monkeypatch: pytest.MonkeyPatch) -> str:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="saga", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    arn = boto3.client("stepfunctions").create_state_machine(name="saga", definition=definition, roleArn=role)[
        "stateMachineArn"
    ]
    monkeypatch.setenv("SAGA_STATE_MACHINE_ARN", arn)
    return str(arn)


def requested(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "0d079340-135a-c8c6-95c2-41fb8f496c53",
        "detail-type": SAGA_REQUESTED,
        "source": "orders.api",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def test_a_request_starts_one_execution_named_after_the_saga(state_machine_arn: str, lambda_context: Any) -> None:
    result = handler.handle(requested({"saga_id": "order-42", "payload": {"total": 3}}), lambda_context)
    assert result["started"] is True
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine_arn)["executions"]
    assert [execution["name"] for execution in executions] == ["order-42"]
    described = boto3.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    assert json.loads(described["input"]) == {"saga_id": "order-42", "payload": {"total": 3}}


def test_a_redelivered_request_starts_nothing_more(state_machine_arn: str, lambda_context: Any) -> None:
    event = requested({"saga_id": "order-42", "payload": {"total": 3}})
    handler.handle(event, lambda_context)
    again = handler.handle(requested({"saga_id": "order-42", "payload": {"total": 4}}), lambda_context)
    assert again == {"saga_id": "order-42", "started": False}
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine_arn)["executions"]
    assert len(executions) == 1


@pytest.mark.parametrize("detail", [{}, {"saga_id": "has spaces"}, {"saga_id": "x", "payload": [], "extra": 1}])
def test_a_malformed_request_starts_nothing(
    state_machine_arn: str, lambda_context: Any, detail: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput, match="invalid saga request"):
        handler.handle(requested(detail), lambda_context)
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine_arn)["executions"]
    assert executions == []
