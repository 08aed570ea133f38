"""Powertools idempotency on the project's DynamoDB table: one effect per saga and step, or per outcome.

A redelivered step (same saga, same step and role) or outcome event (same saga, same outcome)
runs the business code once and returns the first result. Two deliveries at the same time are
the cloud's normal behaviour (a Lambda task is retried while its first invocation may still run):
the second meets the first one's record in progress and waits for it, polling, as long as its own
time allows; then it returns the first one's result, or runs itself if the first one died. Only
when its time runs out does it raise ``StepInProgress``, which the state machine retries, never as
a crash. Records expire after 15 days, longer than the 14 days in which Step Functions lets an
operator redrive a failed execution.

A compensation first takes hold of its action (``hold_action``): it waits while the action runs,
and when the action never completed it records the action as cancelled, so that a late or
duplicate invocation of the action can no longer do anything the compensation would miss.
"""

import functools
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS
from aws_lambda_powertools.utilities.typing import LambdaContext

from {{ cookiecutter.package_name }}.naming import step_key_prefix
from {{ cookiecutter.package_name }}.runtime import aws
from {{ cookiecutter.package_name }}.runtime.errors import IdempotencyStoreUnavailable, StepInProgress

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EXPIRES_AFTER_SECONDS = 15 * 24 * 60 * 60
# Waiting for another invocation: how often to look again, and how much time to keep for answering.
POLL_SECONDS = 0.25
SPARE_MILLISECONDS = 2_000
# What a late invocation of an action finds once its compensation took hold of it.
CANCELLED = {"status": "CANCELLED", "data": {}}

step_config = IdempotencyConfig(
    event_key_jmespath="saga_id",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=EXPIRES_AFTER_SECONDS,
)
consumer_config = IdempotencyConfig(
    event_key_jmespath='["detail-type", detail.saga_id]',
    raise_on_no_idempotency_key=True,
    expires_after_seconds=EXPIRES_AFTER_SECONDS,
)


# The role's grant on the table admits keys with this prefix only (dynamodb:LeadingKeys).
key_prefix = step_key_prefix


def dynamodb() -> "DynamoDBClient":
    """The DynamoDB client of this execution environment, created on first use."""
    client: DynamoDBClient = aws.client("dynamodb")
    return client


@functools.cache
def store(kind: str) -> DynamoDBPersistenceLayer:
    """One store per kind of key (``step``, ``consumer``, ``hold``): a store keeps the key expression
    of the first configuration it serves."""
    return DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"], boto3_client=dynamodb())


def once(
    function: Callable[..., dict[str, Any]],
    *,
    data_keyword_argument: str,
    kind: str,
    config: IdempotencyConfig,
    prefix: str,
) -> Callable[..., dict[str, Any]]:
    """``function`` with one effect per idempotency key; its store is created on the first call."""

    @functools.cache
    def idempotent() -> Callable[..., dict[str, Any]]:
        wrapped: Callable[..., dict[str, Any]] = idempotent_function(
            function,
            data_keyword_argument=data_keyword_argument,
            persistence_store=store(kind),
            config=config,
            key_prefix=prefix,
        )
        return wrapped

    @functools.wraps(function)
    def call(**kwargs: Any) -> dict[str, Any]:
        while True:
            try:
                return idempotent()(**kwargs)
            except IdempotencyAlreadyInProgressError:
                if not time_to_wait(config.lambda_context):
                    raise StepInProgress(f"{prefix} is running for this key in another invocation") from None
            except IdempotencyPersistenceLayerError as error:
                raise IdempotencyStoreUnavailable(f"{prefix}: the idempotency table failed: {error}") from None
            time.sleep(POLL_SECONDS)

    return call


def time_to_wait(context: LambdaContext | None) -> bool:
    """Whether this invocation can wait one more poll for another one and still answer in time."""
    return context is not None and context.get_remaining_time_in_millis() > SPARE_MILLISECONDS + POLL_SECONDS * 1000


def hold_action(step: str, request: dict[str, Any], context: LambdaContext) -> None:
    """Before a compensation: wait while the step's action runs (``StepInProgress`` when out of time);
    when the action never completed, record it as cancelled so that no late invocation of it can act."""
    while not _took_hold(step, request, context):
        if not time_to_wait(context):
            raise StepInProgress(f"{step}: its action is still running; the compensation waits for it")
        time.sleep(POLL_SECONDS)


def _took_hold(step: str, request: dict[str, Any], context: LambdaContext) -> bool:
    """False while the action runs; True once it completed, or once it is recorded as cancelled."""
    hold = store("hold")
    hold.configure(step_config, key_prefix=key_prefix(step, "action"))
    try:
        hold.save_inprogress(data=request, remaining_time_in_millis=context.get_remaining_time_in_millis())
    except IdempotencyItemAlreadyExistsError as exists:
        try:
            record = exists.old_data_record or hold.get_record(data=request)
        except IdempotencyItemNotFoundError:
            return False  # the action's record went away while being read: look again
        except Exception as error:
            raise IdempotencyStoreUnavailable(f"{step}: the idempotency table failed: {error}") from None
        return record is None or record.status != STATUS_CONSTANTS["INPROGRESS"]
    except Exception as error:
        raise IdempotencyStoreUnavailable(f"{step}: the idempotency table failed: {error}") from None
    try:
        hold.save_success(data=request, result=CANCELLED)
    except Exception as error:
        raise IdempotencyStoreUnavailable(f"{step}: the idempotency table failed: {error}") from None
    return True
