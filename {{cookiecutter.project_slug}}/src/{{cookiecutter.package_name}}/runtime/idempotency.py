"""Powertools idempotency backed by the project's DynamoDB idempotency table.

A redelivered step (same saga id, same step) or a redelivered outcome event
(same saga id, same detail-type) has one effect and returns the first result.
Records expire after 15 days: Step Functions lets an operator redrive a failed
execution for 14 days, and a redriven step must still find the result of an
attempt that succeeded after its task had already timed out.
"""

import os

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

EXPIRES_AFTER_SECONDS = 15 * 24 * 60 * 60

_table_name = os.environ["IDEMPOTENCY_TABLE_NAME"]
_client = boto3.session.Session().client("dynamodb")

# Steps and consumers key their records differently, so each has its own store:
# a Powertools store keeps the key expression of the first config it serves.
step_store = DynamoDBPersistenceLayer(table_name=_table_name, boto3_client=_client)
step_config = IdempotencyConfig(
    event_key_jmespath="saga_id",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=EXPIRES_AFTER_SECONDS,
)

consumer_store = DynamoDBPersistenceLayer(table_name=_table_name, boto3_client=_client)
consumer_config = IdempotencyConfig(
    event_key_jmespath='["detail-type", detail.saga_id]',
    raise_on_no_idempotency_key=True,
    expires_after_seconds=EXPIRES_AFTER_SECONDS,
)
