{%- set saga = cookiecutter | saga_model -%}
"""Everything that holds data, in a stack of its own that the application stack can be redeployed without."""

from aws_cdk import Environment, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra import config
from infra.database_{{ saga.database_mode }} import Database
from infra.events import SagaEventBus
from infra.queues import DeadLetterQueue


class StatefulStack(Stack):
    """Tables, the compensation dead-letter queue, the event bus and the database. Kept on stack deletion."""

    def __init__(self, scope: Construct, construct_id: str, *, env: Environment) -> None:
        super().__init__(scope, construct_id, env=env)
        self.status_table = self._table("SagaStatus", partition_key="saga_id")
        # Powertools idempotency records; DynamoDB deletes them once their "expiration" has passed.
        self.idempotency_table = self._table("Idempotency", partition_key="id", time_to_live="expiration")
        # The whole state of every saga whose compensation failed, for an operator to inspect and redrive.
        self.compensation_dead_letters = (
            DeadLetterQueue(self, "CompensationDeadLetters") if config.COMPENSATED else None
        )
        self.events = SagaEventBus(self, "Events", bus_name=config.PROJECT)
        self.database = Database(self, "Database")

    def _table(self, construct_id: str, *, partition_key: str, time_to_live: str | None = None) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=time_to_live,
            removal_policy=RemovalPolicy.RETAIN,
        )
