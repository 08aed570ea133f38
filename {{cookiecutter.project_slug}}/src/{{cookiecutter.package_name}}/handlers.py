"""The Lambda entry points of every step, compensation and consumer.

Each function's environment names what it runs: ``SAGA_STEP`` for a step's action and its
compensation, ``SAGA_CONSUMER`` for a consumer (``infra/application.py`` sets them). Only that
step's or consumer's module is imported, once per execution environment. The AWS clients every
function uses are created when Lambda imports this module, in the init phase, which no function's
timeout counts: a first invocation spends its time on its work.
"""

import functools
import importlib
import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from {{ cookiecutter.package_name }} import saga
from {{ cookiecutter.package_name }}.runtime import aws
from {{ cookiecutter.package_name }}.runtime.consumer import OutcomeConsumer
from {{ cookiecutter.package_name }}.runtime.envelope import max_payload_bytes
from {{ cookiecutter.package_name }}.runtime.step import SagaStep

{%- if cookiecutter.database_mode == "data_api" %}

# The idempotency table's client, and a step's Data API's.
CLIENTS = ("dynamodb", "rds-data") if "SAGA_STEP" in os.environ else ("dynamodb",)
{%- else %}

# The idempotency table's client; the database's IAM token is signed locally, with no client.
CLIENTS = ("dynamodb",)
{%- endif %}
if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:
    aws.prepare(*CLIENTS)


@functools.cache
def step(name: str) -> SagaStep:
    """The handlers of the step ``name``, built from its module in ``steps/``."""
    (definition,) = [candidate for candidate in saga.STEPS if candidate.name == name]
    module = importlib.import_module(definition.module)
    functions = {"action": module.execute}
    if definition.compensation:
        functions["compensation"] = getattr(module, definition.compensation)
    return SagaStep(definition, functions, max_payload_bytes(saga.STEPS))


@functools.cache
def consumer(name: str) -> OutcomeConsumer:
    """The handler of the consumer ``name``, built from its module in ``consumers/``."""
    (definition,) = [candidate for candidate in saga.CONSUMERS if candidate.name == name]
    return OutcomeConsumer(definition, importlib.import_module(definition.module).handle)


def action(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return step(os.environ["SAGA_STEP"]).handlers["action"](event, context)


def compensation(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return step(os.environ["SAGA_STEP"]).handlers["compensation"](event, context)


def outcome(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return consumer(os.environ["SAGA_CONSUMER"]).handler(event, context)
