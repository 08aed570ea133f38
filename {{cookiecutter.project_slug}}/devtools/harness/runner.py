"""The saga deployed in an offline account: moto's Step Functions interpreter runs the definition, each
Lambda task the real handler in-process, on a real PostgreSQL. Nothing waits: a retry's wait advances
the harness's clock, a timeout is reported at once. Sagas may run at once, each with its own faults:
``run_many`` runs a mix of them and checks what must hold for each afterwards.
"""

import itertools
import json
import os
import random
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from unittest import mock

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from moto import mock_aws
from moto.awslambda.exceptions import LambdaClientError

from devtools.harness import account as offline
from devtools.harness import faults as kinds
from devtools.harness import moto_patches
from devtools.harness.faults import STEP_FAILURES, Fault, Injection
from devtools.local_database import LocalDatabase
from infra.config import REGION
from infra.definition import DEFINITION_FILE
from infra.timing import DATABASE_WAIT_SECONDS
from {{ cookiecutter.package_name }} import handlers, saga
from {{ cookiecutter.package_name }}.naming import OUTCOME_STATUS, Step
from {{ cookiecutter.package_name }}.runtime.envelope import StepRequest, StepResult

HOLD_SECONDS = 10
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@dataclass
class Call:
    function: str
    role: str
    outcome: str
    saga_id: str


@dataclass
class SagaRun:
    """What one execution did, read back from the offline account once it has ended."""

    saga_id: str
    status: str
    error: str | None
    output: dict[str, Any] | None
    invocations: list[Call]
    events: list[dict[str, Any]]
    dlq_messages: list[dict[str, Any]]
    history: Sequence[Mapping[str, Any]]
    record: dict[str, Any] | None
    consumer_deliveries: dict[str, list[str]]
    retry_delays: list[float]
    effects: dict[str, str | None]  # per step, its row for this saga in the database: DONE, COMPENSATED or None
    duplicate: "SagaRun | None" = None  # a second execution of the saga, started while this one ran
    rerun: "SagaRun | None" = None  # this execution run again under its own id, once it had ended

    @property
    def others(self) -> dict[str, "SagaRun"]:
        return {name: run for name, run in (("duplicate", self.duplicate), ("rerun", self.rerun)) if run}

    @property
    def calls(self) -> list[str]:
        return [call.function for call in self.invocations]

    @property
    def event_types(self) -> list[str]:
        return [event["detail-type"] for event in self.events]

    @property
    def states_entered(self) -> list[str]:
        return [entered["name"] for event in self.history if (entered := event.get("stateEnteredEventDetails"))]

    @property
    def state_transitions(self) -> int:
        """Billed state transitions (Standard workflows): every state entered, plus every retry."""
        kinds = Counter(event["type"] for event in self.history)
        return len(self.states_entered) + kinds["TaskScheduled"] - kinds["TaskStateEntered"]

    @property
    def largest_state_bytes(self) -> int:
        """The largest state any state entered with or left with: Step Functions stops an execution past 256 KiB."""
        sizes = [
            len(str(details.get("input") or details.get("output") or "").encode())
            for event in self.history
            for key in ("stateEnteredEventDetails", "stateExitedEventDetails")
            if (details := event.get(key))
        ]
        return max(sizes, default=0)


@dataclass
class Hold:
    """An invocation kept waiting at its business code until ``finish`` releases it (and ends its thread)."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def finish(self) -> None:
        self.release.set()
        if self.thread is not None:
            self.thread.join(HOLD_SECONDS)


class PerThread:
    """An attribute each thread sees its own value of: Powertools keeps the running function's key prefix and
    context on objects of the process, which in Lambda runs one invocation at a time, here all, in threads."""

    def __init__(self) -> None:
        self.values = threading.local()

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return getattr(self.values, str(id(instance)), None)

    def __set__(self, instance: object, value: Any) -> None:
        setattr(self.values, str(id(instance)), value)


@dataclass
class SagaFaults(Injection):
    holds: dict[str, Hold] = field(default_factory=dict)  # per step


class SagaHarness:
    """One offline AWS account with the saga deployed in it (inside an active ``mock_aws``, that account)."""

    def __init__(self, database: LocalDatabase, workflow_type: str = saga.WORKFLOW_TYPE) -> None:
        self.database, self.workflow_type = database, workflow_type
        self.functions = {title: (step, role) for step in saga.STEPS for role, title in step.functions.items()}
        self.invocations: list[Call] = []  # appending to a list is atomic: no lock for these three
        self.applied: list[tuple[str, str, str]] = []  # each business call that did its work: step, role, saga id
        # The business function of each (step, role), looked up at each call: tests may replace one.
        self.business: dict[tuple[str, str], Callable[[StepRequest], StepResult]] = {}
        # The state machine's waits between retries, all of them: their sum is the harness's own clock.
        self.retry_delays: list[float] = []
        self.database_resumes_at: float | None = None
        self.sagas: dict[str, SagaFaults] = {}  # what each saga being run injects
        self._lock = threading.RLock()
        self._ended: dict[str, threading.Event] = {}  # per execution, set as it ends
        self._mail: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._invocation = threading.local()

    def __enter__(self) -> "SagaHarness":
        with ExitStack() as stack:
            stack.enter_context(mock.patch.dict(os.environ, offline.LAMBDA_ENVIRONMENT))
            stack.enter_context(mock_aws(config=MOTO_CONFIG))
            patches = moto_patches.patched(self._dispatch, self.retry_delays.append, self._terminated, self._failing)
            stack.enter_context(patches)
            for owner, name in ((BasePersistenceLayer, "function_name"), (IdempotencyConfig, "lambda_context")):
                stack.enter_context(mock.patch.object(owner, name, PerThread(), create=True))
            self.account = offline.OfflineAccount(REGION, DEFINITION_FILE, self.workflow_type)
            for step in saga.STEPS:
                functions = handlers.step(step.name).functions
                for role, function in list(functions.items()):
                    self.business[(step.name, role)] = function
                    stack.enter_context(mock.patch.dict(functions, {role: self._business(step, role)}))
            self._stack = stack.pop_all()  # undone on exit; on an error above, at once
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

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
        saga_id = str(saga_input.get("saga_id") if isinstance(saga_input, dict) else None)
        with self.injecting(saga_id, SagaFaults(dict(failures or {}), fail_compensations, list(faults))) as injected:
            first_call, first_delay = len(self.invocations), len(self.retry_delays)
            execution_arn, duplicate = self.start(saga_input), None
            if gate := injected.holds.get(saga.STEPS[0].name):  # the duplicate starts while the first one waits
                if not gate.entered.wait(HOLD_SECONDS):
                    raise TimeoutError("the first execution never reached its first step")
                duplicate = self._until_end(saga_input, f"{saga_id}-again")
                gate.finish()
            self.wait(execution_arn)
            run = self.collect(saga_input, execution_arn, first_call, first_delay)
        run.duplicate = duplicate
        if injected.has("rerun"):  # the ended execution, again under its own id
            moto_patches.forget_execution(execution_arn)
            del self._ended[execution_arn]
            run.rerun = self._until_end(saga_input, execution_arn.rsplit(":", 1)[-1])
        return run

    def start(self, saga_input: Any, name: str | None = None) -> str:
        """Start an execution and return its ARN; a Standard one is named after the saga id, as the starter does."""
        if name is None and self.workflow_type == "STANDARD" and isinstance(saga_input, dict):
            name = saga_input.get("saga_id") if isinstance(saga_input.get("saga_id"), str) else None
        arn: str = self.account.stepfunctions.start_execution(
            stateMachineArn=self.account.state_machine_arn, name=name or str(uuid.uuid4()), input=json.dumps(saga_input)
        )["executionArn"]
        return arn

    def wait(self, execution_arn: str, timeout: float = 60.0) -> str:
        if not self._ended.setdefault(execution_arn, threading.Event()).wait(timeout):
            raise TimeoutError(f"{execution_arn} still running after {timeout} s")
        return str(self.account.stepfunctions.describe_execution(executionArn=execution_arn)["status"])

    def _until_end(self, saga_input: Any, name: str) -> SagaRun:
        first_call, first_delay = len(self.invocations), len(self.retry_delays)
        self.wait(execution_arn := self.start(saga_input, name))
        return self.collect(saga_input, execution_arn, first_call, first_delay)

    def collect(self, saga_input: Any, execution_arn: str, first_call: int = 0, first_delay: int = 0) -> SagaRun:
        """What the ended execution did. Its retry waits are all since ``first_delay``: its own if it ran alone."""
        account, saga_id = self.account, str(saga_input.get("saga_id") if isinstance(saga_input, dict) else None)
        description = account.stepfunctions.describe_execution(executionArn=execution_arn)
        return SagaRun(
            saga_id=saga_id,
            status=description["status"],
            error=description.get("error"),
            output=json.loads(description.get("output") or "null"),
            invocations=[call for call in self.invocations[first_call:] if call.saga_id == saga_id],
            events=self._messages(account.events_queue, saga_id),
            dlq_messages=self._messages(account.dead_letter_queue, saga_id),
            history=account.stepfunctions.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"],
            record=account.status_record(saga_id),
            consumer_deliveries={
                name: [event["detail-type"] for event in self._messages(queue, saga_id)]
                for name, queue in account.consumer_queues.items()
            },
            retry_delays=self.retry_delays[first_delay:],
            effects=self.database.effects(saga_id),
        )

    def _messages(self, queue_url: str, saga_id: str) -> list[dict[str, Any]]:
        """This saga's messages in a queue, in order; the other sagas' are kept for their own ``collect``."""
        with self._lock:
            for message in self.account.drain(queue_url):
                about = message.get("detail") or message.get("state") or {}
                self._mail.setdefault((queue_url, str(about.get("saga_id"))), []).append(message)
            return self._mail.pop((queue_url, saga_id), [])

    @contextmanager
    def injecting(self, saga_id: str, injected: SagaFaults | None = None) -> Iterator[SagaFaults]:
        """Inject these failures and faults (none: only holds) into the executions of this saga started inside."""
        injected = self.sagas[saga_id] = injected or SagaFaults()
        for fault in injected.faults:
            if fault.kind == "duplicate":  # the first execution waits at its first step for the second one
                injected.holds[saga.STEPS[0].name] = Hold()
            with self._lock:
                if fault.kind == "db-paused" and self.database_resumes_at is None:  # one cluster, one pause at a time
                    self.database_resumes_at = sum(self.retry_delays) + fault.seconds
                    self.database.pause()
        try:
            yield injected
        finally:
            for hold in injected.holds.values():
                hold.finish()
            if injected.has("db-paused"):
                self._resume_database(at=float("inf"))
            del self.sagas[saga_id]

    def _business(self, step: Step, role: str) -> Callable[[StepRequest], StepResult]:
        """The business function as the handler calls it, with the injected failure around it."""
        name = step.name if role == "action" else str(step.compensation)

        def run(request: StepRequest) -> StepResult:
            faults = self.sagas.get(request.saga_id) or SagaFaults()
            if (hold := faults.holds.get(name)) and not hold.entered.is_set():
                hold.entered.set()
                hold.release.wait(HOLD_SECONDS)
            kind, _, size = faults.failures.get(name, "").partition(":")
            if name in faults.failing_compensations:
                raise kinds.InjectedCrash(f"{name} failed")
            if kind == "rejected":
                raise kinds.InjectedRejection(f"{name} refused")
            if kind == "transient" and faults.failures.pop(name):  # once
                raise kinds.InjectedTransientFailure(f"{name} is busy")
            result = self.business[(step.name, role)](request)
            self.applied.append((step.name, role, request.saga_id))
            if kind == "crash":
                raise kinds.InjectedCrash(f"{name} crashed after its work".ljust(int(size or 0), "."))
            return result

        return run

    def _dispatch(self, function_name: str, body: bytes) -> bytes:
        if function_name not in self.functions:
            raise LambdaClientError("ResourceNotFoundException", f"Function not found: {function_name}")
        step, role = self.functions[function_name]
        self._resume_database(at=sum(self.retry_delays))
        event, context = json.loads(body), cast(Any, offline.LambdaContext(function_name, REGION))
        faults = self.sagas.get(saga_id := str(event.get("saga_id"))) or SagaFaults()
        handler = handlers.step(step.name).handlers[role]
        if role == "action" and faults.take("retried-invocation", step.name):
            # The invocation runs on in the background while Lambda answers the state machine with an error.
            hold = faults.holds[step.name] = Hold()

            def run_on() -> None:
                with suppress(Exception):  # what it raises reaches nobody: Lambda's answer was lost
                    handler(event, context)

            hold.thread = threading.Thread(target=run_on, daemon=True)
            hold.thread.start()
            if not hold.entered.wait(HOLD_SECONDS):
                raise TimeoutError(f"{function_name} never reached its business code")
            self.invocations.append(Call(function_name, role, "Lambda.SdkClientException", saga_id))
            raise LambdaClientError("SdkClientException", "Unable to read the response: connection reset")
        if (running := faults.holds.get(step.name)) and running.thread is not None:
            threading.Timer(0.3, running.finish).start()  # the first invocation ends as this one finds it running
        self._invocation.store_failing = faults.take("store-unavailable", step.name)
        try:
            result = handler(event, context)
        except Exception as error:
            self.invocations.append(Call(function_name, role, type(error).__name__, saga_id))
            payload = json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)})
            raise moto_patches.FunctionError(payload.encode()) from None
        finally:
            self._invocation.store_failing = False
        timed_out = role == "action" and faults.failures.get(step.name) == "timeout"
        self.invocations.append(Call(function_name, role, "States.Timeout" if timed_out else "ok", saga_id))
        if timed_out:
            raise kinds.TaskTimedOut(f"{function_name} did not answer in time")
        return json.dumps(result).encode()

    def _failing(self, service: str, target: str) -> bool:
        if service == "dynamodb" and target == offline.IDEMPOTENCY_TABLE:
            return bool(getattr(self._invocation, "store_failing", False))
        failing = any(faults.has("integration", service) for faults in list(self.sagas.values()))
        return failing and target in (offline.SAGA_TABLE, offline.EVENT_BUS, offline.DEAD_LETTER_QUEUE)

    def _resume_database(self, at: float) -> None:
        with self._lock:
            if self.database_resumes_at is not None and at >= self.database_resumes_at:
                self.database_resumes_at = None
                self.database.resume()

    def _terminated(self, execution_arn: str) -> None:
        self._ended.setdefault(execution_arn, threading.Event()).set()


def mix(sagas: int, seed: int) -> list[Injection]:
    """``sagas`` cases, each kind in turn, at the steps the seed picks; one database pause in the middle, which
    every saga in flight then waits out."""
    pick = random.Random(seed).choice  # noqa: S311 - a mix that can be replayed, not a secret
    steps = [step.name for step in saga.STEPS]
    compensations = [str(step.compensation) for step in saga.STEPS if step.compensation]
    shapes = [
        lambda: Injection({}),
        lambda: Injection({pick(steps): pick(STEP_FAILURES)}),
        lambda: Injection({steps[-1]: "crash"}, [pick(compensations)] if compensations else []),
        lambda: Injection(faults=[Fault("duplicate")]),
        lambda: Injection({pick(steps): pick(("crash", "rejected"))}, faults=[Fault("rerun")]),
        lambda: Injection(faults=[Fault("retried-invocation", pick(steps))]),
    ]
    cases = [shapes[number % len(shapes)]() for number in range(sagas)]
    cases[sagas // 2] = Injection(faults=[Fault("db-paused", seconds=DATABASE_WAIT_SECONDS)])
    return cases


def run_many(harness: SagaHarness, sagas: int, concurrency: int, seed: int = 0) -> dict[str, Any]:
    """Run the mix, ``concurrency`` sagas at a time: the rate, the peak of executions in progress, what broke."""
    cases, began, since = mix(sagas, seed), time.monotonic(), datetime.now(UTC)

    def run(case: Injection) -> SagaRun:
        saga_input = {"saga_id": f"load-{uuid.uuid4().hex[:12]}", "payload": {}}
        return harness.run(saga_input, case.failures, case.failing_compensations, case.faults)

    # Powertools' metrics are the process's: a function flushing finds another's gone ("no metrics to publish").
    with ThreadPoolExecutor(concurrency) as pool, warnings.catch_warnings(action="ignore", category=UserWarning):
        runs = list(pool.map(run, cases))
    seconds, acted = time.monotonic() - began, Counter(harness.applied)
    return {
        "sagas": sagas,
        "concurrency": concurrency,
        "sagas_per_second": round(sagas / seconds, 1),
        "peak_in_progress": peak_in_progress(harness, since),
        "violations": [problem for case, run in zip(cases, runs, strict=True) for problem in broken(case, run, acted)],
    }


def broken(case: Injection, run: SagaRun, acted: Counter[tuple[str, str, str]]) -> list[str]:
    """What does not hold for this saga: one record and one outcome event, effects that match the outcome,
    nothing done twice, and a dead letter only when the case makes a compensation fail."""
    runs = [run, *run.others.values()]
    status = run.record["status"] if run.record else None
    events = [OUTCOME_STATUS[event] for each in runs for event in each.event_types]
    dead_letters = [message for each in runs for message in each.dlq_messages]
    undo_failed = {name for message in dead_letters for name in message["state"].get("compensation_errors", {})}
    problems = [] if events == [status] else [f"outcome {status}, outcome events {events}"]
    if len(dead_letters) != (1 if case.failing_compensations else 0):
        problems.append(f"{len(dead_letters)} dead letters, {len(case.failing_compensations)} failing compensations")
    names = [step.name for step in saga.STEPS]
    failed_at = names.index(run.record["failed_step"]) if run.record and "failed_step" in run.record else len(names)
    for position, step in enumerate(saga.STEPS):
        effect = run.effects[step.name]
        kept = effect == "DONE" and step.compensation is not None and step.compensation not in undo_failed
        if (effect != "DONE") if status == "SUCCEEDED" else (kept or (position > failed_at and effect is not None)):
            problems.append(f"{step.name}'s effect is {effect} in a saga {status}")
    twice = [f"{step} {role}" for (step, role, saga_id), times in acted.items() if saga_id == run.saga_id and times > 1]
    problems += [f"{name} acted more than once" for name in twice]
    return [f"{run.saga_id}: {problem}" for problem in problems]


def peak_in_progress(harness: SagaHarness, since: datetime) -> int:
    """The most executions in progress at one moment since ``since``, as Step Functions dates them."""
    listing = harness.account.stepfunctions.get_paginator("list_executions")
    pages = listing.paginate(stateMachineArn=harness.account.state_machine_arn)
    changes = sorted(
        (moment, change)
        for page in pages
        for execution in page["executions"]
        if execution["startDate"] >= since
        for moment, change in ((execution["startDate"], 1), (execution["stopDate"], -1))
    )
    return max(itertools.accumulate(change for _, change in changes), default=0)
