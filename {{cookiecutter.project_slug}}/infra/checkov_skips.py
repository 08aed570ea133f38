{%- set saga = cookiecutter | saga_model -%}
"""Every checkov finding this app accepts, each with the check and the reason, beside the cdk-nag ones.

checkov reads ``Metadata: {"checkov": {"skip": [{"id": ..., "comment": ...}]}}`` on each resource
of the synthesized templates, so every reason below is written on the resource it excuses and
shows in the scan's skipped checks. As with cdk-nag, nothing is skipped for a whole template: a
new resource that fails a check fails ``make security``.
"""

from aws_cdk import CfnResource, CustomResourceProviderBase, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import IConstruct

from infra.queues import DeadLetterQueue
from infra.service_function import ServiceFunction


def checkov(check: str, reason: str) -> dict[str, str]:
    return {"id": check, "comment": reason}


BOUNDED_CONCURRENCY = checkov(
    "CKV_AWS_115",
    "Its callers bound the load (Step Functions executions, EventBridge with retries) and throttles raise an "
    "alarm; reserved concurrency would take capacity from the account's pool and turn bursts into throttles.",
)
SYNCHRONOUS = checkov(
    "CKV_AWS_116",
    "Invoked synchronously (by Step Functions, or by the deployment trigger), whose caller sees, retries and "
    "handles every failure: an asynchronous dead-letter queue would never receive a message.",
)
ON_FAILURE_DESTINATION = checkov(
    "CKV_AWS_116",
    "Failed asynchronous invocations go to an SQS on-failure destination, which records the request and the "
    "error, instead of a dead-letter queue, which records the request only.",
)
NO_VPC = checkov(
    "CKV_AWS_117",
    "The function calls only AWS APIs, over TLS with IAM authentication, and reaches nothing inside a VPC; "
    "attaching it to one would add hourly-billed interface endpoints without reducing its exposure.",
)
ENVIRONMENT = checkov(
    "CKV_AWS_173",
    "Lambda encrypts environment variables at rest with its AWS managed key; these hold resource names, ARNs "
    "and host names only, never a credential.",
)
{%- if saga.database_mode == "rds_proxy" %}
NETWORK_INTERFACES = checkov(
    "CKV_AWS_111",
    "The EC2 network-interface actions Lambda needs to place the function in its VPC accept no narrower "
    "resource than *, as in the AWS managed AWSLambdaVPCAccessExecutionRole.",
)
{%- endif %}
LOG_GROUP = checkov(
    "CKV_AWS_158",
    "CloudWatch Logs encrypts every log group at rest; these logs leave out execution data and payloads, and "
    "a customer-managed key would need a key policy admitting the CloudWatch Logs service.",
)
SQS_MANAGED_ENCRYPTION = checkov(
    "CKV_AWS_27",
    "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled: true), which checkov's CloudFormation "
    "check does not recognise: it looks for KmsMasterKeyId only.",
)
TABLE = checkov(
    "CKV_AWS_119",
    "Encrypted at rest with the AWS managed key for DynamoDB and reachable only by the roles granted on the "
    "table; a customer-managed key (1 USD a month plus requests) is a choice to make per deployment.",
)
SECRET = checkov(
    "CKV_AWS_149",
    "Encrypted with the AWS managed key for Secrets Manager and readable only by the roles granted on it; a "
    "customer-managed key is needed only to share it across accounts or to separate key administration.",
)
ALARM_TOPIC = checkov(
    "CKV_AWS_26",
    "The topic carries CloudWatch alarm state changes only, no application data; CloudWatch alarms cannot "
    "publish to a topic encrypted with the AWS managed key, so encryption would need a customer-managed key.",
)
DATABASE_INSTANCE = checkov(
    "CKV_AWS_118",
    "Aurora Serverless v2 publishes its capacity, CPU and connections to CloudWatch without Enhanced "
{%- if saga.database_mode == "data_api" %}
    "Monitoring; whether the monitoring agent lets an instance pause at 0 ACU is not documented, so it stays "
    "off. Set monitoring_interval in infra/aurora.py to collect OS metrics.",
{%- else %}
    "Monitoring, which would add an IAM role and an agent on the instance. Set monitoring_interval in "
    "infra/aurora.py to collect OS metrics.",
{%- endif %}
)
# The CDK's own functions: the trigger's provider, the one that removes the rules of each VPC's default
# security group, and the one that sets the retention of the log group RDS creates.
CDK_DEPLOYMENT_FUNCTION = (
    checkov("CKV_AWS_115", "A function of the CDK's own, run by CloudFormation during deployments only."),
    checkov("CKV_AWS_116", "A function of the CDK's own, invoked synchronously by CloudFormation."),
    checkov("CKV_AWS_117", "A function of the CDK's own, which calls AWS APIs only (Lambda, EC2, CloudWatch Logs)."),
)
LOG_RETENTION_POLICY = checkov(
    "CKV_AWS_111",
    "The CDK's log-retention function may set the retention of any log group: the CDK does not scope it to "
    "the one it manages, the cluster's.",
)
# The id under which the CDK creates its one log-retention function per stack.
LOG_RETENTION_FUNCTION_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"


def skip_checkov_findings(construct: IConstruct) -> None:
    if isinstance(construct, ServiceFunction):
        invocation = ON_FAILURE_DESTINATION if construct.invoked_asynchronously else SYNCHRONOUS
{%- if saga.database_mode == "rds_proxy" %}
        in_vpc = construct.network_policy is not None
        skip(construct.function, BOUNDED_CONCURRENCY, invocation, ENVIRONMENT, *(() if in_vpc else (NO_VPC,)))
        if construct.network_policy is not None:
            skip(construct.network_policy, NETWORK_INTERFACES)
{%- else %}
        skip(construct.function, BOUNDED_CONCURRENCY, invocation, ENVIRONMENT, NO_VPC)
{%- endif %}
    elif isinstance(construct, CustomResourceProviderBase):
        skip(construct.node.find_child("Handler"), *CDK_DEPLOYMENT_FUNCTION)
    elif is_log_retention_function(construct):
        skip(construct.node.find_child("Resource"), *CDK_DEPLOYMENT_FUNCTION)
        skip(construct.node.find_child("ServiceRole").node.find_child("DefaultPolicy"), LOG_RETENTION_POLICY)
    else:
        skips = next((skips for kind, skips in SKIPPED_BY_KIND if isinstance(construct, kind)), ())
        if skips:
            skip(construct, *skips)


SKIPPED_BY_KIND: tuple[tuple[type, tuple[dict[str, str], ...]], ...] = (
    (logs.LogGroup, (LOG_GROUP,)),
    (DeadLetterQueue, (SQS_MANAGED_ENCRYPTION,)),
    (dynamodb.Table, (TABLE,)),
    (secretsmanager.Secret, (SECRET,)),
    (sns.Topic, (ALARM_TOPIC,)),
    (rds.CfnDBInstance, (DATABASE_INSTANCE,)),
)


def is_log_retention_function(construct: IConstruct) -> bool:
    """The function the CDK adds to a stack to set the retention of log groups that services create."""
    return construct.node.id == LOG_RETENTION_FUNCTION_ID and construct.node.scope is Stack.of(construct)


def skip(construct: IConstruct, *skips: dict[str, str]) -> None:
    """Adds the skips to the ``checkov`` Metadata of the construct's CloudFormation resource."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to mark")
    resource.add_metadata("checkov", {"skip": [*(resource.get_metadata("checkov") or {}).get("skip", []), *skips]})
