"""Every patch the harness makes to moto's private internals, in one place.

moto runs the real definition in its Step Functions interpreter, but offers no public hook for
five things the harness needs: answering Lambda invocations with the project's handlers, recording
retry waits instead of sleeping them, learning when an execution ends without polling, making the
services the state machine calls fail on purpose, and running an ended execution again under its
own id. ``tests/test_tools.py`` checks that each attribute used still exists and looks as expected,
so a moto upgrade that moves one fails there, loudly, rather than in a saga test.
"""

import inspect
import types
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models import DynamoDBBackend
from moto.events.models import EventsBackend
from moto.sqs.models import SQSBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends

Invoke = Callable[[str, bytes], bytes]
"""(function name, request body) -> response body; raise to fail the invocation."""

# What the harness relies on: the attribute and the parameters it is called with.
PATCHED = {
    (LambdaSimpleBackend, "invoke"): ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
    (BaseExecutionWorkerCommunication, "terminated"): ("self",),
    (ExecutionWorker, "_get_evaluation_entrypoint"): ("self",),
    (DynamoDBBackend, "put_item"): ("self", "table_name", "item_attrs"),
    (EventsBackend, "put_events"): ("self", "events"),
    (SQSBackend, "send_message"): ("self", "queue_name", "message_body"),
    (StepFunctionsParserBackend, "_get_state_machine_for_execution"): ("self", "execution_arn"),
}


def incompatibilities() -> list[str]:
    """What moved in this moto version; empty when every patch below still applies."""
    problems = []
    for (owner, name), expected in PATCHED.items():
        attribute = getattr(owner, name, None)
        if not callable(attribute):
            problems.append(f"{owner.__name__}.{name} is gone")
            continue
        parameters = tuple(inspect.signature(attribute).parameters)
        if parameters[: len(expected)] != expected:
            problems.append(f"{owner.__name__}.{name}{parameters} no longer starts with {expected}")
    if not hasattr(retrier_decl, "time"):
        problems.append("retrier_decl no longer sleeps through its module's `time`")
    return problems


@contextmanager
def patched(
    invoke: Invoke,
    sleep: Callable[[float], None],
    terminated: Callable[[str], None],
    failing_call: Callable[[str, str], bool],
) -> Iterator[None]:
    """Route Lambda invocations to ``invoke``, retry waits to ``sleep``, execution ends to ``terminated``
    (with the execution ARN), and fail a service call when ``failing_call(service, target)`` says so."""

    def lambda_invoke(_backend: Any, function_name: str, _qualifier: Any, body: Any, *headers: Any) -> bytes:
        response_headers: dict[str, str] = headers[-1]
        try:
            return invoke(function_name.rsplit(":", 1)[-1], body or b"{}")
        except FunctionError as error:
            response_headers["x-amz-function-error"] = "Unhandled"
            return error.payload

    def reflect_then_notify(communication: BaseExecutionWorkerCommunication) -> None:
        original_terminated(communication)
        terminated(communication.execution.exec_arn)

    parsed: dict[str, EvalComponent] = {}

    def parse_once(worker: ExecutionWorker) -> EvalComponent:
        # Parsing a definition costs more than running it: once per definition, not per execution.
        definition: str = worker._evaluation_details.state_machine_details.definition
        if definition not in parsed:
            parsed[definition] = original_entrypoint(worker)
        return parsed[definition]

    def failing(service: str, target_of: Callable[..., str], original: Callable[..., Any]) -> Callable[..., Any]:
        def call(backend: Any, *args: Any, **kwargs: Any) -> Any:
            if failing_call(service, target_of(*args, **kwargs)):
                raise JsonRESTError("InternalServerError", f"{service} failed, as the harness was told")
            return original(backend, *args, **kwargs)

        return call

    original_terminated = BaseExecutionWorkerCommunication.terminated
    original_entrypoint = ExecutionWorker._get_evaluation_entrypoint
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", lambda_invoke))
        stack.enter_context(mock.patch.object(retrier_decl, "time", types.SimpleNamespace(sleep=sleep)))
        stack.enter_context(mock.patch.object(BaseExecutionWorkerCommunication, "terminated", reflect_then_notify))
        stack.enter_context(mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", parse_once))
        for owner, name, service, target in (
            (DynamoDBBackend, "put_item", "dynamodb", lambda table_name, *_, **__: table_name),
            (EventsBackend, "put_events", "events", lambda events, *_, **__: events[0].get("EventBusName", "")),
            (SQSBackend, "send_message", "sqs", lambda queue_name, *_, **__: queue_name),
        ):
            stack.enter_context(mock.patch.object(owner, name, failing(service, target, getattr(owner, name))))
        yield


def forget_execution(execution_arn: str) -> None:
    """Forget an ended execution, so that it can run again under its own id, as Step Functions may do."""
    _, _, _, region, account, *_ = execution_arn.split(":")
    machine = stepfunctions_parser_backends[account][region]._get_state_machine_for_execution(execution_arn)
    machine.executions[:] = [execution for execution in machine.executions if execution.execution_arn != execution_arn]


class FunctionError(Exception):
    """An invocation that ended in the function's own error: Step Functions matches ``payload``'s errorType."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(payload.decode())
        self.payload = payload
