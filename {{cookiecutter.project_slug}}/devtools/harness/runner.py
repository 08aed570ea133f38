"""Deploy the saga in an offline account and run it: moto's Step Functions interpreter, the real handlers.

``statemachine/saga.asl.json`` is deployed as it is in an offline account (``account``). Each
Lambda task is dispatched in-process to the handler the function runs in AWS, whose business code
writes to a real PostgreSQL (``devtools.local_database``); the DynamoDB, EventBridge and SQS tasks
hit moto. Nothing waits: a retry's wait advances the harness's clock instead of sleeping, and a
timeout is reported at once. ``faults`` lists what can be made to go wrong.
"""

import json
import os
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from moto import mock_aws
from moto.awslambda.exceptions import LambdaClientError

from devtools.harness import moto_patches
from devtools.harness.account import (
    DEAD_LETTER_QUEUE,
    EVENT_BUS,
    IDEMPOTENCY_TABLE,
    LAMBDA_ENVIRONMENT,
    SAGA_TABLE,
    LambdaContext,
    OfflineAccount,
)
from devtools.harness.faults import (
    STEP_FAILURES,
    Fault,
    InjectedCrash,
    InjectedRejection,
    InjectedTransientFailure,
    TaskTimedOut,
)
from devtools.harness.runs import Call, SagaRun
from devtools.local_database import LocalDatabase
from infra.config import REGION
from infra.definition import DEFINITION_FILE
from {{ cookiecutter.package_name }} import handlers, saga
from {{ cookiecutter.package_name }}.naming import Step
from {{ cookiecutter.package_name }}.runtime.envelope import StepRequest, StepResult

HOLD_SECONDS = 10


@dataclass
class Hold:
    """An invocation kept running in the background until something releases it."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def finish(self) -> None:
        self.release.set()
        if self.thread is not None:
            self.thread.join(HOLD_SECONDS)


@dataclass
class RunFaults:
    """What the current run injects, and what it has done so far."""

    failures: Mapping[str, str] = field(default_factory=dict)
    failing_compensations: Collection[str] = ()
    faults: Collection[Fault] = ()
    attempts: dict[str, int] = field(default_factory=dict)
    """Business calls so far, per step or compensation name."""
    invoked: dict[str, int] = field(default_factory=dict)
    """Invocations so far, per function."""
    holds: dict[str, Hold] = field(default_factory=dict)
    database_resumes_at: float | None = None

    def of(self, kind: str) -> list[Fault]:
        return [fault for fault in self.faults if fault.kind == kind]


class SagaHarness:
    """One offline AWS account with the saga deployed in it; run as many executions as needed.

    Use it as a context manager; inside an already active ``mock_aws`` it shares that account.
    """

    def __init__(
        self, database: LocalDatabase, definition_file: Path = DEFINITION_FILE, workflow_type: str = saga.WORKFLOW_TYPE
    ) -> None:
        self.database = database
        self.definition_file = definition_file
        self.workflow_type = workflow_type
        self.functions = {title: (step, role) for step in saga.STEPS for role, title in step.functions.items()}
        self.invocations: list[Call] = []
        self.applied: list[tuple[str, str, str]] = []
        """Every business call that completed its work: (step, role, saga id)."""
        self.business: dict[tuple[str, str], Callable[[StepRequest], StepResult]] = {}
        """The business function of each (step, role), looked up at each call: tests may replace one."""
        self.retry_delays: list[float] = []
        self.clock = 0.0
        """Seconds the state machine has waited between retries: the harness's own time."""
        self.run_faults = RunFaults()
        self._store_failing = False
        self._lock = threading.Lock()
        self._finished: set[str] = set()
        self._finished_changed = threading.Condition()
        self._stack = ExitStack()

    def __enter__(self) -> "SagaHarness":
        try:
            self._deploy()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _deploy(self) -> None:
        self._stack.enter_context(mock.patch.dict(os.environ, {**LAMBDA_ENVIRONMENT, "AWS_DEFAULT_REGION": REGION}))
        self._stack.enter_context(
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        )
        self._stack.enter_context(moto_patches.patched(self._dispatch, self._sleep, self._terminated, self._failing))
        self.account = OfflineAccount(REGION, self.definition_file, self.workflow_type)
        for step in saga.STEPS:
            functions = handlers.step(step.name).functions
            for role, function in list(functions.items()):
                self.business[(step.name, role)] = function
                self._stack.enter_context(mock.patch.dict(functions, {role: self._business(step, role)}))

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    # Running ----------------------------------------------------------------------------------

    def run(
        self,
        saga_input: Any = None,
        failures: Mapping[str, str] | None = None,
        fail_compensations: Collection[str] = (),
        faults: Collection[Fault] = (),
    ) -> SagaRun:
        """Run one saga to its end with these failures (step name -> kind) and faults, and collect what it did."""
        if saga_input is None:
            saga_input = {"saga_id": f"saga-{uuid.uuid4().hex[:12]}", "payload": {}}
        with self.injecting(failures or {}, fail_compensations, faults):
            first_call, first_delay = len(self.invocations), len(self.retry_delays)
            duplicate = None
            if self.run_faults.of("duplicate"):
                gate = self.run_faults.holds[saga.STEPS[0].name] = Hold()
                execution_arn = self.start(saga_input)
                if not gate.entered.wait(HOLD_SECONDS):
                    raise TimeoutError("the first execution never reached its first step")
                second_call = len(self.invocations)
                second = self.start(saga_input, name=f"{saga_input['saga_id']}-again")
                duplicate = self.collect(saga_input, second, self.wait(second), first_call=second_call)
                gate.finish()
            else:
                execution_arn = self.start(saga_input)
            description = self.wait(execution_arn)
        run = self.collect(saga_input, execution_arn, description, first_call=first_call, first_delay=first_delay)
        run.duplicate = duplicate
        if any(fault.kind == "rerun" for fault in faults):  # the ended execution, again under its own id
            calls, delays = len(self.invocations), len(self.retry_delays)
            moto_patches.forget_execution(execution_arn)
            with self._finished_changed:
                self._finished.discard(execution_arn)
            self.start(saga_input, name=execution_arn.rsplit(":", 1)[-1])
            ended = self.wait(execution_arn)
            run.rerun = self.collect(saga_input, execution_arn, ended, first_call=calls, first_delay=delays)
        return run

    def start(self, saga_input: Any, name: str | None = None) -> str:
        """Start an execution and return its ARN; a Standard one is named after the saga id, as the starter does."""
        if name is None and self.workflow_type == "STANDARD" and isinstance(saga_input, dict):
            saga_id = saga_input.get("saga_id")
            name = saga_id if isinstance(saga_id, str) and saga_id else None
        arn: str = self.account.stepfunctions.start_execution(
            stateMachineArn=self.account.state_machine_arn, name=name or str(uuid.uuid4()), input=json.dumps(saga_input)
        )["executionArn"]
        return arn

    def wait(self, execution_arn: str, timeout: float = 60.0) -> Mapping[str, Any]:
        """Block until the execution ends, then describe it."""
        with self._finished_changed:
            if not self._finished_changed.wait_for(lambda: execution_arn in self._finished, timeout=timeout):
                raise TimeoutError(f"{execution_arn} still running after {timeout} s")
        description: Mapping[str, Any] = self.account.stepfunctions.describe_execution(executionArn=execution_arn)
        return description

    def collect(
        self,
        saga_input: Any,
        execution_arn: str,
        description: Mapping[str, Any],
        *,
        first_call: int = 0,
        first_delay: int = 0,
    ) -> SagaRun:
        """What the execution did: the one place a run's results are read back."""
        account = self.account
        history = account.stepfunctions.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        saga_id = saga_input.get("saga_id") if isinstance(saga_input, dict) else None
        output = description.get("output")
        return SagaRun(
            saga_id=str(saga_id),
            status=description["status"],
            error=description.get("error"),
            output=json.loads(output) if output else None,
            invocations=self.invocations[first_call:],
            events=account.drain(account.events_queue),
            dlq_messages=account.drain(account.dead_letter_queue),
            history=history,
            record=account.status_record(saga_id),
            consumer_deliveries={
                name: [event["detail-type"] for event in account.drain(queue)]
                for name, queue in account.consumer_queues.items()
            },
            retry_delays=self.retry_delays[first_delay:],
            effects=self.database.effects(str(saga_id)),
        )

    @contextmanager
    def injecting(
        self, failures: Mapping[str, str], compensations: Collection[str], faults: Collection[Fault]
    ) -> Iterator[None]:
        """Inject failures and faults for the runs inside."""
        names = {str(name) for step in saga.STEPS for name in (step.name, step.compensation)}
        unknown = (set(failures) | set(compensations)) - names
        if unknown or not set(failures.values()) <= set(STEP_FAILURES):
            raise ValueError(f"unknown steps {sorted(unknown)} or failures {sorted(set(failures.values()))}")
        self.run_faults = RunFaults(failures, compensations, faults)
        for fault in self.run_faults.of("db-paused"):
            self.run_faults.database_resumes_at = self.clock + fault.seconds
            self.database.pause()
        try:
            yield
        finally:
            for hold in self.run_faults.holds.values():
                hold.finish()
            if self.run_faults.database_resumes_at is not None:
                self.database.resume()
            self.run_faults = RunFaults()

    # What the state machine calls -------------------------------------------------------------

    def _business(self, step: Step, role: str) -> Callable[[StepRequest], StepResult]:
        """The business function as the handler calls it, with the injected failure around it."""
        name = step.name if role == "action" else str(step.compensation)

        def run(request: StepRequest) -> StepResult:
            faults = self.run_faults
            with self._lock:
                attempt = faults.attempts[name] = faults.attempts.get(name, 0) + 1
            hold = faults.holds.get(name) if role == "action" else None
            if hold is not None and not hold.entered.is_set():
                hold.entered.set()
                hold.release.wait(HOLD_SECONDS)
            kind = faults.failures.get(name)
            if name in faults.failing_compensations:
                raise InjectedCrash(f"{name} failed")
            if kind == "rejected":
                raise InjectedRejection(f"{name} refused")
            if kind == "transient" and attempt == 1:
                raise InjectedTransientFailure(f"{name} is busy")
            result = self.business[(step.name, role)](request)
            with self._lock:
                self.applied.append((step.name, role, request.saga_id))
            if kind == "crash":
                raise InjectedCrash(f"{name} crashed after its work")
            return result

        return run

    def _dispatch(self, function_name: str, body: bytes) -> bytes:
        if function_name not in self.functions:
            raise LambdaClientError("ResourceNotFoundException", f"Function not found: {function_name}")
        step, role = self.functions[function_name]
        faults = self.run_faults
        if faults.database_resumes_at is not None and self.clock >= faults.database_resumes_at:
            faults.database_resumes_at = None
            self.database.resume()
        event = json.loads(body)
        with self._lock:
            faults.invoked[function_name] = faults.invoked.get(function_name, 0) + 1
            first_invocation = faults.invoked[function_name] == 1
        lost = any(fault.target == step.name for fault in faults.of("retried-invocation"))
        if role == "action" and first_invocation and lost:
            return self._lose_response(function_name, step, event)
        if (hold := faults.holds.get(step.name)) and hold.thread is not None:
            # The first invocation ends a moment after this one has found it running.
            threading.Timer(0.3, hold.finish).start()
        self._store_failing = first_invocation and any(f.target == step.name for f in faults.of("store-unavailable"))
        context: Any = LambdaContext(function_name, REGION)
        try:
            result = handlers.step(step.name).handlers[role](event, context)
        except Exception as error:
            self._record(function_name, role, type(error).__name__)
            payload = {"errorType": type(error).__name__, "errorMessage": str(error)}
            raise moto_patches.FunctionError(json.dumps(payload).encode()) from None
        finally:
            self._store_failing = False
        if faults.failures.get(step.name if role == "action" else str(step.compensation)) == "timeout":
            self._record(function_name, role, "States.Timeout")
            raise TaskTimedOut(f"{function_name} did not answer in time")
        self._record(function_name, role, "ok")
        return json.dumps(result).encode()

    def _lose_response(self, function_name: str, step: Step, event: dict[str, Any]) -> bytes:
        """The invocation runs on in the background while Lambda answers the state machine with an error."""
        hold = self.run_faults.holds[step.name] = Hold()
        handler = handlers.step(step.name).handlers["action"]
        hold.thread = threading.Thread(target=handler, args=(event, LambdaContext(function_name, REGION)), daemon=True)
        hold.thread.start()
        if not hold.entered.wait(HOLD_SECONDS):
            raise TimeoutError(f"{function_name} never reached its business code")
        self._record(function_name, "action", "Lambda.SdkClientException")
        raise LambdaClientError("SdkClientException", "Unable to read the response: connection reset")

    def _failing(self, service: str, target: str) -> bool:
        """Whether a call the state machine (or a handler) makes to ``target`` must fail."""
        if service == "dynamodb" and target == IDEMPOTENCY_TABLE:
            return self._store_failing
        failing = any(fault.target == service for fault in self.run_faults.of("integration"))
        return failing and target in (SAGA_TABLE, EVENT_BUS, DEAD_LETTER_QUEUE)

    def _record(self, function: str, role: str, outcome: str) -> None:
        with self._lock:
            self.invocations.append(Call(function, role, outcome))

    def _sleep(self, seconds: float) -> None:
        with self._lock:
            self.retry_delays.append(seconds)
            self.clock += seconds

    def _terminated(self, execution_arn: str) -> None:
        with self._finished_changed:
            self._finished.add(execution_arn)
            self._finished_changed.notify_all()
