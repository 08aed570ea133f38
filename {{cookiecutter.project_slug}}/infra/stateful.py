{%- set saga = cookiecutter | saga_model -%}
"""Everything that holds data, in a stack of its own that the application stack can be redeployed without.

The application stack sees these resources through ``StatefulResources``: by the names and ARNs
the stateful stack publishes (``infra.parameters``), never through CloudFormation exports.
"""

from aws_cdk import Environment, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import config, parameters
from infra.database_{{ saga.database_mode }} import Database, DatabaseAccess
from infra.events import SagaEventBus
from infra.queues import DeadLetterQueue

SAGA_TABLE = "saga-table-name"
IDEMPOTENCY_TABLE = "idempotency-table-name"
SAGA_DEAD_LETTERS = "saga-dead-letter-queue-arn"
DELIVERY_DEAD_LETTERS = "delivery-dead-letter-queue-arn"


class StatefulStack(Stack):
    """Tables, dead-letter queues, the event bus and the database.

    Deleting the stack keeps the tables and the queues, and leaves a snapshot of the cluster; the bus goes.

    Nothing here depends on the saga's steps or consumers, so adding, removing or reordering them
    never touches this stack.
    """

    def __init__(self, scope: Construct, construct_id: str, *, env: Environment, stage: str) -> None:
        super().__init__(scope, construct_id, env=env)
        self.status_table = self._table("SagaStatus", partition_key="saga_id")
        # Powertools idempotency records; DynamoDB deletes them once their "expiration" has passed.
        self.idempotency_table = self._table("Idempotency", partition_key="id", time_to_live="expiration")
        # The whole state of every saga a person must finish: a compensation or a status record failed.
        self.saga_dead_letters = DeadLetterQueue(self, "SagaDeadLetters")
        self.events = SagaEventBus(self, "Events", bus_name=config.stage_prefix(stage))
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
        published = parameters.Published(self, "Published", stage=stage)
        self.database = Database(self, "Database", published=published)
        for key, value in (
            (SAGA_TABLE, self.status_table.table_name),
            (IDEMPOTENCY_TABLE, self.idempotency_table.table_name),
            (SAGA_DEAD_LETTERS, self.saga_dead_letters.queue_arn),
            (DELIVERY_DEAD_LETTERS, self.delivery_dead_letters.queue_arn),
        ):
            published.publish(key, value)

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


class StatefulResources(Construct):
    """The stateful stack's resources as the application stack uses them, imported by name and ARN.

    The values are resolved when the application stack is deployed, so the stateful stack must be
    deployed first; ``cdk deploy --all`` does so.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)

        def read(key: str) -> str:
            return parameters.read(self, stage, key)

        self.status_table = dynamodb.Table.from_table_name(self, "SagaStatus", read(SAGA_TABLE))
        self.idempotency_table = dynamodb.Table.from_table_name(self, "Idempotency", read(IDEMPOTENCY_TABLE))
        self.saga_dead_letters = sqs.Queue.from_queue_arn(self, "SagaDeadLetters", read(SAGA_DEAD_LETTERS))
        # The queue's policy, in the stateful stack, already admits every rule of the bus.
        self.delivery_dead_letters = sqs.Queue.from_queue_arn(self, "DeliveryDeadLetters", read(DELIVERY_DEAD_LETTERS))
        # Named after the stage: not retained, so the name is free again once the stateful stack is gone.
        self.event_bus = events.EventBus.from_event_bus_name(self, "Events", config.stage_prefix(stage))
        self.database = DatabaseAccess(self, "Database", stage=stage)
