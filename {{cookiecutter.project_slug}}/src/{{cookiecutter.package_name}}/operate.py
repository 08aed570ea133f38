"""The operator's command line: where a saga stands, and finishing one a failed compensation left undone.

    python -m {{ cookiecutter.package_name }}.operate status SAGA_ID
    python -m {{ cookiecutter.package_name }}.operate finish SAGA_ID

A saga whose compensation still failed after its retries waits in the saga dead-letter queue with
its whole state. ``finish`` works from that dead letter: it re-runs the compensations that failed
(they are idempotent and accept nothing to undo), publishes the outcome event the consumers missed,
records the outcome and deletes the dead letter, in that order, and only once every compensation
has succeeded; cut short, it can simply be run again, and once done a second run changes nothing.
Redriving the execution would not do it: every failure path ends in a ``Fail`` state after the
dead letter is sent, and a redrive re-runs only that state.

The saga table is ``SAGA_TABLE_NAME``, or the one the stage's stateful stack published (``--stage``);
the functions, the event bus and the queue are read from the deployed state machine. Plain boto3,
with your credentials and region. Every refusal or failure is one line and a non-zero exit.
"""

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from {{ cookiecutter.package_name }} import saga
from {{ cookiecutter.package_name }}.naming import EVENT_SOURCE, OUTCOME_STATUS

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

SAGA_TABLE_PARAMETER = "/{{ cookiecutter.project_slug }}/{stage}/saga-table-name"
# What the saga table says until the execution records how the saga ended.
STILL_RUNNING = ("REQUESTED", "STARTED")
OUTCOME_EVENT = {status: detail_type for detail_type, status in OUTCOME_STATUS.items()}
# How long a dead letter read by this command stays hidden from other readers before it is put back.
READ_VISIBILITY_SECONDS = 30


class Refused(Exception):
    """What the operator is told instead of a traceback; nothing was changed."""


@dataclass
class Deployment:
    """The resources the saga's state machine uses, as deployed."""

    state_machine_arn: str
    functions: dict[str, str]
    """Compensation name -> the function that runs it."""
    event_bus: str
    dead_letter_queue: str


@dataclass
class DeadLetter:
    body: dict[str, Any]
    receipt_handle: str

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.body.get("state", {})
        return state


class Operator:
    def __init__(self, table: str, session: boto3.session.Session) -> None:
        self.table = table
        self.dynamodb = session.client("dynamodb")
        self.stepfunctions = session.client("stepfunctions")
        self.sqs = session.client("sqs")
        self.lambda_ = session.client("lambda")
        self.events = session.client("events")

    def status(self, saga_id: str) -> list[str]:
        record = self.record(saga_id)
        lines = [f"saga {saga_id}: {record['status']} since {record.get('updated_at', '?')}"]
        if "failed_step" in record:
            lines.append(f"failed step: {record['failed_step']} ({record.get('error', '?')})")
        if "execution_arn" in record:
            lines.append(f"execution: {record['execution_arn']} {self.execution_status(record['execution_arn'])}")
            letter = self.dead_letter(self.deployment(record["execution_arn"]), saga_id, keep=False)
            if letter is None:
                lines.append("dead letter: none")
            else:
                errors = letter.state.get("compensation_errors", {})
                failed = ", ".join(f"{name} ({error.get('error', '?')})" for name, error in errors.items())
                lines.append(f"compensations failed: {failed or 'none'}")
                lines.append(f"dead letter: held ({letter.body.get('reason')}); finish it with `finish {saga_id}`")
        return lines

    def finish(self, saga_id: str) -> list[str]:
        record = self.record(saga_id)
        running = f"saga {saga_id} is still running ({record['status']}): its execution records how it ends"
        if "execution_arn" not in record or self.execution_status(record["execution_arn"]).startswith("RUNNING"):
            raise Refused(running)
        deployment = self.deployment(record["execution_arn"])
        letter = self.dead_letter(deployment, saga_id, keep=True)
        if letter is None and record["status"] in STILL_RUNNING:
            raise Refused(running)
        if letter is None:
            raise Refused(f"saga {saga_id} needs no finishing: it is {record['status']}, no dead letter holds it")
        try:
            errors = letter.state.get("compensation_errors", {})
            lines = [self.compensate(deployment, letter.state, name) for name in errors]
            outcome = outcome_of(letter.state)
            self.publish(deployment, letter, outcome)
            self.record_outcome(saga_id, letter, outcome)
        except BaseException:
            # Back in the queue at once, for the next attempt.
            self.sqs.change_message_visibility(
                QueueUrl=deployment.dead_letter_queue, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
            )
            raise
        self.sqs.delete_message(QueueUrl=deployment.dead_letter_queue, ReceiptHandle=letter.receipt_handle)
        return [*lines, f"saga {saga_id}: {outcome}, {OUTCOME_EVENT[outcome]} published, dead letter deleted"]

    def record(self, saga_id: str) -> dict[str, str]:
        item = self.dynamodb.get_item(TableName=self.table, Key={"saga_id": {"S": saga_id}}, ConsistentRead=True)
        if "Item" not in item:
            raise Refused(f"no saga {saga_id!r} in the saga table {self.table}")
        return {key: str(next(iter(value.values()))) for key, value in item["Item"].items()}

    def execution_status(self, execution_arn: str) -> str:
        if saga.WORKFLOW_TYPE == "EXPRESS":
            return "(Express: its history is in the state machine's log group)"
        description = self.stepfunctions.describe_execution(executionArn=execution_arn)
        return " ".join(filter(None, (description["status"], description.get("error"))))

    def deployment(self, execution_arn: str) -> Deployment:
        """The state machine the execution ran, and what its tasks call, from its current definition."""
        partition, service, region, account, _, name = execution_arn.split(":")[1:7]
        arn = f"arn:{partition}:{service}:{region}:{account}:stateMachine:{name}"
        states = json.loads(self.stepfunctions.describe_state_machine(stateMachineArn=arn)["definition"])["States"]
        tasks = [state.get("Parameters", {}) for state in states.values() if state["Type"] == "Task"]
        return Deployment(
            state_machine_arn=arn,
            functions={
                str(step.compensation): states[step.compensation_title]["Parameters"]["FunctionName"]
                for step in saga.STEPS
                if step.compensation
            },
            event_bus=next(task["Entries"][0]["EventBusName"] for task in tasks if "Entries" in task),
            dead_letter_queue=next(task["QueueUrl"] for task in tasks if "QueueUrl" in task),
        )

    def dead_letter(self, deployment: Deployment, saga_id: str, *, keep: bool) -> DeadLetter | None:
        """The saga's dead letter, read through the whole queue; every other message is put back at once,
        and the saga's own too unless ``keep``."""
        queue, found, seen = deployment.dead_letter_queue, None, []
        while batch := self.sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=READ_VISIBILITY_SECONDS
        ).get("Messages", []):
            for message in batch:
                body = json.loads(message["Body"])
                if found is None and body.get("state", {}).get("saga_id") == saga_id:
                    found = DeadLetter(body, message["ReceiptHandle"])
                    if keep:
                        continue
                seen.append(message["ReceiptHandle"])
        for handle in seen:
            self.sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=0)
        return found

    def compensate(self, deployment: Deployment, state: dict[str, Any], name: str) -> str:
        request = {key: state.get(key, {}) for key in ("saga_id", "payload", "results")}
        response = self.lambda_.invoke(FunctionName=deployment.functions[name], Payload=json.dumps(request).encode())
        answer = json.loads(response["Payload"].read() or b"{}")
        if "FunctionError" in response:
            raise Refused(f"{name} failed again ({answer.get('errorType', '?')}): the dead letter is kept")
        return f"{name}: {answer.get('status')}"

    def publish(self, deployment: Deployment, letter: DeadLetter, outcome: str) -> None:
        state = letter.state
        detail = {"saga_id": state["saga_id"], "status": outcome}
        if outcome != "SUCCEEDED":
            detail |= {"failed_step": state["failure"]["step"], "error": state["failure"]["error"]}
        entry: PutEventsRequestEntryTypeDef = {
            "EventBusName": deployment.event_bus,
            "Source": EVENT_SOURCE,
            "DetailType": OUTCOME_EVENT[outcome],
            "Detail": json.dumps(detail),
            # Consumers accept an outcome only from an execution of their state machine.
            "Resources": [str(letter.body.get("execution_arn"))],
        }
        try:
            failed = self.events.put_events(Entries=[entry])["FailedEntryCount"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "AccessDeniedException":
                raise
            failed = 1
        if failed:
            raise Refused(
                f"the bus did not take the {OUTCOME_EVENT[outcome]} event (only the saga and the operators the stage "
                "names with -c saga_operators=ARN,... may publish outcomes): the dead letter is kept"
            )

    def record_outcome(self, saga_id: str, letter: DeadLetter, outcome: str) -> None:
        item = {
            "saga_id": {"S": saga_id},
            "status": {"S": outcome},
            "execution_arn": {"S": str(letter.body.get("execution_arn"))},
            "updated_at": {"S": datetime.now(UTC).isoformat()},
        }
        if outcome != "SUCCEEDED":
            failure = letter.state["failure"]
            item |= {"failed_step": {"S": failure["step"]}, "error": {"S": failure["error"]}}
        self.dynamodb.put_item(TableName=self.table, Item=item)


def outcome_of(state: dict[str, Any]) -> str:
    """How the saga ended, once its failed compensations have run: a step failed, or every step did its work."""
    if "failure" in state:
        return "FAILED"
    if all(step.name in state.get("results", {}) for step in saga.STEPS):
        return "SUCCEEDED"
    raise Refused(f"saga {state.get('saga_id')} stopped before its steps ran: start it again instead")


def saga_table(stage: str, session: boto3.session.Session) -> str:
    if table := os.environ.get("SAGA_TABLE_NAME"):
        return table
    name = SAGA_TABLE_PARAMETER.format(stage=stage)
    try:
        return str(session.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as error:
        raise Refused(f"no saga table for stage {stage!r} ({name}: {error.response['Error']['Code']})") from None


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ERROR: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog=f"python -m {__name__}", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev", help="the stage whose saga table to use (default: dev)")
    parser.add_argument("command", choices=("status", "finish"))
    parser.add_argument("saga_id")
    args = parser.parse_args(argv)
    try:
        session = boto3.session.Session()
        operator = Operator(saga_table(args.stage, session), session)
        lines = operator.status(args.saga_id) if args.command == "status" else operator.finish(args.saga_id)
    except Refused as refusal:
        print(f"ERROR: {refusal}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        print(f"ERROR: AWS: {error}".splitlines()[0], file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
