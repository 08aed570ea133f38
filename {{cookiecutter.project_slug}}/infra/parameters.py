"""How the stateful stack hands its resources' names and ARNs to the application stack: SSM parameters.

Through CloudFormation exports instead, the stateful stack could neither change nor drop a value
while the application stack imports it, and a regenerated application stack that stops importing
one would fail to deploy. The stateful stack writes each value under ``/<project>/<stage>/``; the
application stack reads it when it is deployed.
"""

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import config


def parameter_name(stage: str, key: str) -> str:
    return f"/{config.PROJECT}/{stage}/{key}"


class Published(Construct):
    """The stateful stack's side: one String parameter per value."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage

    def publish(self, key: str, value: str) -> None:
        ssm.StringParameter(
            self,
            key,
            parameter_name=parameter_name(self.stage, key),
            string_value=value,
            description="Read by the application stack when it is deployed",
        )


def read(scope: Construct, stage: str, key: str) -> str:
    """The application stack's side: the parameter's value, resolved by CloudFormation at deployment."""
    return ssm.StringParameter.value_for_string_parameter(scope, parameter_name(stage, key))
