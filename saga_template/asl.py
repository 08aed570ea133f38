"""The saga's Step Functions definition (Amazon States Language), built from the model.

The output is the generated project's ``statemachine/saga.asl.json``: pretty-printed JSON
with ``${...}`` placeholders that the CDK app substitutes (one Lambda ARN per action and per
compensation, the saga table, the event bus, the compensation dead-letter queue).

Shape, for services s1..sn:

    Validate input -> Start saga -> Record STARTED -> s1 -> ... -> sn
        -> Record SUCCEEDED -> Publish SagaSucceeded -> Saga succeeded

Each step retries only transient errors. A definitive rejection (``<Title>Rejected`` or
``InvalidInput``: nothing happened) enters the compensation chain at the previous
compensated step; anything else (``States.ALL``: it may have half-happened) enters at the
step's own compensation. The chain is one linear sequence of compensations in reverse order,
so the definition grows linearly with the number of services. A compensation that still
fails after its retries is recorded under ``$.compensation_errors`` and the chain goes on.
At its end, a failed compensation sends the whole state to the dead-letter queue and ends
in ``CompensationFailed``; otherwise the saga ends in ``SagaFailed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from saga_template.model import SagaModel, Service

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
DYNAMODB_PUT_ITEM = "arn:aws:states:::dynamodb:putItem"
EVENTS_PUT_EVENTS = "arn:aws:states:::events:putEvents"
SQS_SEND_MESSAGE = "arn:aws:states:::sqs:sendMessage"

SAGA_TABLE = "${SagaTableName}"
EVENT_BUS = "${EventBusName}"
COMPENSATION_DLQ = "${CompensationDlqUrl}"

# Errors a step is retried on: the project's TransientError and the Lambda service's own
# transient failures. Lambda.Unknown is not among them: it means the function ran and died
# (out of memory, its own timeout), so the step may have half-happened and is compensated.
TRANSIENT_ERRORS = (
    "TransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
INVALID_INPUT = "InvalidInput"

# Fixed state names contain spaces, names derived from services never do: they cannot clash.
VALIDATE_INPUT = "Validate input"
INVALID_SAGA_INPUT = "Invalid input"
START_SAGA = "Start saga"
CHECK_COMPENSATIONS = "Check compensations"
SEND_TO_DLQ = "Send state to DLQ"
SAGA_SUCCEEDED = "Saga succeeded"
SAGA_FAILED = "Saga failed"
COMPENSATION_FAILED = "Compensation failed"

OUTCOMES = {
    # status: (detail-type, record state, publish state)
    "STARTED": (None, "Record STARTED", None),
    "SUCCEEDED": ("SagaSucceeded", "Record SUCCEEDED", "Publish SagaSucceeded"),
    "FAILED": ("SagaFailed", "Record FAILED", "Publish SagaFailed"),
    "COMPENSATION_FAILED": (
        "SagaCompensationFailed",
        "Record COMPENSATION_FAILED",
        "Publish SagaCompensationFailed",
    ),
}


@dataclass(frozen=True)
class Timing:
    """Timeouts and retry policies. Express workflows end after 5 minutes, so they are tighter.

    A Lambda task's timeout stays above the functions' own (20 seconds in the CDK app), so a
    slow invocation ends as the function's timeout, with its logs, rather than the task's.
    """

    step_timeout: int
    step_attempts: int
    step_max_delay: int
    compensation_timeout: int
    compensation_attempts: int
    compensation_max_delay: int
    integration_timeout: int = 10


TIMINGS = {
    "STANDARD": Timing(
        step_timeout=60,
        step_attempts=3,
        step_max_delay=10,
        compensation_timeout=60,
        compensation_attempts=6,
        compensation_max_delay=60,
    ),
    "EXPRESS": Timing(
        step_timeout=25,
        step_attempts=3,
        step_max_delay=5,
        compensation_timeout=25,
        compensation_attempts=4,
        compensation_max_delay=10,
    ),
}


def placeholder(title: str) -> str:
    """The placeholder of a Lambda function's ARN, for example ``${PaymentFunctionArn}``."""
    return "${" + title + "FunctionArn}"


def rejected_state(service: Service) -> str:
    return f"{service.title} rejected"


def failed_state(service: Service) -> str:
    return f"{service.title} failed"


def build_definition(saga: SagaModel) -> dict[str, Any]:
    """The whole state machine as a JSON-ready dict, states in reading order."""
    timing = TIMINGS[saga.workflow_type]
    source = f"{saga.package_name}.saga"
    compensated = saga.compensated_services
    chain_end = CHECK_COMPENSATIONS if compensated else OUTCOMES["FAILED"][1]

    states: dict[str, Any] = {
        VALIDATE_INPUT: _validate_input(),
        INVALID_SAGA_INPUT: {
            "Type": "Fail",
            "Error": "InvalidSagaInput",
            "Cause": 'The saga input must be {"saga_id": "<text>", "payload": {...}}; nothing was done.',
        },
        START_SAGA: {
            "Type": "Pass",
            "Comment": "Keeps only the saga's own fields and prepares where results and errors go.",
            "Parameters": {
                "saga_id.$": "$.saga_id",
                "payload.$": "$.payload",
                "results": {},
                "compensations": {},
                "compensation_errors": {},
            },
            "Next": OUTCOMES["STARTED"][1],
        },
        OUTCOMES["STARTED"][1]: _record("STARTED", saga.services[0].title, timing),
    }

    for index, service in enumerate(saga.services):
        following = saga.services[index + 1].title if index + 1 < len(saga.services) else OUTCOMES["SUCCEEDED"][1]
        before = _chain_entry(compensated, service.position, include_own=False)
        own = _chain_entry(compensated, service.position, include_own=True)
        states[service.title] = _step(service, following, before, own, timing)
        if own != before:
            states[rejected_state(service)] = _note_failure(service, before)
        states[failed_state(service)] = _note_failure(service, own)

    for index, service in enumerate(reversed(compensated)):
        remaining = tuple(reversed(compensated))[index + 1 :]
        after = str(remaining[0].compensation_title) if remaining else chain_end
        states[str(service.compensation_title)] = _compensation(service, after, timing)

    if compensated:
        states[CHECK_COMPENSATIONS] = _check_compensations(compensated)
        states[SEND_TO_DLQ] = {
            "Type": "Task",
            "Comment": "The whole saga state, every compensation error included, for an operator to redrive.",
            "Resource": SQS_SEND_MESSAGE,
            "Parameters": {
                "QueueUrl": COMPENSATION_DLQ,
                "MessageBody": {"execution_arn.$": "$$.Execution.Id", "state.$": "$"},
            },
            "ResultPath": None,
            "TimeoutSeconds": timing.integration_timeout,
            "Retry": [_integration_retry()],
            "Next": OUTCOMES["COMPENSATION_FAILED"][1],
        }
        _add_outcome(states, "COMPENSATION_FAILED", source, COMPENSATION_FAILED, timing)
        states[COMPENSATION_FAILED] = {
            "Type": "Fail",
            "Error": "CompensationFailed",
            "Cause": "A compensation failed after its retries; the saga state is in the dead-letter queue.",
        }

    _add_outcome(states, "FAILED", source, SAGA_FAILED, timing)
    states[SAGA_FAILED] = {
        "Type": "Fail",
        "Error": "SagaFailed",
        "Cause": "A step failed; the steps before it were compensated.",
    }
    _add_outcome(states, "SUCCEEDED", source, SAGA_SUCCEEDED, timing)
    states[SAGA_SUCCEEDED] = {"Type": "Succeed"}

    return {
        "Comment": (
            f"{saga.project_name}: the {saga.title} saga ({saga.workflow_type.lower()} workflow). "
            "Steps run in order; a failure compensates the steps before it in reverse order."
        ),
        "StartAt": VALIDATE_INPUT,
        "States": states,
    }


def render_definition(saga: SagaModel) -> str:
    """The definition as the file holds it: indented JSON ending with a newline."""
    return json.dumps(build_definition(saga), indent=2, ensure_ascii=False) + "\n"


def _validate_input() -> dict[str, Any]:
    checks: list[dict[str, Any]] = [
        {"Variable": "$.saga_id", "IsPresent": True},
        {"Variable": "$.saga_id", "IsString": True},
        {"Not": {"Variable": "$.saga_id", "StringEquals": ""}},
        {"Variable": "$.payload", "IsPresent": True},
    ]
    # States Language has no "is an object" test: rule out every other JSON type but arrays,
    # which the first step's input validation refuses before doing anything.
    checks += [
        {"Not": {"Variable": "$.payload", test: True}} for test in ("IsNull", "IsString", "IsNumeric", "IsBoolean")
    ]
    return {
        "Type": "Choice",
        "Comment": "Refuse a malformed input before anything is recorded or done.",
        "Choices": [{"And": checks, "Next": START_SAGA}],
        "Default": INVALID_SAGA_INPUT,
    }


def _chain_entry(compensated: tuple[Service, ...], position: int, *, include_own: bool) -> str:
    """Where to go after step ``position`` fails: the compensation of the latest compensated step before
    it (or of the step itself when ``include_own``), or straight to recording the failure."""
    candidates = [
        service
        for service in compensated
        if service.position < position or (include_own and service.position == position)
    ]
    if not candidates:
        return OUTCOMES["FAILED"][1]
    return str(candidates[-1].compensation_title)


def _invoke_parameters(title: str) -> dict[str, Any]:
    return {
        "FunctionName": placeholder(title),
        "Payload": {"saga_id.$": "$.saga_id", "payload.$": "$.payload", "results.$": "$.results"},
    }


def _step_result() -> dict[str, str]:
    return {"status.$": "$.Payload.status", "data.$": "$.Payload.data"}


def _step(service: Service, following: str, before: str, own: str, timing: Timing) -> dict[str, Any]:
    catch: list[dict[str, Any]] = []
    if own != before:
        catch.append(
            {
                "ErrorEquals": [service.rejection_error, INVALID_INPUT],
                "ResultPath": "$.failure",
                "Next": rejected_state(service),
            }
        )
    catch.append({"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": failed_state(service)})
    return {
        "Type": "Task",
        "Comment": f"Step {service.position}: {service.name}.",
        "Resource": LAMBDA_INVOKE,
        "Parameters": _invoke_parameters(service.title),
        "ResultSelector": _step_result(),
        "ResultPath": f"$.results.{service.name}",
        "TimeoutSeconds": timing.step_timeout,
        "Retry": [
            {
                "ErrorEquals": list(TRANSIENT_ERRORS),
                "IntervalSeconds": 1,
                "MaxAttempts": timing.step_attempts,
                "BackoffRate": 2,
                "MaxDelaySeconds": timing.step_max_delay,
                "JitterStrategy": "FULL",
            }
        ],
        "Catch": catch,
        "Next": following,
    }


def _note_failure(service: Service, following: str) -> dict[str, Any]:
    return {
        "Type": "Pass",
        "Parameters": {"step": service.name, "error.$": "$.failure.Error", "cause.$": "$.failure.Cause"},
        "ResultPath": "$.failure",
        "Next": following,
    }


def _compensation(service: Service, following: str, timing: Timing) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": f"Undo {service.name}: {service.compensation}.",
        "Resource": LAMBDA_INVOKE,
        "Parameters": _invoke_parameters(str(service.compensation_title)),
        "ResultSelector": _step_result(),
        "ResultPath": f"$.compensations.{service.compensation}",
        "TimeoutSeconds": timing.compensation_timeout,
        "Retry": [
            # Retrying cannot change a refusal or an input the handler cannot read.
            {"ErrorEquals": [service.rejection_error, INVALID_INPUT], "MaxAttempts": 0},
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": 2,
                "MaxAttempts": timing.compensation_attempts,
                "BackoffRate": 2,
                "MaxDelaySeconds": timing.compensation_max_delay,
                "JitterStrategy": "FULL",
            },
        ],
        "Catch": [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": f"$.compensation_errors.{service.compensation}",
                "Next": following,
            }
        ],
        "Next": following,
    }


def _check_compensations(compensated: tuple[Service, ...]) -> dict[str, Any]:
    failed = [
        {"Variable": f"$.compensation_errors.{service.compensation}", "IsPresent": True} for service in compensated
    ]
    rule: dict[str, Any] = failed[0] if len(failed) == 1 else {"Or": failed}
    return {
        "Type": "Choice",
        "Choices": [{**rule, "Next": SEND_TO_DLQ}],
        "Default": OUTCOMES["FAILED"][1],
    }


def _integration_retry() -> dict[str, Any]:
    return {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 1,
        "MaxAttempts": 3,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    }


def _record(status: str, following: str, timing: Timing) -> dict[str, Any]:
    item: dict[str, Any] = {
        "saga_id": {"S.$": "$.saga_id"},
        "status": {"S": status},
        "execution_arn": {"S.$": "$$.Execution.Id"},
        "updated_at": {"S.$": "$$.State.EnteredTime"},
    }
    if status in ("FAILED", "COMPENSATION_FAILED"):
        item["failed_step"] = {"S.$": "$.failure.step"}
        item["error"] = {"S.$": "$.failure.error"}
    return {
        "Type": "Task",
        "Resource": DYNAMODB_PUT_ITEM,
        "Parameters": {"TableName": SAGA_TABLE, "Item": item},
        "ResultPath": None,
        "TimeoutSeconds": timing.integration_timeout,
        "Retry": [_integration_retry()],
        "Next": following,
    }


def _outcome_detail(status: str) -> dict[str, Any]:
    detail: dict[str, Any] = {"saga_id.$": "$.saga_id", "status": status}
    if status != "SUCCEEDED":
        detail.update({"failed_step.$": "$.failure.step", "error.$": "$.failure.error", "cause.$": "$.failure.cause"})
    return detail


def _add_outcome(states: dict[str, Any], status: str, source: str, final: str, timing: Timing) -> None:
    detail_type, record, publish = OUTCOMES[status]
    assert publish is not None
    states[record] = _record(status, publish, timing)
    states[publish] = {
        "Type": "Task",
        "Resource": EVENTS_PUT_EVENTS,
        "Parameters": {
            "Entries": [
                {
                    "EventBusName": EVENT_BUS,
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": _outcome_detail(status),
                }
            ]
        },
        "ResultPath": None,
        "TimeoutSeconds": timing.integration_timeout,
        "Retry": [_integration_retry()],
        "Next": final,
    }
