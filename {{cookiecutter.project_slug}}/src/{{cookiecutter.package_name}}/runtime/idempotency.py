"""Powertools idempotency backed by the project's DynamoDB idempotency table.

A redelivered step (same saga id, same step) or a redelivered outcome event
(same saga id, same detail-type) has one effect and returns the first result.
Records expire after 15 days: Step Functions lets an operator redrive a failed
execution for 14 days, and a redriven step must still find the result of an
attempt that succeeded after its task had already timed out.

The DynamoDB client and the stores are created on the first call, not at import:
loading the client's service model is the largest part of a cold import.
"""

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EXPIRES_AFTER_SECONDS = 15 * 24 * 60 * 60

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


@functools.cache
def dynamodb() -> "DynamoDBClient":
    """The DynamoDB client of this execution environment, created on first use."""
    return boto3.session.Session().client("dynamodb")


# Steps and consumers key their records differently, so each has its own store:
# a Powertools store keeps the key expression of the first config it serves.
@functools.cache
def step_store() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"], boto3_client=dynamodb())


@functools.cache
def consumer_store() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"], boto3_client=dynamodb())


def once(
    function: Callable[..., dict[str, Any]],
    *,
    data_keyword_argument: str,
    store: Callable[[], DynamoDBPersistenceLayer],
    config: IdempotencyConfig,
    key_prefix: str,
) -> Callable[..., dict[str, Any]]:
    """``function`` with one effect per idempotency key; its store is created on the first call."""
    idempotent: list[Callable[..., dict[str, Any]]] = []

    @functools.wraps(function)
    def call(**kwargs: Any) -> dict[str, Any]:
        if not idempotent:
            idempotent.append(
                idempotent_function(
                    function,
                    data_keyword_argument=data_keyword_argument,
                    persistence_store=store(),
                    config=config,
                    key_prefix=key_prefix,
                )
            )
        return idempotent[0](**kwargs)

    return call
