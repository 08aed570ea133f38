{%- set saga = cookiecutter | saga_model -%}
"""Build the saga's state machine definition (Amazon States Language) from ``saga.py``.

``python -m infra.definition`` (run by ``make definition``) rewrites ``statemachine/saga.asl.json``,
the reviewed artifact the CDK app deploys; ``--check`` fails while it is stale. Standard library only.

For steps s1..sn the shape is::

    Validate input -> Read saga id -> Check saga id -> Record STARTED -> s1 -> ... -> sn
        -> Record SUCCEEDED -> Publish SagaSucceeded

- A step retries only what is worth retrying (``infra.timing``). A definitive rejection
  (``<Step>Rejected``, ``InvalidInput``: nothing happened) enters the compensation chain at the
  previous compensated step; anything else may have half-happened, so it enters at the step's own
  compensation. The chain is one linear sequence of compensations in reverse order.
- A compensation that still fails after its retries is noted under ``compensation_errors`` and the
  chain goes on; at its end the state goes to the dead-letter queue and the execution fails with
  ``CompensationFailed``. A compensated saga ends ``FAILED`` and publishes ``SagaFailed``, but its
  execution succeeds: the saga did what it must, and nobody needs waking.
- ``Record STARTED`` is conditional: a second execution for the same saga id (Express executions
  are not deduplicated by name), or a re-run of an execution that has ended (an asynchronous Express
  execution runs at least once, under the same ``$$.Execution.Id``), ends at ``Already started``
  without running a step. Every later status record is conditional too, on the saga still being
  ``STARTED`` by this execution: a re-run that overlapped the first run ends at ``Already ended``
  when the first one has recorded the outcome, recording and publishing nothing.
- Status records, events and dead letters are direct service integrations. When one still fails
  after its retries, the state goes to the dead-letter queue (``BookkeepingFailed``); if even that
  fails, the execution fails with ``DeadLetterFailed``.
- Failures travel as the step's name and the error's name only: the message and the stack trace of
  an error stay in the function's logs, since they may quote a payload.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from infra import limits
from infra.timing import EXPRESS_FUNCTION_TIMEOUTS, Retry, Timing, express, standard
from {{ saga.package_name }} import saga
from {{ saga.package_name }}.naming import (
    DEAD_LETTER_QUEUE_PLACEHOLDER,
    EVENT_BUS_PLACEHOLDER,
    EVENT_SOURCE,
    INVALID_INPUT,
    PACKAGE,
    SAGA_ID_CHARACTERS,
    SAGA_ID_MAX_LENGTH,
    SAGA_TABLE_PLACEHOLDER,
    Step,
    function_placeholder,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFINITION_FILE = PROJECT_DIR / "statemachine" / "saga.asl.json"

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
DYNAMODB_PUT_ITEM = "arn:aws:states:::dynamodb:putItem"
EVENTS_PUT_EVENTS = "arn:aws:states:::events:putEvents"
SQS_SEND_MESSAGE = "arn:aws:states:::sqs:sendMessage"
CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"

# Fixed state names contain a space; a step's own state never does, so they cannot clash.
VALIDATE_INPUT = "Validate input"
READ_SAGA_ID = "Read saga id"
CHECK_SAGA_ID = "Check saga id"
INVALID_SAGA_INPUT = "Invalid input"
ALREADY_STARTED = "Already started"
ALREADY_ENDED = "Already ended"
CHECK_COMPENSATIONS = "Check compensations"
SEND_TO_DLQ = "Send state to DLQ"
SEND_UNRECORDED_TO_DLQ = "Send unrecorded saga to DLQ"
COMPENSATION_FAILED = "Compensation failed"
BOOKKEEPING_FAILED = "Bookkeeping failed"
DEAD_LETTER_FAILED = "Dead letter failed"
# Input keys the saga writes itself: an input that brings them is refused.
RESERVED_KEYS = ("results", "failure", "compensations", "compensation_errors", "bookkeeping_failure")


def record_state(status: str) -> str:
    return f"Record {status}"


def publish_state(detail_type: str) -> str:
    return f"Publish {detail_type}"


OUTCOMES = {"SUCCEEDED": "SagaSucceeded", "FAILED": "SagaFailed", "COMPENSATION_FAILED": "SagaCompensationFailed"}


def saga_timing(steps: tuple[Step, ...] = saga.STEPS, workflow_type: str = saga.WORKFLOW_TYPE) -> Timing:
    """The timing of this saga: STANDARD's, or the most generous EXPRESS one whose every path fits."""
    if workflow_type == "STANDARD":
        return standard()
    longest = 0.0
    for function_timeout in EXPRESS_FUNCTION_TIMEOUTS:
        timing = express(function_timeout)
        longest = limits.longest_path(build_definition(steps, workflow_type, timing)).total_seconds
        if longest <= limits.EXPRESS_BUDGET_SECONDS:
            return timing
    compensations = sum(1 for step in steps if step.compensation)
    raise limits.SagaDoesNotFit(
        f"an EXPRESS saga of {len(steps)} steps and {compensations} compensations cannot end within "
        f"{limits.EXPRESS_BUDGET_SECONDS:.0f} s in its worst case, even with {EXPRESS_FUNCTION_TIMEOUTS[-1]} s "
        f"functions ({longest:.0f} s): choose STANDARD, or fewer steps"
    )


def build_definition(steps: tuple[Step, ...], workflow_type: str, timing: Timing) -> dict[str, Any]:
    """The whole state machine as a JSON-ready dict, states in reading order."""
    compensated = tuple(step for step in steps if step.compensation)
    states: dict[str, Any] = {
        VALIDATE_INPUT: _validate_input(steps[0].title),
        **_check_saga_id(),
        INVALID_SAGA_INPUT: {
            "Type": "Fail",
            "Error": "InvalidSagaInput",
            "Cause": (
                'The saga input must be {"saga_id": "<id>", "payload": {...}}, nothing more, the id 1 to '
                f"{SAGA_ID_MAX_LENGTH} letters, digits, _ or -; nothing was done."
            ),
        },
        record_state("STARTED"): _record_started(steps[0].title, timing),
        ALREADY_STARTED: {
            "Type": "Pass",
            "Comment": "Another execution has this saga id: this one runs no step.",
            "Parameters": {"saga_id.$": "$.saga_id", "outcome": "IGNORED", "reason": "saga already started"},
            "End": True,
        },
    }
    for index, step in enumerate(steps):
        following = steps[index + 1].title if index + 1 < len(steps) else record_state("SUCCEEDED")
        before = _chain_entry(steps, compensated, index, include_own=False)
        own = _chain_entry(steps, compensated, index, include_own=True)
        states[step.title] = _step(step, index, following, (before, own), timing)
        if own != before:
            states[step.rejected_state] = _note_failure(step, before, first=index == 0)
        states[step.failed_state] = _note_failure(step, own, first=index == 0)

    chain_end = CHECK_COMPENSATIONS if compensated else record_state("FAILED")
    for index, step in enumerate(reversed(compensated)):
        remaining = tuple(reversed(compensated))[index + 1 :]
        following = remaining[0].compensation_title if remaining else chain_end
        states[step.compensation_title] = _compensation(step, following, timing)
        states[step.compensation_failed_state] = {
            "Type": "Pass",
            "Comment": "Keeps the error's name; its message and stack trace stay in the function's logs.",
            "Parameters": {"error.$": f"$.compensation_errors.{step.compensation}.Error"},
            "ResultPath": f"$.compensation_errors.{step.compensation}",
            "Next": following,
        }

    if compensated:
        states[CHECK_COMPENSATIONS] = _check_compensations(compensated)
        states[SEND_TO_DLQ] = _dead_letter(
            "COMPENSATION_FAILED", record_state("COMPENSATION_FAILED"), timing, catch=SEND_UNRECORDED_TO_DLQ
        )
        _add_outcome(states, "COMPENSATION_FAILED", COMPENSATION_FAILED, timing)
        states[COMPENSATION_FAILED] = {
            "Type": "Fail",
            "Error": "CompensationFailed",
            "Cause": "A compensation failed after its retries; the saga state is in the dead-letter queue.",
        }
    _add_outcome(states, "FAILED", None, timing)
    _add_outcome(states, "SUCCEEDED", None, timing)
    states[ALREADY_ENDED] = {
        "Type": "Pass",
        "Comment": "Another run of this execution recorded the outcome first: this one records and publishes nothing.",
        "Parameters": {"saga_id.$": "$.saga_id", "outcome": "IGNORED", "reason": "saga already ended"},
        "End": True,
    }
    states[SEND_UNRECORDED_TO_DLQ] = _dead_letter("BOOKKEEPING_FAILED", BOOKKEEPING_FAILED, timing, catch=None)
    states[BOOKKEEPING_FAILED] = {
        "Type": "Fail",
        "Error": "BookkeepingFailed",
        "Cause": "A status record or an event could not be written; the saga state is in the dead-letter queue.",
    }
    states[DEAD_LETTER_FAILED] = {
        "Type": "Fail",
        "Error": "DeadLetterFailed",
        "Cause": "The saga state could not be sent to the dead-letter queue; see this execution's history.",
    }
    return {
        "Comment": (
            f"The {PACKAGE} saga ({workflow_type.lower()} workflow): steps run in order; "
            "a failure compensates the steps before it in reverse order."
        ),
        "StartAt": VALIDATE_INPUT,
        "States": states,
    }


def render(definition: dict[str, Any]) -> str:
    """The definition as the file holds it: indented JSON ending with a newline."""
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def saga_definition() -> dict[str, Any]:
    """This project's definition, from ``saga.py``."""
    return build_definition(saga.STEPS, saga.WORKFLOW_TYPE, saga_timing())


def _validate_input(first_step: str) -> dict[str, Any]:
    checks: list[dict[str, Any]] = [
        {"Variable": "$.saga_id", "IsPresent": True},
        {"Variable": "$.saga_id", "IsString": True},
        {"Not": {"Variable": "$.saga_id", "StringEquals": ""}},
        {"Variable": "$.payload", "IsPresent": True},
    ]
    # States Language has no "is an object" test: rule out every other JSON type but arrays,
    # which the first step's own validation refuses before doing anything.
    checks += [
        {"Not": {"Variable": "$.payload", test: True}} for test in ("IsNull", "IsString", "IsNumeric", "IsBoolean")
    ]
    checks += [{"Not": {"Variable": f"$.{key}", "IsPresent": True}} for key in RESERVED_KEYS]
    return {
        "Type": "Choice",
        "Comment": "Refuse a malformed input before anything is recorded or done.",
        "Choices": [{"And": checks, "Next": READ_SAGA_ID}],
        "Default": INVALID_SAGA_INPUT,
    }


def _check_saga_id() -> dict[str, Any]:
    """The id's characters: none may be left once the allowed ones are split away. States Language has no
    test of a string's length: ``StartExecution`` refuses a longer execution name, the first step a longer id."""
    return {
        READ_SAGA_ID: {
            "Type": "Pass",
            "Parameters": {"invalid_characters.$": f"States.StringSplit($.saga_id, '{SAGA_ID_CHARACTERS}')"},
            "ResultPath": "$.saga_id_check",
            "Next": CHECK_SAGA_ID,
        },
        CHECK_SAGA_ID: {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.saga_id_check.invalid_characters[0]",
                    "IsPresent": False,
                    "Next": record_state("STARTED"),
                }
            ],
            "Default": INVALID_SAGA_INPUT,
        },
    }


def _chain_entry(steps: tuple[Step, ...], compensated: tuple[Step, ...], index: int, *, include_own: bool) -> str:
    """Where to go after step ``index`` fails: the compensation of the latest compensated step before it
    (or of the step itself when ``include_own``), or straight to recording the failure."""
    position = {step.name: at for at, step in enumerate(steps)}
    candidates = [
        step for step in compensated if position[step.name] < index or (include_own and position[step.name] == index)
    ]
    return candidates[-1].compensation_title if candidates else record_state("FAILED")


def _invoke(title: str, *, first: bool = False) -> dict[str, Any]:
    # The first step runs before any result exists: it gets an empty map, not a missing path.
    results: dict[str, Any] = {"results": {}} if first else {"results.$": "$.results"}
    return {
        "FunctionName": "${" + function_placeholder(title) + "}",
        "Payload": {"saga_id.$": "$.saga_id", "payload.$": "$.payload", **results},
    }


def _lambda_task(
    title: str, comment: str, timing: Timing, retries: list[Retry], *, first: bool = False
) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": comment,
        "Resource": LAMBDA_INVOKE,
        "Parameters": _invoke(title, first=first),
        "ResultSelector": {"status.$": "$.Payload.status", "data.$": "$.Payload.data"},
        "TimeoutSeconds": timing.task_timeout,
        "Retry": [retry.asl() for retry in retries],
    }


def _step(step: Step, index: int, following: str, entries: tuple[str, str], timing: Timing) -> dict[str, Any]:
    """``entries``: where a rejection and any other failure of the step enter the compensation chain."""
    before, own = entries
    catch: list[dict[str, Any]] = []
    if own != before:
        catch.append(
            {
                "ErrorEquals": [step.rejection_error, INVALID_INPUT],
                "ResultPath": "$.failure",
                "Next": step.rejected_state,
            }
        )
    catch.append({"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": step.failed_state})
    task = _lambda_task(
        step.title, f"Step {index + 1}: {step.name}.", timing, list(timing.step_retries), first=index == 0
    )
    return {**task, "ResultPath": f"$.results.{step.name}", "Catch": catch, "Next": following}


def _note_failure(step: Step, following: str, *, first: bool) -> dict[str, Any]:
    note = {"step": step.name, "error.$": "$.failure.Error"}
    if first:
        # Nothing ran before the first step: the state is rebuilt with its empty results.
        return {
            "Type": "Pass",
            "Parameters": {"saga_id.$": "$.saga_id", "payload.$": "$.payload", "results": {}, "failure": note},
            "Next": following,
        }
    return {"Type": "Pass", "Parameters": note, "ResultPath": "$.failure", "Next": following}


def _compensation(step: Step, following: str, timing: Timing) -> dict[str, Any]:
    # Retrying cannot change a refusal, or an input the handler cannot read.
    refusals = Retry((step.rejection_error, INVALID_INPUT), interval=1, max_attempts=0)
    task = _lambda_task(
        step.compensation_title,
        f"Undo {step.name}: {step.compensation}.",
        timing,
        [refusals, *timing.compensation_retries],
    )
    return {
        **task,
        "ResultPath": f"$.compensations.{step.compensation}",
        "Catch": [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": f"$.compensation_errors.{step.compensation}",
                "Next": step.compensation_failed_state,
            }
        ],
        "Next": following,
    }


def _check_compensations(compensated: tuple[Step, ...]) -> dict[str, Any]:
    failed = [{"Variable": f"$.compensation_errors.{step.compensation}", "IsPresent": True} for step in compensated]
    rule: dict[str, Any] = failed[0] if len(failed) == 1 else {"Or": failed}
    return {"Type": "Choice", "Choices": [{**rule, "Next": SEND_TO_DLQ}], "Default": record_state("FAILED")}


def _integration(resource: str, parameters: dict[str, Any], following: str | None, timing: Timing) -> dict[str, Any]:
    """A direct service integration whose failure after its retries sends the saga to the dead-letter queue;
    without ``following`` it ends the execution, successfully."""
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": resource,
        "Parameters": parameters,
        "ResultPath": None,
        "TimeoutSeconds": timing.integration_timeout,
        "Retry": [timing.integration_retry.asl()],
        "Catch": [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.bookkeeping_failure", "Next": SEND_UNRECORDED_TO_DLQ}
        ],
    }
    return {**task, "Next": following} if following else {**task, "End": True}


def _status_item(status: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "saga_id": {"S.$": "$.saga_id"},
        "status": {"S": status},
        "execution_arn": {"S.$": "$$.Execution.Id"},
        "updated_at": {"S.$": "$$.State.EnteredTime"},
    }
    if status in ("FAILED", "COMPENSATION_FAILED"):
        item["failed_step"] = {"S.$": "$.failure.step"}
        item["error"] = {"S.$": "$.failure.error"}
    return item


def _record_started(first_step: str, timing: Timing) -> dict[str, Any]:
    """Claims the saga id for this execution: refused when another execution claimed it first, or once
    the saga has ended."""
    parameters = {
        "TableName": "${" + SAGA_TABLE_PLACEHOLDER + "}",
        "Item": _status_item("STARTED"),
        # A request from the starter is taken over; this execution's own claim is found again by its
        # retry after a lost response, and by a re-run of it that starts before the saga ends.
        "ConditionExpression": "attribute_not_exists(saga_id) OR #status = :requested"
        " OR (execution_arn = :execution AND #status = :started)",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {
            ":execution": {"S.$": "$$.Execution.Id"},
            ":requested": {"S": "REQUESTED"},
            ":started": {"S": "STARTED"},
        },
    }
    return _unless_refused(_integration(DYNAMODB_PUT_ITEM, parameters, first_step, timing), ALREADY_STARTED)


def _unless_refused(task: dict[str, Any], refused: str) -> dict[str, Any]:
    """A conditional write whose refusal goes to ``refused`` at once: retrying cannot change it."""
    task["Retry"] = [{"ErrorEquals": [CONDITION_FAILED], "MaxAttempts": 0}, *task["Retry"]]
    task["Catch"] = [{"ErrorEquals": [CONDITION_FAILED], "ResultPath": None, "Next": refused}, *task["Catch"]]
    return task


def _add_outcome(states: dict[str, Any], status: str, final: str | None, timing: Timing) -> None:
    detail_type = OUTCOMES[status]
    record, publish = record_state(status), publish_state(detail_type)
    table = "${" + SAGA_TABLE_PLACEHOLDER + "}"
    # Only while the saga is STARTED by this execution; its own retry after a lost response finds the
    # outcome it wrote, stamped with the time this state was entered, which a re-run's differs from.
    parameters = {
        "TableName": table,
        "Item": _status_item(status),
        "ConditionExpression": (
            "execution_arn = :execution AND (#status = :started OR (#status = :outcome AND updated_at = :entered))"
        ),
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {
            ":execution": {"S.$": "$$.Execution.Id"},
            ":started": {"S": "STARTED"},
            ":outcome": {"S": status},
            ":entered": {"S.$": "$$.State.EnteredTime"},
        },
    }
    states[record] = _unless_refused(_integration(DYNAMODB_PUT_ITEM, parameters, publish, timing), ALREADY_ENDED)
    detail: dict[str, Any] = {"saga_id.$": "$.saga_id", "status": status}
    if status != "SUCCEEDED":
        detail |= {"failed_step.$": "$.failure.step", "error.$": "$.failure.error"}
    entry = {"EventBusName": "${" + EVENT_BUS_PLACEHOLDER + "}", "Source": EVENT_SOURCE, "DetailType": detail_type}
    states[publish] = _integration(EVENTS_PUT_EVENTS, {"Entries": [{**entry, "Detail": detail}]}, final, timing)


def _dead_letter(reason: str, following: str, timing: Timing, *, catch: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": reason, "execution_arn.$": "$$.Execution.Id", "state.$": "$"}
    task = _integration(
        SQS_SEND_MESSAGE,
        {"QueueUrl": "${" + DEAD_LETTER_QUEUE_PLACEHOLDER + "}", "MessageBody": body},
        following,
        timing,
    )
    task["Comment"] = "The whole saga state, for an operator to finish by hand."
    task["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.dead_letter_failure", "Next": catch or DEAD_LETTER_FAILED}
    ]
    return task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if statemachine/saga.asl.json is stale")
    args = parser.parse_args(argv)
    try:
        text = render(saga_definition())
    except limits.SagaDoesNotFit as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    current = DEFINITION_FILE.read_text(encoding="utf-8") if DEFINITION_FILE.exists() else ""
    if args.check:
        if current != text:
            print(f"{DEFINITION_FILE.relative_to(PROJECT_DIR)} is stale: run `make definition`", file=sys.stderr)
            return 1
        return 0
    name = DEFINITION_FILE.relative_to(PROJECT_DIR)
    if current == text:
        print(f"{name} is current")
        return 0
    DEFINITION_FILE.parent.mkdir(exist_ok=True)
    DEFINITION_FILE.write_text(text, encoding="utf-8")
    print(f"{name} rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
