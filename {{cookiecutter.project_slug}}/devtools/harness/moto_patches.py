"""Every patch the harness makes to moto's private internals, in one place.

moto runs the real definition, one thread per execution, but has no public hook to answer Lambda with the
project's handlers, record retry waits instead of sleeping them, learn when an execution ends, make a service
fail, or run an ended execution again. Nor is it safe for executions at once: here conditional DynamoDB writes
take a lock, and tasks share boto3 clients made once. ``incompatibilities`` is what a moto upgrade moved.
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
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends

# What the harness relies on: each attribute, and the parameters it is called with (None: it is there).
PATCHED: dict[tuple[Any, str], tuple[str, ...] | None] = {
    (LambdaSimpleBackend, "invoke"): ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
    (BaseExecutionWorkerCommunication, "terminated"): ("self",),
    (ExecutionWorker, "_get_evaluation_entrypoint"): ("self",),
    (AmazonStateLanguageParser, "parse"): ("definition",),
    (DynamoDBBackend, "put_item"): ("self", "table_name", "item_attrs"),
    (DynamoDBBackend, "update_item"): ("self", "table_name", "key"),
    (DynamoDBBackend, "delete_item"): ("self", "table_name", "key"),
    (EventsBackend, "put_events"): ("self", "events"),
    (SQSBackend, "send_message"): ("self", "queue_name", "message_body"),
    (StepFunctionsParserBackend, "_get_state_machine_for_execution"): ("self", "execution_arn"),
    (json_path, "parse"): ("path",),
    (jsonpath_ng.ext, "parse"): ("path",),
    (retrier_decl, "time"): None,
    (boto_client, "boto3"): None,
}


def incompatibilities() -> list[str]:
    """What moved in this moto version; empty when every patch below still applies."""
    problems = []
    for (owner, name), expected in PATCHED.items():
        found = getattr(owner, name, None)
        if found is None or (expected and tuple(inspect.signature(found).parameters)[: len(expected)] != expected):
            problems.append(f"{getattr(owner, '__name__', owner)}.{name} is not as the harness expects: {expected}")
    return problems


@contextmanager
def patched(
    invoke: Callable[[str, bytes], bytes],
    sleep: Callable[[float], None],
    terminated: Callable[[str], None],
    failing: Callable[[str, str], bool],
) -> Iterator[None]:
    """Route Lambda invocations to ``invoke`` (function name, body -> response body), retry waits to ``sleep``,
    execution ends to ``terminated`` (with the execution ARN), and fail a service call when ``failing(service,
    target)`` says so."""
    lock = threading.RLock()
    clients: dict[tuple[str, str], Any] = {}

    def lambda_invoke(_backend: Any, function_name: str, _qualifier: Any, body: Any, *headers: Any) -> bytes:
        try:
            return invoke(function_name.rsplit(":", 1)[-1], body or b"{}")
        except FunctionError as error:
            headers[-1]["x-amz-function-error"] = "Unhandled"
            return bytes(error.args[0])

    def reflect_then_notify(communication: BaseExecutionWorkerCommunication) -> None:
        original_terminated(communication)
        terminated(communication.execution.exec_arn)

    def one_client(service_name: str, region_name: str, **settings: Any) -> Any:
        with lock:
            if (service_name, region_name) not in clients:
                clients[(service_name, region_name)] = boto3.client(service_name, region_name, **settings)  # type: ignore[call-overload]
            return clients[(service_name, region_name)]

    def serialized(original: Callable[..., Any], service: str = "", parameter: str = "") -> Any:
        signature = inspect.signature(original)

        def call(*args: Any, **kwargs: Any) -> Any:
            target = signature.bind(*args, **kwargs).arguments[parameter] if service else ""
            if service and failing(service, target if isinstance(target, str) else target[0].get("EventBusName")):
                raise JsonRESTError("InternalServerError", f"{service} failed, as the harness was told")
            with lock:
                return original(*args, **kwargs)

        return call

    # Parsing a definition or a JSONPath costs more than applying it, and nothing parsed is changed: once each.
    parse_definition = functools.cache(lambda definition: AmazonStateLanguageParser.parse(definition)[0])
    parse_path = functools.cache(jsonpath_ng.ext.parse)  # type: ignore[attr-defined]

    def parse_once(worker: ExecutionWorker) -> Any:
        return parse_definition(worker._evaluation_details.state_machine_details.definition)

    original_terminated = BaseExecutionWorkerCommunication.terminated
    with ExitStack() as stack:
        for owner, name, replacement in (
            (LambdaSimpleBackend, "invoke", lambda_invoke),
            (retrier_decl, "time", types.SimpleNamespace(sleep=sleep)),
            (BaseExecutionWorkerCommunication, "terminated", reflect_then_notify),
            (ExecutionWorker, "_get_evaluation_entrypoint", parse_once),
            (boto_client, "boto3", types.SimpleNamespace(client=one_client)),
            (json_path, "parse", parse_path),
            (jsonpath_ng.ext, "parse", parse_path),
            (DynamoDBBackend, "put_item", serialized(DynamoDBBackend.put_item, "dynamodb", "table_name")),
            (DynamoDBBackend, "update_item", serialized(DynamoDBBackend.update_item)),
            (DynamoDBBackend, "delete_item", serialized(DynamoDBBackend.delete_item)),
            (EventsBackend, "put_events", serialized(EventsBackend.put_events, "events", "events")),
            (SQSBackend, "send_message", serialized(SQSBackend.send_message, "sqs", "queue_name")),
        ):
            stack.enter_context(mock.patch.object(owner, name, replacement))
        yield


def forget_execution(execution_arn: str) -> None:
    """Forget an ended execution, so that it can run again under its own id, as Step Functions may do."""
    _, _, _, region, account, *_ = execution_arn.split(":")
    machine = stepfunctions_parser_backends[account][region]._get_state_machine_for_execution(execution_arn)
    machine.executions.remove(next(each for each in machine.executions if each.execution_arn == execution_arn))


class FunctionError(Exception):
    """An invocation that ended in the function's own error, its payload the argument: Step Functions matches
    the payload's errorType."""
