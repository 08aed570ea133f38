"""Every patch the harness makes to moto's private internals, in one place.

moto runs the real definition in its Step Functions interpreter, one thread per execution, but offers
no public hook to answer Lambda invocations with the project's handlers, record retry waits instead of
sleeping them, learn when an execution ends, make the services the state machine calls fail, or run an
ended execution again under its own id. Nor is it safe for executions running at once: a conditional
DynamoDB write checks then writes, and the interpreter creates a boto3 client per task from one shared
session; here the writes take a lock and the clients are made once. ``tests/test_tools.py`` checks that
each attribute used is still there, so that a moto upgrade that moves one fails there, loudly.
"""

import functools
import inspect
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

import boto3
import jsonpath_ng.ext
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models import DynamoDBBackend
from moto.events.models import EventsBackend
from moto.sqs.models import SQSBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
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
    (DynamoDBBackend, "update_item"): ("self", "table_name", "key"),
    (DynamoDBBackend, "delete_item"): ("self", "table_name", "key"),
    (EventsBackend, "put_events"): ("self", "events"),
    (SQSBackend, "send_message"): ("self", "queue_name", "message_body"),
    (StepFunctionsParserBackend, "_get_state_machine_for_execution"): ("self", "execution_arn"),
    (boto_client, "boto_client_for"): ("region", "service", "state_credentials"),
}


def incompatibilities() -> list[str]:
    """What moved in this moto version; empty when every patch below still applies."""
    problems = []
    for (owner, name), expected in PATCHED.items():
        attribute = getattr(owner, name, None)
        parameters = tuple(inspect.signature(attribute).parameters) if callable(attribute) else ()
        if parameters[: len(expected)] != expected:
            problems.append(f"{owner.__name__}.{name}{parameters} no longer starts with {expected}")
    for module, name in ((retrier_decl, "time"), (boto_client, "boto3"), (json_path, "parse")):
        if not hasattr(module, name):
            problems.append(f"{module.__name__} no longer calls its {name} module")
    return problems


@contextmanager
def patched(
    invoke: Invoke, sleep: Callable[[float], None], terminated: Callable[[str], None], failing: Callable[[str, str], bool]
) -> Iterator[None]:
    """Route Lambda invocations to ``invoke``, retry waits to ``sleep``, execution ends to ``terminated``
    (with the execution ARN), and fail a service call when ``failing(service, target)`` says so."""
    lock = threading.RLock()

    def lambda_invoke(_backend: Any, function_name: str, _qualifier: Any, body: Any, *headers: Any) -> bytes:
        try:
            return invoke(function_name.rsplit(":", 1)[-1], body or b"{}")
        except FunctionError as error:
            headers[-1]["x-amz-function-error"] = "Unhandled"
            return error.payload

    def reflect_then_notify(communication: BaseExecutionWorkerCommunication) -> None:
        original_terminated(communication)
        terminated(communication.execution.exec_arn)

    parsed: dict[str, EvalComponent] = {}

    def parse_once(worker: ExecutionWorker) -> EvalComponent:
        # Parsing a definition costs more than running it; the parsed states keep no execution's data.
        definition: str = worker._evaluation_details.state_machine_details.definition
        if definition not in parsed:
            parsed[definition] = original_entrypoint(worker)
        return parsed[definition]

    clients: dict[tuple[str, str], Any] = {}

    def one_client(service_name: str, region_name: str, **settings: Any) -> Any:
        with lock:
            if (service_name, region_name) not in clients:
                clients[(service_name, region_name)] = boto3.client(service_name, region_name, **settings)
            return clients[(service_name, region_name)]

    def serialized(original: Callable[..., Any], service: str = "", target_of: Callable[..., str] = str) -> Any:
        def call(backend: Any, *args: Any, **kwargs: Any) -> Any:
            if service and failing(service, target_of(*args, **kwargs)):
                raise JsonRESTError("InternalServerError", f"{service} failed, as the harness was told")
            with lock:
                return original(backend, *args, **kwargs)

        return call

    parse_path = functools.cache(jsonpath_ng.ext.parse)
    original_terminated = BaseExecutionWorkerCommunication.terminated
    original_entrypoint = ExecutionWorker._get_evaluation_entrypoint
    with ExitStack() as stack:
        for owner, name, replacement in (
            (LambdaSimpleBackend, "invoke", lambda_invoke),
            (retrier_decl, "time", types.SimpleNamespace(sleep=sleep)),
            (BaseExecutionWorkerCommunication, "terminated", reflect_then_notify),
            (ExecutionWorker, "_get_evaluation_entrypoint", parse_once),
            (boto_client, "boto3", types.SimpleNamespace(client=one_client)),
            # Parsing a JSONPath costs more than applying it, and a parsed one is never changed: once each.
            (json_path, "parse", parse_path),
            (jsonpath_ng.ext, "parse", parse_path),
            (DynamoDBBackend, "put_item", serialized(DynamoDBBackend.put_item, "dynamodb", _table)),
            (DynamoDBBackend, "update_item", serialized(DynamoDBBackend.update_item)),
            (DynamoDBBackend, "delete_item", serialized(DynamoDBBackend.delete_item)),
            (EventsBackend, "put_events", serialized(EventsBackend.put_events, "events", _bus_of)),
            (SQSBackend, "send_message", serialized(SQSBackend.send_message, "sqs", _queue)),
        ):
            stack.enter_context(mock.patch.object(owner, name, replacement))
        yield


# The resource a failing call is aimed at, from the backend method's own arguments.
def _table(table_name: str, *_: Any, **__: Any) -> str:
    return table_name


def _bus_of(events: list[dict[str, Any]], *_: Any, **__: Any) -> str:
    return str(events[0].get("EventBusName", ""))


def _queue(queue_name: str, *_: Any, **__: Any) -> str:
    return queue_name


def forget_execution(execution_arn: str) -> None:
    """Forget an ended execution, so that it can run again under its own id, as Step Functions may do."""
    _, _, _, region, account, *_ = execution_arn.split(":")
    machine = stepfunctions_parser_backends[account][region]._get_state_machine_for_execution(execution_arn)
    machine.executions.remove(next(each for each in machine.executions if each.execution_arn == execution_arn))


class FunctionError(Exception):
    """An invocation that ended in the function's own error: Step Functions matches ``payload``'s errorType."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(payload.decode())
        self.payload = payload
