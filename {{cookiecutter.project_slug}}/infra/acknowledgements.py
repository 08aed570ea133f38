{%- set saga = cookiecutter | saga_model -%}
"""Every cdk-nag finding this app accepts, in one place, each with the rule and the reason.

Findings are acknowledged per construct, never for a whole stack, so a new resource that
breaks a rule still fails the synthesis.
"""

from aws_cdk import Acknowledgment, Stack, Validations
{%- if saga.database_mode == "rds_proxy" %}
from aws_cdk import aws_ec2 as ec2
{%- endif %}
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
{%- if saga.database_mode == "rds_proxy" %}
from aws_cdk.region_info import RegionInfo
{%- endif %}
from constructs import IConstruct

from infra.checkov_skips import is_log_retention_function, skip_checkov_findings
{%- if saga.database_mode == "rds_proxy" %}
from infra.database_rds_proxy import Database
{%- endif %}
from infra.queues import DeadLetterQueue
from infra.service_function import ServiceFunction
from infra.state_machine import SagaStateMachine
{%- if saga.database_mode == "rds_proxy" %}
from {{ saga.package_name }}.naming import step_role
{%- endif %}


def nag(pack: str, finding: str, reason: str) -> Acknowledgment:
    """A cdk-nag finding, as ``<pack>::<rule>[<detail>]``."""
    return Acknowledgment(id=f"{pack}::{finding}", reason=reason)


XRAY = nag(
    "AwsSolutions",
    "AwsSolutions-IAM5[Resource::*]",
{%- if saga.database_mode == "rds_proxy" %}
    "X-Ray's PutTraceSegments and PutTelemetryRecords accept no narrower resource than *; functions in a VPC "
    "also need the EC2 network-interface actions, which accept none either.",
{%- else %}
    "X-Ray's PutTraceSegments and PutTelemetryRecords accept no narrower resource than *.",
{%- endif %}
)
STATE_MACHINE_DELIVERIES = nag(
    "AwsSolutions",
    "AwsSolutions-IAM5[Resource::*]",
    "X-Ray tracing and the delivery of execution logs to CloudWatch Logs (logs:CreateLogDelivery and the "
    "related calls) accept no narrower resource than *.",
)
EVERY_VERSION = (
    "An execution invokes the function versions its own definition names, published by the deploy it started "
    "after: the state machine may invoke every version of its step functions, and no other function."
)
PINNED_RUNTIME = (
    "The Python runtime is the one chosen when the project was generated and the one its tests run with; "
    "move to a newer one by changing it in infra/config.py together with the Powertools layer."
)
FUNCTION_RUNTIME = (
    nag("AwsSolutions", "AwsSolutions-L1", PINNED_RUNTIME),
    nag("Serverless", "Serverless-LambdaLatestVersion", PINNED_RUNTIME),
)
SYNCHRONOUS_FUNCTION = nag(
    "Serverless",
    "Serverless-LambdaDLQ",
    "Invoked synchronously (by Step Functions or at deployment): the caller sees every failure, retries and "
    "records it, so an asynchronous dead-letter queue would never receive anything.",
)
ASYNCHRONOUS_FUNCTION = nag(
    "Serverless",
    "Serverless-LambdaDLQ",
    "Failed asynchronous invocations go to an on-failure destination, which records the request and the "
    "error, instead of a dead-letter queue, which records the request only.",
)
LOG_RETENTION_FUNCTION = (
    nag(
        "AwsSolutions",
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "The CDK's own function that sets the retention of the log group RDS creates for the cluster's logs; "
        "the managed policy lets it write its own logs only.",
    ),
    nag(
        "AwsSolutions",
        "AwsSolutions-IAM5[Resource::*]",
        "The CDK's log-retention function is granted logs:PutRetentionPolicy and DeleteRetentionPolicy on "
        "every log group: the CDK does not scope them to the one it manages, the cluster's.",
    ),
)
DEAD_LETTER_QUEUE = (
    nag("AwsSolutions", "AwsSolutions-SQS3", "This queue is itself a dead-letter queue."),
    nag("Serverless", "Serverless-SQSRedrivePolicy", "This queue is itself a dead-letter queue."),
)
ALARM_EMAIL = nag(
    "Serverless",
    "Serverless-SNSRedrivePolicy",
    "An alarm notice the address does not accept is retried by SNS, and the alarm stays in ALARM with the "
    "failed delivery in its history; a dead-letter queue of undelivered notices would itself need an alarm.",
)
DATABASE_SECRET = nag(
    "AwsSolutions",
    "AwsSolutions-SMG4",
    "Rotating the database credentials needs a rotation function that reaches Secrets Manager from the "
    "isolated VPC, through an interface endpoint billed hourly; add cluster.add_rotation_single_user() and "
    "the endpoint when your security policy requires rotation.",
)
{%- if saga.database_mode == "rds_proxy" %}
STEP_LOGINS = (
    "The proxy logs in to the cluster with IAM as the role of whichever step a function runs: steps come and go "
    "with the saga while this stack stays unchanged, so it may log in as any role named like a step's, which "
    "only the migrator creates and which each function may ask for only as its own."
)
{%- endif %}

{%- if saga.database_mode == "rds_proxy" %}

ENDPOINT_INGRESS = nag(
    "AwsSolutions",
    "AwsSolutions-EC23",
    "The interface endpoint accepts HTTPS from the VPC's own address range only; the rule cannot evaluate "
    "the range because it is resolved at deployment.",
)
{%- endif %}


def acknowledge_findings(*stacks: Stack) -> None:
    """cdk-nag's findings and checkov's (``infra.checkov_skips``), construct by construct."""
    for stack in stacks:
        for construct in stack.node.find_all():
            skip_checkov_findings(construct)
            accepted = findings_accepted_for(construct)
            if accepted:
                Validations.of(construct).acknowledge(*accepted)


def findings_accepted_for(construct: IConstruct) -> tuple[Acknowledgment, ...]:
    if isinstance(construct, ServiceFunction):
        invocation = ASYNCHRONOUS_FUNCTION if construct.invoked_asynchronously else SYNCHRONOUS_FUNCTION
        return (XRAY, *FUNCTION_RUNTIME, invocation)
    if is_log_retention_function(construct):
        return LOG_RETENTION_FUNCTION
{%- if saga.database_mode == "rds_proxy" %}
    if isinstance(construct, Database):
        stack = Stack.of(construct)
        cluster = stack.resolve(construct.cluster.cluster_resource_identifier)["Fn::GetAtt"][0]
        partition = RegionInfo.get(stack.region).partition
        logins = f"arn:{partition}:rds-db:{stack.region}:<AWS::AccountId>:dbuser:<{cluster}.DBClusterResourceId>"
        return (nag("AwsSolutions", f"AwsSolutions-IAM5[Resource::{logins}/{step_role('*')}]", STEP_LOGINS),)
{%- endif %}
    if isinstance(construct, SagaStateMachine):
        stack = Stack.of(construct)
        ids = [stack.resolve(function.function_arn)["Fn::GetAtt"][0] for function in construct.invoked_functions]
        return tuple(nag("AwsSolutions", f"AwsSolutions-IAM5[Resource::<{id_}.Arn>:*]", EVERY_VERSION) for id_ in ids)
    return next((accepted for kind, accepted in ACCEPTED_BY_KIND if isinstance(construct, kind)), ())


ACCEPTED_BY_KIND: tuple[tuple[type, tuple[Acknowledgment, ...]], ...] = (
    (sfn.StateMachine, (STATE_MACHINE_DELIVERIES,)),
    (DeadLetterQueue, DEAD_LETTER_QUEUE),
    (secretsmanager.Secret, (DATABASE_SECRET,)),
    (sns.Subscription, (ALARM_EMAIL,)),
{%- if saga.database_mode == "rds_proxy" %}
    (ec2.InterfaceVpcEndpoint, (ENDPOINT_INGRESS,)),
{%- endif %}
)
