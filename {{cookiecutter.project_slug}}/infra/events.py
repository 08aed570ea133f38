"""The saga's EventBridge bus: an archive for replay, one rule per consumer, and the rule that starts sagas."""

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class SagaEventBus(Construct):
    """The bus the saga publishes its outcomes on, archived so that past events can be replayed.

    Neither is kept when the stack is deleted: a retained bus would keep its name, and the stage could
    not be deployed again. CloudFormation deletes the archive first, since it names the bus.
    """

    def __init__(self, scope: Construct, construct_id: str, *, bus_name: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=bus_name)
        self.archive = self.bus.archive(
            "Archive",
            description="Every saga event, kept a year for replay",
            event_pattern=events.EventPattern(source=events.Match.prefix("")),
            retention=Duration.days(365),
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
