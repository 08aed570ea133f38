{%- set saga = cookiecutter | saga_model -%}
"""A Lambda function as every function of the saga is built: same runtime, layer, tracing and logs."""
{% if saga.database_mode == "rds_proxy" %}
from dataclasses import dataclass, field
{%- endif %}
from typing import cast

from aws_cdk import Duration, RemovalPolicy, Stack
{%- if saga.database_mode == "rds_proxy" %}
from aws_cdk import aws_ec2 as ec2
{%- endif %}
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as lambda_destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import config

RUNTIMES = {"3.12": lambda_.Runtime.PYTHON_3_12, "3.13": lambda_.Runtime.PYTHON_3_13}
ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}
# The four calls Powertools idempotency makes on its table, nothing else.
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
{%- if saga.database_mode == "rds_proxy" %}


@dataclass(frozen=True)
class FunctionNetwork:
    """Where functions that reach the database through a VPC run."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_groups: list[ec2.ISecurityGroup] = field(default_factory=list)
{%- endif %}


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The AWS-managed Powertools layer of the version the tests run with, one per stack."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("PowertoolsLayer")
    if existing is not None:
        return cast(lambda_.ILayerVersion, existing)
    arn = ssm.StringParameter.value_for_string_parameter(stack, config.POWERTOOLS_LAYER_PARAMETER)
    return lambda_.LayerVersion.from_layer_version_arn(stack, "PowertoolsLayer", arn)


class ServiceFunction(Construct):
    """A Python Lambda function with its own role, JSON logs kept for a month and X-Ray tracing."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        code: lambda_.Code,
        service_name: str,
        metrics_namespace: str,
        description: str,
        environment: dict[str, str],
{%- if saga.database_mode == "rds_proxy" %}
        network: FunctionNetwork | None = None,
{%- endif %}
        timeout: Duration | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        # An explicit role instead of the AWS managed basic-execution policy: it may write to its own log group only.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {description}",
        )
        self.log_group.grant_write(self.role)
{%- if saga.database_mode == "rds_proxy" %}
        # A policy of its own, so that what it allows on every resource is reviewed apart from the rest.
        self.network_policy: iam.Policy | None = None
        if network is not None:
            # Creating and deleting the function's network interfaces accepts no narrower resource.
            self.network_policy = iam.Policy(
                self,
                "NetworkInterfaces",
                roles=[self.role],
                statements=[
                    iam.PolicyStatement(
                        actions=[
                            "ec2:CreateNetworkInterface",
                            "ec2:DescribeNetworkInterfaces",
                            "ec2:DeleteNetworkInterface",
                            "ec2:AssignPrivateIpAddresses",
                            "ec2:UnassignPrivateIpAddresses",
                        ],
                        resources=["*"],
                    )
                ],
            )
{%- endif %}
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIMES[config.PYTHON_VERSION],
            architecture=ARCHITECTURES[config.LAMBDA_ARCHITECTURE],
            handler=handler,
            code=code,
            role=self.role,
            layers=[powertools_layer(self)],
            memory_size=config.LAMBDA_MEMORY_MB,
            timeout=timeout or Duration.seconds(30),
            tracing=lambda_.Tracing.ACTIVE,
            # A version the state machine invokes stays after the next deploy publishes another: executions
            # that started before that deploy finish with the code they started with.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.RETAIN),
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=self.log_group,
            environment={
                "POWERTOOLS_SERVICE_NAME": service_name,
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
                # Traces keep timings and the call graph, not what the code returns or raises: results and error
                # details may hold personal data, which the logs leave out too (the README says where they are kept).
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
                **environment,
            },
{%- if saga.database_mode == "rds_proxy" %}
            vpc=network.vpc if network else None,
            vpc_subnets=network.subnets if network else None,
            security_groups=network.security_groups if network else None,
{%- endif %}
            # Only for asynchronous invocations (EventBridge); Step Functions invokes synchronously and catches.
            on_failure=lambda_destinations.SqsDestination(dead_letter_queue) if dead_letter_queue else None,
            retry_attempts=2 if dead_letter_queue else None,
        )
{%- if saga.database_mode == "rds_proxy" %}
        if self.network_policy is not None:
            # Lambda checks these permissions when it creates the function in the VPC.
            self.function.node.add_dependency(self.network_policy)
{%- endif %}
        self.service_name = service_name
        self.metrics_namespace = metrics_namespace
        self.invoked_asynchronously = dead_letter_queue is not None
