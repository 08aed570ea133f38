{%- set saga = cookiecutter | saga_model -%}
"""Run the real state machine offline: moto's Step Functions interpreter, the project's real handlers.

``statemachine/saga.asl.json`` is loaded as it is and its placeholders are replaced by
resources created in moto (saga table, event bus, compensation dead-letter queue). Each
Lambda task is dispatched in-process to the handler the function would run in AWS, and
the DynamoDB, EventBridge and SQS tasks hit moto. Nothing waits: retry backoff is recorded,
not slept, and a timeout is reported at once.

Failures are injected through the business functions, so each one crosses the handler's
real error mapping on its way to the state machine:

- ``rejected``: the step raises a ``StepRejected`` subclass before doing anything;
- ``crash``: the step does its work, then raises ``RuntimeError``;
- ``timeout``: the step does its work, but the task times out before it answers;
- ``transient``: the first attempt raises a ``TransientError`` subclass, the retry succeeds.

A compensation named in ``fail_compensations`` raises ``RuntimeError`` on every attempt.
"""

import importlib
import json
import os
import threading
import time
import types
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

# Lambda's environment, as the handlers read it at import time; fake credentials keep every call offline.
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "{{ saga.aws_region }}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "IDEMPOTENCY_TABLE_NAME": "idempotency",
        "POWERTOOLS_SERVICE_NAME": "{{ saga.project_slug }}",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)

import boto3
from moto import mock_aws
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from infra.config import CONSUMERS, PACKAGE, STEPS, WORKFLOW_TYPE, Step, WorkflowType
from {{ saga.package_name }}.runtime.errors import StepRejected, TransientError
from {{ saga.package_name }}.runtime.models import EVENT_SOURCE, StepRequest, StepResult
from {{ saga.package_name }}.runtime.step import StepFunction

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFINITION_FILE = PROJECT_DIR / "statemachine" / "saga.asl.json"
KINDS = ("rejected", "timeout", "crash", "transient")
ACCOUNT = "123456789012"
REGION = os.environ["AWS_DEFAULT_REGION"]


def handler_module(step: Step) -> str:
    return f"{PACKAGE}.services.{step.name}.handler"


@dataclass(frozen=True)
class Function:
    """One Lambda function of the saga: a step's action or its compensation."""

    name: str
    service: Step
    role: str

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"


FUNCTIONS = {
    function.name: function
    for service in STEPS
    for function in (
        Function(service.name, service, "action"),
        *([Function(service.compensation, service, "compensation")] if service.compensation else []),
    )
}


class EffectLedger:
    """Business functions that only record their effect, keyed by saga id, in memory.

    Stands in for the services' real business code when a run must not need their
    databases: an action adds the saga's effect, a compensation removes it (or reports
    nothing to undo). ``effects`` then tells, per service, which sagas it left an effect for.
    """

    def __init__(self) -> None:
        self.effects: dict[str, set[str]] = {service.name: set() for service in STEPS}
        self.applied: list[tuple[str, str, str]] = []
        """Every business call that ran: (service, role, saga id)."""

    def function(self, service: str, role: str) -> StepFunction:
        def action(request: StepRequest) -> StepResult:
            self.applied.append((service, "action", request.saga_id))
            self.effects[service].add(request.saga_id)
            return StepResult(status="DONE", data={"reference": f"{service}-{request.saga_id}"})

        def compensation(request: StepRequest) -> StepResult:
            self.applied.append((service, "compensation", request.saga_id))
            if request.saga_id not in self.effects[service]:
                return StepResult(status="NOTHING_TO_UNDO")
            self.effects[service].discard(request.saga_id)
            return StepResult(status="COMPENSATED", data={"reference": f"{service}-{request.saga_id}"})

        return action if role == "action" else compensation

    def of(self, saga_id: str) -> dict[str, bool]:
        """Per service, whether this saga's effect is in place."""
        return {service: saga_id in sagas for service, sagas in self.effects.items()}


class InjectedRejection(StepRejected):
    """The business "no" a ``rejected`` failure raises."""


class InjectedTransientFailure(TransientError):
    """The temporary failure a ``transient`` failure raises once."""


class InjectedCrash(RuntimeError):
    """The unexpected error a ``crash`` failure raises."""


class TaskTimedOut(TimeoutError):
    """Reported to the interpreter as the task's own timeout (``States.Timeout``)."""


@dataclass
class LambdaContext:
    """The parts of Lambda's context object the handlers use."""

    function_name: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class Call:
    """One Lambda invocation made by the state machine, and how it ended."""

    function: str
    role: str
    outcome: str


@dataclass
class SagaRun:
    """Everything one execution did, read back from moto."""

    saga_id: str
    status: str
    error: str | None
    cause: str | None
    output: dict[str, Any] | None
    invocations: list[Call]
    events: list[dict[str, Any]]
    dlq_messages: list[dict[str, Any]]
    history: Sequence[Mapping[str, Any]]
    record: dict[str, Any] | None
    consumer_deliveries: dict[str, list[str]]
    retry_delays: list[float]
    seconds: float

    @property
    def calls(self) -> list[str]:
        """The functions invoked, in order, repeated when retried."""
        return [call.function for call in self.invocations]

    @property
    def event_types(self) -> list[str]:
        return [event["detail-type"] for event in self.events]

    @property
    def states_entered(self) -> list[str]:
        return [
            event["stateEnteredEventDetails"]["name"] for event in self.history if "stateEnteredEventDetails" in event
        ]

    @property
    def state_transitions(self) -> int:
        """Billed state transitions (Standard workflows): every state entered, plus every retry."""
        tasks_entered = sum(event["type"] == "TaskStateEntered" for event in self.history)
        tasks_scheduled = sum(event["type"] == "TaskScheduled" for event in self.history)
        return len(self.states_entered) + int(tasks_scheduled) - int(tasks_entered)


class SagaHarness:
    """One offline AWS account with the saga deployed in it; run as many executions as needed.

    The handlers run the services' business functions, or the ``ledger``'s when one is given.

    Use it as a context manager. Inside an already active ``mock_aws`` (a test fixture), it
    shares that account; otherwise it starts its own.
    """

    def __init__(
        self,
        ledger: EffectLedger | None = None,
        definition_file: Path = DEFINITION_FILE,
        workflow_type: WorkflowType = WORKFLOW_TYPE,
    ) -> None:
        self.ledger = ledger
        self.definition_file = definition_file
        self.workflow_type = workflow_type
        self.invocations: list[Call] = []
        self.retry_delays: list[float] = []
        self.business: dict[tuple[str, str], StepFunction] = {}
        self.failures: dict[str, str] = {}
        self.failing_compensations: set[str] = set()
        self.consumer_queues: dict[str, str] = {}
        self._attempts: dict[str, int] = {}
        self._finished: set[str] = set()
        self._finished_changed = threading.Condition()
        self._stack = ExitStack()

    # Set-up -----------------------------------------------------------------------------------

    def __enter__(self) -> "SagaHarness":
        self._stack.enter_context(
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        )
        self._stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", self._invoke_patch()))
        self._stack.enter_context(mock.patch.object(retrier_decl, "time", types.SimpleNamespace(sleep=self._sleep)))
        self._stack.enter_context(
            mock.patch.object(BaseExecutionWorkerCommunication, "terminated", self._terminated_patch())
        )
        self._stack.enter_context(
            mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", self._entrypoint_patch())
        )
        self._create_resources()
        for service in STEPS:
            handler = importlib.import_module(handler_module(service))
            for role, function in handler.step.functions.items():
                self.business[(service.name, role)] = (
                    self.ledger.function(service.name, role) if self.ledger else function
                )
                self._stack.enter_context(
                    mock.patch.dict(handler.step.functions, {role: self._business(service, role)})
                )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _create_resources(self) -> None:
        dynamodb = boto3.client("dynamodb")
        existing = dynamodb.list_tables()["TableNames"]
        for table, key in ((os.environ["IDEMPOTENCY_TABLE_NAME"], "id"), ("sagas", "saga_id")):
            if table not in existing:
                dynamodb.create_table(
                    TableName=table,
                    KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )
        sqs = boto3.client("sqs")
        events = boto3.client("events")
        self.bus_name = "saga-events"
        events.create_event_bus(Name=self.bus_name)
        self.dlq_url = sqs.create_queue(QueueName="compensation-dlq")["QueueUrl"]
        # Every event the saga publishes, in order, for the run's report.
        self.events_queue = self._route("all-saga-events", {"source": [EVENT_SOURCE]})
        for consumer in CONSUMERS:
            handler = importlib.import_module(f"{PACKAGE}.consumers.{consumer}.handler")
            self.consumer_queues[consumer] = self._route(f"consumer-{consumer}", handler.consumer.event_pattern)
        substitutions = {
            "SagaTableName": "sagas",
            "EventBusName": self.bus_name,
            "CompensationDlqUrl": self.dlq_url,
            **{
                f"{function.service.title}FunctionArn": function.arn
                for function in FUNCTIONS.values()
                if function.role == "action"
            },
            **{
                f"{function.service.compensation_title}FunctionArn": function.arn
                for function in FUNCTIONS.values()
                if function.role == "compensation"
            },
        }
        definition = self.definition_file.read_text(encoding="utf-8")
        for name, value in substitutions.items():
            definition = definition.replace("${" + name + "}", value)
        if "${" in definition:
            raise ValueError(f"{self.definition_file} has a placeholder the harness does not know")
        self.state_machine_arn = boto3.client("stepfunctions").create_state_machine(
            name="saga",
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/saga",
            type=self.workflow_type,
        )["stateMachineArn"]

    def _route(self, name: str, pattern: Mapping[str, Any]) -> str:
        """A rule on the bus with this pattern, delivering to a new queue; returns the queue URL."""
        sqs = boto3.client("sqs")
        url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = boto3.client("events")
        events.put_rule(Name=name, EventBusName=self.bus_name, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, EventBusName=self.bus_name, Targets=[{"Id": name, "Arn": arn}])
        return url

    # Failure injection ------------------------------------------------------------------------

    @contextmanager
    def failing(self, failures: Mapping[str, str], compensations: Collection[str] = ()) -> Iterator[None]:
        """Inject failures (function name -> kind) and failing compensations for the runs inside."""
        unknown = (set(failures) | set(compensations)) - set(FUNCTIONS)
        if unknown or not set(failures.values()) <= set(KINDS):
            raise ValueError(
                f"unknown functions {sorted(unknown)} or kinds {sorted(set(failures.values()) - set(KINDS))}"
            )
        self.failures, self.failing_compensations, self._attempts = dict(failures), set(compensations), {}
        try:
            yield
        finally:
            self.failures, self.failing_compensations, self._attempts = {}, set(), {}

    def _business(self, service: Step, role: str) -> StepFunction:
        """The business function as the handler calls it, with the injected failure around it."""
        function = service.name if role == "action" else str(service.compensation)

        def run(request: Any) -> Any:
            kind = self.failures.get(function)
            attempt = self._attempts[function] = self._attempts.get(function, 0) + 1
            if function in self.failing_compensations:
                raise InjectedCrash(f"{function} failed")
            if kind == "rejected":
                raise InjectedRejection(f"{function} refused")
            if kind == "transient" and attempt == 1:
                raise InjectedTransientFailure(f"{function} is busy")
            result = self.business[(service.name, role)](request)
            if kind == "crash":
                raise InjectedCrash(f"{function} crashed after its work")
            return result

        return run

    def _terminated_patch(self) -> Callable[[BaseExecutionWorkerCommunication], None]:
        """Signals the end of each execution, so waiting for one does not poll the interpreter."""
        harness, reflect_status = self, BaseExecutionWorkerCommunication.terminated

        def terminated(communication: BaseExecutionWorkerCommunication) -> None:
            reflect_status(communication)
            with harness._finished_changed:
                harness._finished.add(communication.execution.exec_arn)
                harness._finished_changed.notify_all()

        return terminated

    @staticmethod
    def _entrypoint_patch() -> Callable[[ExecutionWorker], EvalComponent]:
        """Parses each definition once, not once per execution: parsing costs more than running."""
        parse = ExecutionWorker._get_evaluation_entrypoint
        parsed: dict[str, EvalComponent] = {}

        def entrypoint(worker: ExecutionWorker) -> EvalComponent:
            definition: str = worker._evaluation_details.state_machine_details.definition
            if definition not in parsed:
                parsed[definition] = parse(worker)
            return parsed[definition]

        return entrypoint

    def _sleep(self, seconds: float) -> None:
        self.retry_delays.append(seconds)

    def _invoke_patch(self) -> Callable[..., bytes]:
        harness = self

        # moto calls it as invoke(backend, function_name, qualifier, body, headers, response_headers).
        def invoke(
            _backend: LambdaSimpleBackend, function_name: str, _qualifier: Any, body: Any, *headers: Any
        ) -> bytes:
            return harness._dispatch(function_name, body, response_headers=headers[-1])

        return invoke

    def _dispatch(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        name = function_name.rsplit(":", 1)[-1]
        function = FUNCTIONS.get(name)
        if function is None:
            raise LambdaClientError("ResourceNotFoundException", f"Function not found: {function_name}")
        handler = importlib.import_module(handler_module(function.service))
        entry = handler.handle_action if function.role == "action" else handler.handle_compensation
        try:
            result = entry(json.loads(body or "{}"), LambdaContext(function_name=name))
        except Exception as error:
            self.invocations.append(Call(name, function.role, type(error).__name__))
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}).encode()
        if self.failures.get(name) == "timeout":
            self.invocations.append(Call(name, function.role, "States.Timeout"))
            raise TaskTimedOut(f"{name} did not answer in time")
        self.invocations.append(Call(name, function.role, "ok"))
        return json.dumps(result).encode()

    # Running ----------------------------------------------------------------------------------

    def start(self, saga_input: Any, name: str | None = None) -> str:
        """Start an execution and return its ARN. A Standard execution is named after the saga id."""
        if name is None and self.workflow_type == "STANDARD" and isinstance(saga_input, dict):
            saga_id = saga_input.get("saga_id")
            name = saga_id if isinstance(saga_id, str) and saga_id else None
        arn: str = boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name or str(uuid.uuid4()), input=json.dumps(saga_input)
        )["executionArn"]
        return arn

    def run(
        self,
        saga_input: Any = None,
        failures: Mapping[str, str] | None = None,
        fail_compensations: Collection[str] = (),
    ) -> SagaRun:
        """Run one saga to its end with these failures injected, and collect what it did."""
        if saga_input is None:
            saga_input = {"saga_id": f"saga-{uuid.uuid4().hex[:12]}", "payload": {}}
        with self.failing(failures or {}, fail_compensations):
            first_call, first_delay = len(self.invocations), len(self.retry_delays)
            began = time.perf_counter()
            execution_arn = self.start(saga_input)
            description = self.wait(execution_arn)
            seconds = time.perf_counter() - began
        return self.collect(
            saga_input,
            execution_arn=execution_arn,
            description=description,
            first_call=first_call,
            first_delay=first_delay,
            seconds=seconds,
        )

    def wait(self, execution_arn: str, timeout: float = 30.0) -> Mapping[str, Any]:
        """Block until the execution ends, then describe it."""
        with self._finished_changed:
            if not self._finished_changed.wait_for(lambda: execution_arn in self._finished, timeout=timeout):
                raise TimeoutError(f"{execution_arn} still running after {timeout} s")
        description: Mapping[str, Any] = boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)
        return description

    def collect(
        self,
        saga_input: Any,
        *,
        execution_arn: str,
        description: Mapping[str, Any],
        first_call: int = 0,
        first_delay: int = 0,
        seconds: float = 0.0,
    ) -> SagaRun:
        """What the execution did: the one place a run's results are read back from moto."""
        history = boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
        saga_id = saga_input.get("saga_id") if isinstance(saga_input, dict) else None
        record = None
        if isinstance(saga_id, str) and saga_id:
            item = boto3.client("dynamodb").get_item(TableName="sagas", Key={"saga_id": {"S": saga_id}}).get("Item")
            record = {key: next(iter(value.values())) for key, value in item.items()} if item else None
        output = description.get("output")
        return SagaRun(
            saga_id=str(saga_id),
            status=description["status"],
            error=description.get("error"),
            cause=description.get("cause"),
            output=json.loads(output) if output else None,
            invocations=self.invocations[first_call:],
            events=self._drain(self.events_queue),
            dlq_messages=self._drain(self.dlq_url),
            history=history["events"],
            record=record,
            consumer_deliveries={
                consumer: [event["detail-type"] for event in self._drain(queue)]
                for consumer, queue in self.consumer_queues.items()
            },
            retry_delays=self.retry_delays[first_delay:],
            seconds=seconds,
        )

    @staticmethod
    def _drain(queue_url: str) -> list[dict[str, Any]]:
        """Every message waiting in a queue, parsed, in order; the queue is empty afterwards."""
        sqs = boto3.client("sqs")
        messages: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages
