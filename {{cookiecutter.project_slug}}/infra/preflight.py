{%- set saga = cookiecutter | saga_model -%}
"""Read-only checks that the account and region can take this deployment: `make preflight`.

Run it with the credentials you deploy with. It prints one line per problem, with its fix, and
exits 1; otherwise it says so and exits 0. It checks what a deployment would otherwise find out
half-way: the Powertools layer's SSM parameter (AWS has let per-version parameters go missing), the
Aurora PostgreSQL version with the capacity {% if saga.database_mode == "data_api" %}and the Data API {% endif %}this project needs, {% if saga.database_mode == "rds_proxy" %}the VPC's
Availability Zones (RDS Proxy is not offered in all), {% endif %}and the CDK bootstrap.
{%- if saga.database_mode == "data_api" %}
The Data API is an instance-class option, not an engine-version feature (``SupportedFeatureNames``
lists the IAM role features), hence ``SupportsHttpEndpoint`` of the orderable ``db.serverless``
instances.
{%- endif %}
"""

import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra import config
{%- if saga.database_mode == "rds_proxy" %}
from infra.aurora import AVAILABILITY_ZONES, ENGINE_VERSION
{%- else %}
from infra.aurora import ENGINE_VERSION
{%- endif %}
from infra.database_{{ saga.database_mode }} import MIN_CAPACITY

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


def main() -> int:
    session = boto3.Session(region_name=config.REGION)
    try:
        clients = [session.client("ssm"), session.client("rds"), session.client("cloudformation")]
{%- if saga.database_mode == "rds_proxy" %}
        clients.append(session.client("ec2"))
{%- endif %}
        found = problems(*clients)
    except (BotoCoreError, ClientError) as error:
        found = [f"the checks could not run: {error} (use the credentials you deploy with)"]
    print("\n".join(found) or f"ready to deploy to {config.REGION}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
