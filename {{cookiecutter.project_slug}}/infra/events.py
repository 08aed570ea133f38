"""The saga's EventBridge bus: who may publish on it, an archive for replay, and the rules that read it."""

from aws_cdk import CfnResource, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from {{ cookiecutter.package_name }}.naming import EVENT_SOURCE, SAGA_REQUESTED

# Long enough to replay what the consumers missed during an incident, short enough to keep little. The
# consumers' idempotency records last 15 days: an event replayed later than that runs them again.
ARCHIVE_RETENTION_DAYS = 30


class SagaEventBus(Construct):
    """The bus the saga publishes its outcomes on, with the outcomes archived so that they can be replayed.

    Neither is kept when the stack is deleted: a retained bus would keep its name, and the stage could
    not be deployed again. CloudFormation deletes the archive first, since it names the bus.
    """

    def __init__(self, scope: Construct, construct_id: str, *, bus_name: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=bus_name)
        # The L1 resource: the L2 archive() writes an empty KmsKeyIdentifier and drops a key it is given.
        # Outcomes only: SagaRequested payloads may hold personal data, and an archived event cannot be erased.
        self.archive = events.CfnArchive(
            self.bus,
            "Archive",
            source_arn=self.bus.event_bus_arn,
            description=f"The saga's outcome events, kept {ARCHIVE_RETENTION_DAYS} days for replay",
            event_pattern={"source": [EVENT_SOURCE]},
            retention_days=ARCHIVE_RETENTION_DAYS,
        )


class PublishersOnly(Construct):
    """The bus's policy: only the saga and its operators publish outcomes, only the named producers request sagas.

    In one account an identity policy alone lets a principal call ``PutEvents``; only an explicit Deny in
    the bus's policy overrides it. So the bus refuses an event of the saga's source from any principal but
    the state machine's role and the ``operators`` (who finish stuck sagas) and, when ``producers`` are
    named, a ``SagaRequested`` event from any other principal. Another account's producer also needs an
    Allow, which this policy does not give.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        saga_role: iam.IRole,
        producers: tuple[str, ...] | None,
        operators: tuple[str, ...],
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = bus
        publishers = [saga_role.role_arn, *operators]
        self._deny_unless("OnlyTheSagaPublishesOutcomes", "events:source", EVENT_SOURCE, publishers)
        if producers is not None:
            self._deny_unless("OnlyNamedProducersRequestSagas", "events:detail-type", SAGA_REQUESTED, list(producers))

    def _deny_unless(self, sid: str, key: str, value: str, principals: list[str]) -> None:
        """Refuse ``PutEvents`` with any entry whose ``key`` is ``value`` unless the caller is one of ``principals``."""
        statement = iam.PolicyStatement(
            sid=sid,
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["events:PutEvents"],
            resources=[self.bus.event_bus_arn],
            conditions={"ForAnyValue:StringEquals": {key: value}, "ArnNotLike": {"aws:PrincipalArn": principals}},
        )
        # A plain resource: the CDK's EventBusPolicy classes print a deprecation warning at every synthesis
        # for a property (principal) that they are not even given.
        CfnResource(
            self,
            sid,
            type="AWS::Events::EventBusPolicy",
            properties={
                "EventBusName": self.bus.event_bus_name,
                "StatementId": sid,
                "Statement": statement.to_statement_json(),
            },
        )


class EventRoute(Construct):
    """Routes the events a pattern matches to a function, with retries and a dead-letter queue.

    The same queue should be the function's own on-failure destination: EventBridge invokes
    it asynchronously, so an event the function keeps failing on is parked there by Lambda,
    and one EventBridge cannot deliver at all is parked there by EventBridge.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        pattern: events.EventPattern,
        function: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
        description: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue
        self.rule = events.Rule(self, "Rule", event_bus=bus, description=description, event_pattern=pattern)
        self.rule.add_target(
            targets.LambdaFunction(
                function,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=8,
                max_event_age=Duration.hours(6),
            )
        )
