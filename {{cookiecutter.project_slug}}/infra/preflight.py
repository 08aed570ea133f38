{%- set saga = cookiecutter | saga_model -%}
"""Read-only checks that the account and region can take this deployment: `make preflight`.

Run it with the credentials you deploy with. It prints one line per problem, with its fix, and
exits 1; otherwise it says so and exits 0. It checks what a deployment would otherwise find out
half-way: the Powertools layer's SSM parameter (AWS has let per-version parameters go missing), the
Aurora PostgreSQL version with the capacity {% if saga.database_mode == "data_api" %}and the Data API {% endif %}this project needs, {% if saga.database_mode == "rds_proxy" %}the VPC's
Availability Zones (RDS Proxy is not offered in all), {% endif %}and the CDK bootstrap.
It names the account's Lambda concurrency limit when it is below the stage's functions, and refuses a
deploy that would delete a function a running execution may still invoke (a step or a compensation
removed from ``saga.py``: deleting a function deletes its versions).
{%- if saga.database_mode == "data_api" %}
The Data API is an instance-class option, not an engine-version feature (``SupportedFeatureNames``
lists the IAM role features), hence ``SupportsHttpEndpoint`` of the orderable ``db.serverless``
instances.
{%- endif %}
"""

import sys
{%- if saga.workflow_type == "EXPRESS" %}
from datetime import UTC, datetime, timedelta
{%- endif %}
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra import config
from infra.application import STATE_MACHINE_ALIAS_OUTPUT, function_name_output
{%- if saga.database_mode == "rds_proxy" %}
from infra.aurora import AVAILABILITY_ZONES, ENGINE_VERSION
{%- else %}
from infra.aurora import ENGINE_VERSION
{%- endif %}
from infra.database_{{ saga.database_mode }} import MIN_CAPACITY
from {{ saga.package_name }} import saga
from {{ saga.package_name }}.naming import function_construct_id

ENGINE = "aurora-postgresql"
SERVICES = ("ssm", "rds", "cloudformation"{% if saga.database_mode == "rds_proxy" %}, "ec2"{% endif %})
BOOTSTRAP_STACK = "CDKToolkit"
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
# What the synthesized templates' CheckBootstrapVersion rule requires.
MIN_BOOTSTRAP_VERSION = 6
{%- if saga.database_mode == "rds_proxy" %}
# Zone ids, the same in every account, where RDS Proxy is not offered (Amazon RDS Proxy for Aurora, limitations).
PROXY_UNSUPPORTED_ZONE_IDS = {"use1-az3"}
{%- endif %}
# Service Quotas' code of Lambda's concurrent executions, the limit the account's functions share.
CONCURRENCY_QUOTA = "L-B99A9384"
# Running executions named in a refusal, at most.
SHOWN_EXECUTIONS = 5
{%- if saga.workflow_type == "EXPRESS" %}
# An Express execution is stopped at five minutes: one started earlier can invoke nothing any more.
EXPRESS_DURATION = timedelta(minutes=5)
{%- endif %}


def problems(ssm: Any, rds: Any, cloudformation: Any{% if saga.database_mode == "rds_proxy" %}, ec2: Any{% endif %}) -> list[str]:
    """One line per problem, each saying how to fix it."""
    region = config.REGION
    found = []
    if parameter(ssm, config.POWERTOOLS_LAYER_PARAMETER) is None:
        latest = config.POWERTOOLS_LAYER_PARAMETER.rsplit("/", 1)[0] + "/latest"
        found.append(
            f"the Powertools layer parameter {config.POWERTOOLS_LAYER_PARAMETER} does not exist in {region}: "
            f"read {latest} or give the layer's ARN in infra/service_function.py"
        )
    versions = rds.describe_db_engine_versions(Engine=ENGINE, EngineVersion=ENGINE_VERSION)["DBEngineVersions"]
    if not versions:
        found.append(
            f"Aurora PostgreSQL {ENGINE_VERSION} is not offered in {region}: choose an offered version in "
            f"infra/aurora.py (aws rds describe-db-engine-versions --engine {ENGINE} --region {region})"
        )
    else:
        lowest = versions[0].get("ServerlessV2FeaturesSupport", {}).get("MinCapacity")
        if lowest is None or lowest > MIN_CAPACITY:
            found.append(
                f"Aurora Serverless v2 PostgreSQL {ENGINE_VERSION} in {region} scales down to {lowest} ACU, and "
                f"this project needs {MIN_CAPACITY}: choose a version that does in infra/aurora.py"
            )
{%- if saga.database_mode == "data_api" %}
        if not any(
            option.get("SupportsHttpEndpoint")
            for option in rds.describe_orderable_db_instance_options(
                Engine=ENGINE, EngineVersion=ENGINE_VERSION, DBInstanceClass="db.serverless"
            )["OrderableDBInstanceOptions"]
        ):
            found.append(
                f"the Data API is not available for Aurora Serverless v2 PostgreSQL {ENGINE_VERSION} in {region}: "
                "choose a version that has it in infra/aurora.py, or generate the project in the rds_proxy mode"
            )
{%- endif %}
{%- if saga.database_mode == "rds_proxy" %}
    for name, zone_id in vpc_zones(ec2):
        if zone_id in PROXY_UNSUPPORTED_ZONE_IDS:
            found.append(
                f"the VPC would take {name} ({zone_id}), where RDS Proxy is not offered: replace max_azs in "
                f"infra/aurora.py by availability_zones=[...] naming {AVAILABILITY_ZONES} other zones of {region}"
            )
{%- endif %}
    bootstrap = f"npx cdk bootstrap aws://ACCOUNT_ID/{region}"
    if not stack_exists(cloudformation, BOOTSTRAP_STACK):
        found.append(f"the account is not CDK-bootstrapped in {region} (no {BOOTSTRAP_STACK} stack): {bootstrap}")
    else:
        version = parameter(ssm, BOOTSTRAP_VERSION_PARAMETER)
        if version is None or int(version) < MIN_BOOTSTRAP_VERSION:
            found.append(
                f"the CDK bootstrap in {region} is older than version {MIN_BOOTSTRAP_VERSION} (found {version}): "
                f"{bootstrap}"
            )
    return found


def saga_function_count() -> int:
    """The stage's functions: each step's and compensation's, each consumer's, the starter and the migrations.

    None has a reserved concurrency or an event source that caps it, so all draw on the account's
    unreserved concurrency; once sagas overlap, every one of them can be running at the same moment.
    """
    return sum(len(step.functions) for step in saga.STEPS) + len(saga.CONSUMERS) + 2


def concurrency_problem(lambda_client: Any) -> str | None:
    limit = lambda_client.get_account_settings()["AccountLimit"]
    needed = saga_function_count()
    if limit["UnreservedConcurrentExecutions"] >= needed:
        return None
    return (
        f"the account's Lambda concurrency limit in {config.REGION} is {limit['ConcurrentExecutions']}, "
        f"{limit['UnreservedConcurrentExecutions']} of it unreserved, below the {needed} functions of the stage, "
        "which would throttle one another: aws service-quotas request-service-quota-increase --service-code lambda "
        f"--quota-code {CONCURRENCY_QUOTA} --desired-value 1000"
    )


def stack_outputs(cloudformation: Any, name: str) -> dict[str, str]:
    """The outputs of a deployed stack; none for a stack not deployed yet."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ValidationError":
            raise
        return {}
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def deleted_functions(definition: str, outputs: dict[str, str]) -> list[str]:
    """The deployed functions ``definition`` invokes that this project's saga no longer has."""
    kept = {
        function_name_output(function_construct_id(title)) for step in saga.STEPS for title in step.functions.values()
    }
    return sorted(name for key, name in outputs.items() if key not in kept and f":function:{name}:" in definition)


{%- if saga.workflow_type == "STANDARD" %}


def deletion_problems(cloudformation: Any, stepfunctions: Any, stage: str) -> list[str]:
    """A function this deploy deletes while running executions, each of which keeps its definition, may invoke it."""
    outputs = stack_outputs(cloudformation, f"{config.stage_prefix(stage)}-application")
    if STATE_MACHINE_ALIAS_OUTPUT not in outputs:
        return []
    machine = outputs[STATE_MACHINE_ALIAS_OUTPUT].rsplit(":", 1)[0]
    callers: dict[str, list[str]] = {}
    pages = stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="RUNNING")
    for execution in (execution for page in pages for execution in page["executions"]):
        arn = execution["executionArn"]
        definition = stepfunctions.describe_state_machine_for_execution(executionArn=arn)["definition"]
        for name in deleted_functions(definition, outputs):
            callers.setdefault(name, []).append(execution["name"])
    found = []
    for name, executions in callers.items():
        shown = ", ".join(executions[:SHOWN_EXECUTIONS]) + (", ..." if len(executions) > SHOWN_EXECUTIONS else "")
        found.append(
            f"the deploy would delete the function {name}, which {len(executions)} running execution(s) of {stage} "
            f"may still invoke ({shown}): deploy once they have ended (aws stepfunctions list-executions "
            f"--state-machine-arn {machine} --status-filter RUNNING)"
        )
    return found
{%- else %}


def deletion_problems(cloudformation: Any, stepfunctions: Any, cloudwatch: Any, stage: str) -> list[str]:
    """A function this deploy deletes while executions started in the last five minutes may invoke it.

    Express executions cannot be listed: CloudWatch's count of those started is what tells.
    """
    outputs = stack_outputs(cloudformation, f"{config.stage_prefix(stage)}-application")
    if STATE_MACHINE_ALIAS_OUTPUT not in outputs:
        return []
    machine = outputs[STATE_MACHINE_ALIAS_OUTPUT].rsplit(":", 1)[0]
    deleted = deleted_functions(stepfunctions.describe_state_machine(stateMachineArn=machine)["definition"], outputs)
    if not deleted:
        return []
    now = datetime.now(UTC)
    started = cloudwatch.get_metric_statistics(
        Namespace="AWS/States",
        MetricName="ExecutionsStarted",
        Dimensions=[{"Name": "StateMachineArn", "Value": machine}],
        StartTime=now - EXPRESS_DURATION,
        EndTime=now,
        Period=60,
        Statistics=["Sum"],
    )
    running = sum(point["Sum"] for point in started["Datapoints"])
    return [
        f"the deploy would delete the function {name}, which {running:.0f} execution(s) of {stage} started in the last "
        f"{EXPRESS_DURATION.seconds // 60} minutes may still invoke: stop requesting sagas and deploy "
        f"{EXPRESS_DURATION.seconds // 60} minutes after the last one started"
        for name in deleted
        if running
    ]
{%- endif %}


{% if saga.database_mode == "rds_proxy" -%}
def vpc_zones(ec2: Any) -> list[tuple[str, str]]:
    """(name, id) of the zones the VPC takes: the first in alphabetical order, as Fn::GetAZs lists them, of the
    zones with a default subnet, or of all zones when none has one."""
    described = ec2.describe_availability_zones(Filters=[{"Name": "zone-type", "Values": ["availability-zone"]}])
    available = [zone for zone in described["AvailabilityZones"] if zone["State"] == "available"]
    zones = {zone["ZoneName"]: zone["ZoneId"] for zone in available}
    defaults = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    names = sorted(set(zones) & {subnet["AvailabilityZone"] for subnet in defaults} or zones)
    return [(name, zones[name]) for name in names[:AVAILABILITY_ZONES]]


{% endif -%}
def parameter(ssm: Any, name: str) -> str | None:
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise
        return None


def stack_exists(cloudformation: Any, name: str) -> bool:
    try:
        cloudformation.describe_stacks(StackName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ValidationError":
            raise
        return False
    return True


def main(argv: list[str]) -> int:
    """``python -m infra.preflight [STAGE]``: the checks before a deploy of STAGE (dev by default)."""
    stage = argv[0] if argv else config.DEFAULT_STAGE
    if len(argv) > 1 or len(stage) > config.MAX_STAGE_LENGTH or not config.STAGE.fullmatch(stage):
        print(f"{' '.join(argv)!r} is not a stage: python -m infra.preflight [STAGE]")
        return 2
    session = boto3.Session(region_name=config.REGION)
    try:
        ssm, rds, cloudformation = (session.client(name) for name in ("ssm", "rds", "cloudformation"))
{%- if saga.database_mode == "rds_proxy" %}
        found = problems(ssm, rds, cloudformation, session.client("ec2"))
{%- else %}
        found = problems(ssm, rds, cloudformation)
{%- endif %}
        found += [line for line in [concurrency_problem(session.client("lambda"))] if line]
{%- if saga.workflow_type == "STANDARD" %}
        found += deletion_problems(cloudformation, session.client("stepfunctions"), stage)
{%- else %}
        found += deletion_problems(cloudformation, session.client("stepfunctions"), session.client("cloudwatch"), stage)
{%- endif %}
    except (BotoCoreError, ClientError) as error:
        found = [f"the checks could not run: {error} (use the credentials you deploy with)"]
    print("\n".join(found) or f"ready to deploy {stage} to {config.REGION}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
