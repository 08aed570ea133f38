{%- set saga = cookiecutter | saga_model -%}
"""Everything that holds data, in a stack of its own that the application stack can be redeployed without."""

from aws_cdk import Environment, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import config
from infra.database_{{ saga.database_mode }} import Database
from infra.events import SagaEventBus
from infra.queues import DeadLetterQueue


class StatefulStack(Stack):
    """Tables, dead-letter queues, the event bus and the database: kept on stack deletion.

    Nothing here depends on the saga's steps or consumers, so adding, removing or reordering them
    never touches this stack.
    """

    def __init__(self, scope: Construct, construct_id: str, *, env: Environment) -> None:
        super().__init__(scope, construct_id, env=env)
        self.status_table = self._table("SagaStatus", partition_key="saga_id")
        # Powertools idempotency records; DynamoDB deletes them once their "expiration" has passed.
        self.idempotency_table = self._table("Idempotency", partition_key="id", time_to_live="expiration")
        # The whole state of every saga a person must finish: a compensation or a status record failed.
        self.saga_dead_letters = DeadLetterQueue(self, "SagaDeadLetters")
        self.events = SagaEventBus(self, "Events", bus_name=config.PROJECT)
        # Events no consumer (or the starter) could handle after EventBridge's and Lambda's retries.
        self.delivery_dead_letters = DeadLetterQueue(self, "DeliveryDeadLetters")
        # Any rule on the saga's bus may park an event here: the rules live in the application stack, which
        # this stack must not refer to, so that either can change without the other.
        self.delivery_dead_letters.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.delivery_dead_letters.queue_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": self.format_arn(
                            service="events", resource="rule", resource_name=f"{self.events.bus.event_bus_name}/*"
                        )
                    }
                },
            )
        )
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
