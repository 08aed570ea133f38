"""What reaches Step Functions from every step's action and compensation, for every kind of outcome.

Written once for every step in ``saga.py``: the business functions are replaced here, so these
tests hold whatever each step's module does (its own tests are in ``tests/steps/``).
"""

import threading
from collections.abc import Callable
from typing import Any

import pytest

from devtools.harness.account import IDEMPOTENCY_TABLE, LambdaContext
from {{ cookiecutter.package_name }} import handlers, saga
from {{ cookiecutter.package_name }}.database import DatabaseNotReady
from {{ cookiecutter.package_name }}.naming import OBSERVABILITY_FAILED, Step
from {{ cookiecutter.package_name }}.runtime.envelope import StepRequest, StepResult, max_payload_bytes
from {{ cookiecutter.package_name }}.runtime.errors import (
    IdempotencyStoreUnavailable,
    InvalidInput,
    StepCancelled,
    StepInProgress,
    StepRejected,
    TransientError,
)
from {{ cookiecutter.package_name }}.runtime.observability import logger

FUNCTIONS = [(step, role) for step in saga.STEPS for role in step.functions]
COMPENSATED = [step for step in saga.STEPS if step.compensation]
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class Declined(StepRejected):
    """A rejection as business code defines it."""


class Busy(TransientError):
    """A transient failure as business code defines it."""


class Resuming(DatabaseNotReady):
    """The database layer's own subclass."""


def event(saga_id: str = "saga-1", **extra: Any) -> dict[str, Any]:
    return {"saga_id": saga_id, "payload": {"customer_email": "jane@example.com"}, "results": {}, **extra}


class Recorder:
    """Stands in for a business function: records its calls, then fails, waits or succeeds as told."""

    def __init__(self) -> None:
        self.requests: list[StepRequest] = []
        self.failures: list[Exception] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self.hold = False

    def __call__(self, request: StepRequest) -> StepResult:
        self.requests.append(request)
        if self.hold:
            self.entered.set()
            self.release.wait(10)
        if self.failures:
            raise self.failures.pop(0)
        return StepResult("DONE", {"call": len(self.requests)})


@pytest.fixture(params=FUNCTIONS, ids=lambda function: f"{function[0].name}-{function[1]}")
def function(request: pytest.FixtureRequest) -> tuple[Step, str]:
    step, role = request.param
    return step, role


@pytest.fixture
def business(function: tuple[Step, str], monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setitem(handlers.step(function[0].name).functions, function[1], recorder)
    return recorder


@pytest.fixture
def handler(function: tuple[Step, str], monkeypatch: pytest.MonkeyPatch) -> Handler:
    """The function's Lambda entry point, reached as in AWS: through the step its environment names."""
    monkeypatch.setenv("SAGA_STEP", function[0].name)
    entry: Handler = getattr(handlers, function[1])
    return entry


@pytest.mark.parametrize(
    "outcome",
    [
        (None, None, "Succeeded"),
        (Declined("not allowed " * 50), "{rejection}", "Rejected"),
        (Busy("try later"), "TransientError", "TransientError"),
        (Resuming("the database is resuming"), "DatabaseNotReady", "DatabaseNotReady"),
        (KeyError("customer"), "KeyError", "Crashed"),
    ],
    ids=["success", "rejection", "transient", "database-not-ready", "crash"],
)
def test_each_outcome_reaches_the_state_machine_under_the_name_it_expects(
    function: tuple[Step, str],
    business: Recorder,
    handler: Handler,
    handler_output: Any,
    outcome: tuple[Exception | None, str | None, str],
) -> None:
    failure, error, metric = outcome
    lambda_context = LambdaContext("saga-function")
    if failure is None:
        assert handler(event(), lambda_context) == {"status": "DONE", "data": {"call": 1}}
    else:
        business.failures.append(failure)
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the name is what Step Functions matches
            handler(event(), lambda_context)
        assert type(raised.value).__name__ == str(error).format(rejection=function[0].rejection_error)
        assert len(str(raised.value)) <= 200, "a reason is logged and travels cut to 200 characters"
        # A failure leaves no idempotency record: the retry runs the business code again.
        assert handler(event(), lambda_context) == {"status": "DONE", "data": {"call": 2}}
    assert [request.saga_id for request in business.requests][-1] == "saga-1"
    metrics = handler_output().metric_names()
    assert metric in metrics
    assert ("ExpectedFailures" in metrics) is (metric not in ("Succeeded", "Crashed"))


@pytest.mark.usefixtures("broken_metrics")
@pytest.mark.parametrize("failure", [None, Declined("not allowed")], ids=["success", "rejection"])
def test_failing_metrics_never_change_what_reaches_the_state_machine(
    function: tuple[Step, str], business: Recorder, handler: Handler, handler_output: Any, failure: Exception | None
) -> None:
    business.failures = [failure] if failure else []
    if failure is None:
        assert handler(event(), LambdaContext("saga-function")) == {"status": "DONE", "data": {"call": 1}}
    else:
        with pytest.raises(StepRejected) as raised:
            handler(event(), LambdaContext("saga-function"))
        assert type(raised.value).__name__ == function[0].rejection_error
    assert handler_output().lost() == (["ExpectedFailures", "Rejected"] if failure else ["Succeeded"])


def test_a_logger_that_fails_before_the_handler_leaves_it_running_and_its_metrics_for_the_next_flush(
    handler: Handler, business: Recorder, handler_output: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_correlation_id(*_: Any) -> None:
        raise RuntimeError("no correlation id")

    with monkeypatch.context() as broken:
        broken.setattr(logger, "set_correlation_id", no_correlation_id)
        assert handler(event(), LambdaContext("saga-function"))["status"] == "DONE"
    assert handler(event("saga-2"), LambdaContext("saga-function"))["status"] == "DONE"
    output = handler_output()
    assert [line["error"] for line in output.logs if line["message"] == OBSERVABILITY_FAILED] == [
        "RuntimeError: no correlation id"
    ]
    assert [metric["Succeeded"] for metric in output.metrics] == [[1.0, 1.0]]


def test_the_names_are_read_from_the_environment_each_event_not_at_import(
    handler: Handler, business: Recorder, handler_output: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Set/after-import")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "set-after-import")
    handler(event(), LambdaContext("saga-function"))
    output = handler_output()
    (metrics,) = output.metrics
    namespace = metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"]
    assert (namespace, metrics["service"]) == ("Set/after-import", "set-after-import")
    assert {line["service"] for line in output.logs} == {"set-after-import"}


def test_redelivery_has_one_effect_and_returns_the_first_result(
    business: Recorder, handler: Handler, lambda_context: Any
) -> None:
    first = handler(event(), lambda_context)
    assert handler(event(), lambda_context) == first
    assert len(business.requests) == 1
    handler(event("saga-2"), lambda_context)
    assert len(business.requests) == 2


# The two invocations share this process's metrics, which one of them flushes empty.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize("seconds_left", [10.0, 2.0], ids=["waits-for-it", "out-of-time"])
def test_a_delivery_that_overlaps_a_running_one_waits_for_it_and_never_acts_twice(
    business: Recorder, handler: Handler, lambda_context: Any, seconds_left: float
) -> None:
    business.hold = True
    first = threading.Thread(target=handler, args=(event(), lambda_context))
    first.start()
    assert business.entered.wait(10)
    threading.Timer(0.5, business.release.set).start()
    try:
        if seconds_left > 5:
            assert handler(event(), LambdaContext("duplicate", timeout_seconds=seconds_left))["data"] == {"call": 1}
        else:
            with pytest.raises(StepInProgress):
                handler(event(), LambdaContext("duplicate", timeout_seconds=seconds_left))
    finally:
        business.release.set()
        first.join(10)
    assert handler(event(), lambda_context) == {"status": "DONE", "data": {"call": 1}}
    assert len(business.requests) == 1


def test_an_unreachable_idempotency_table_is_retried_not_a_crash(
    business: Recorder, handler: Handler, lambda_context: Any, dynamodb: Any
) -> None:
    dynamodb.delete_table(TableName=IDEMPOTENCY_TABLE)
    with pytest.raises(IdempotencyStoreUnavailable):
        handler(event(), lambda_context)
    assert business.requests == []


@pytest.mark.parametrize(
    "malformed",
    [
        {},
        {"payload": {}},
        {"saga_id": "has spaces"},
        {"saga_id": "saga-1", "payload": "not an object"},
        {**event(), "unexpected": True},
        event(payload={"blob": "x" * max_payload_bytes(saga.STEPS)}),
    ],
    ids=["empty", "no-saga-id", "bad-saga-id", "text-payload", "unknown-key", "too-large"],
)
def test_malformed_input_fails_clearly_without_effect(
    business: Recorder, handler: Handler, lambda_context: Any, malformed: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput, match="invalid step input"):
        handler(malformed, lambda_context)
    assert business.requests == []


def test_logs_are_structured_and_carry_the_saga_id_without_the_payload(
    function: tuple[Step, str], business: Recorder, handler: Handler, lambda_context: Any, handler_output: Any
) -> None:
    handler(event("saga-logs"), lambda_context)
    output = handler_output()
    (finished,) = [line for line in output.logs if line["message"] == "Step finished"]
    assert (finished["correlation_id"], finished["step"]) == ("saga-logs", function[0].name)
    assert "cold_start" in finished
    assert "jane@example.com" not in output.text


# Two invocations overlap in one process here and share Powertools' metric set: the one that flushes
# second may find it empty. In Lambda an execution environment runs one invocation at a time.
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
@pytest.mark.parametrize("step", COMPENSATED, ids=lambda step: step.name)
def test_a_compensation_waits_while_its_action_still_runs(
    step: Step, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    action = Recorder()
    action.hold = True
    monkeypatch.setitem(handlers.step(step.name).functions, "action", action)
    monkeypatch.setitem(handlers.step(step.name).functions, "compensation", Recorder())
    running = threading.Thread(target=handlers.step(step.name).handlers["action"], args=(event(), lambda_context))
    running.start()
    assert action.entered.wait(10)
    compensate: Handler = handlers.step(step.name).handlers["compensation"]
    try:
        with pytest.raises(StepInProgress, match="still running"):
            compensate(event(), LambdaContext("compensation", timeout_seconds=2))
        threading.Timer(0.5, action.release.set).start()
        assert compensate(event(), LambdaContext("compensation"))["status"] == "DONE"
    finally:
        action.release.set()
        running.join(10)
    assert [request.saga_id for request in action.requests] == ["saga-1"], "the action ran once, before"


@pytest.mark.parametrize("step", COMPENSATED, ids=lambda step: step.name)
def test_an_action_arriving_after_its_compensation_does_nothing_and_says_so(
    step: Step, lambda_context: Any, monkeypatch: pytest.MonkeyPatch, handler_output: Any
) -> None:
    action = Recorder()
    monkeypatch.setitem(handlers.step(step.name).functions, "action", action)
    monkeypatch.setitem(handlers.step(step.name).functions, "compensation", Recorder())
    handlers.step(step.name).handlers["compensation"](event(), lambda_context)
    with pytest.raises(StepCancelled):
        handlers.step(step.name).handlers["action"](event(), lambda_context)
    assert action.requests == []
    assert "Cancelled" in handler_output().metric_names()


def test_a_result_over_its_size_budget_is_a_bug_not_a_saga_state() -> None:
    with pytest.raises(ValueError, match="under 8192 bytes"):
        StepResult("DONE", {"blob": "x" * 8192})
