"""Dead-letter queues, all alike: encrypted, TLS only, messages kept the maximum 14 days."""

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

RETENTION = Duration.days(14)


class DeadLetterQueue(sqs.Queue):
    """Where messages that could not be processed wait for an operator."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(
            scope,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
        )
        self.apply_removal_policy(RemovalPolicy.RETAIN)
