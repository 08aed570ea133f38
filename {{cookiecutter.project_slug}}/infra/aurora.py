"""What both database modes share: an isolated VPC and an encrypted Aurora PostgreSQL cluster."""

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

DATABASE_NAME = "saga"
ADMIN_USER = "saga_admin"
PORT = 5432
ENGINE = rds.AuroraPostgresEngineVersion.VER_17_7
ENGINE_VERSION = ENGINE.aurora_postgres_full_version
ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
# The first ones Fn::GetAZs lists, in an account and region the stack does not know at synthesis.
AVAILABILITY_ZONES = 2


def isolated_vpc(scope: Construct) -> ec2.Vpc:
    """Two Availability Zones of private subnets, no internet gateway, no NAT, flow logs on."""
    vpc = ec2.Vpc(
        scope,
        "Vpc",
        max_azs=AVAILABILITY_ZONES,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
        ],
    )
    vpc.add_flow_log("FlowLog")
    return vpc


def aurora_postgres(
    scope: Construct,
    *,
    vpc: ec2.IVpc,
    min_capacity: float,
    enable_data_api: bool = False,
    security_groups: list[ec2.ISecurityGroup] | None = None,
) -> tuple[rds.DatabaseCluster, secretsmanager.ISecret]:
    """An Aurora Serverless v2 PostgreSQL cluster whose admin credentials live in Secrets Manager only."""
    cluster = rds.DatabaseCluster(
        scope,
        "Cluster",
        engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE),
        writer=rds.ClusterInstance.serverless_v2("Writer"),
        serverless_v2_min_capacity=min_capacity,
        serverless_v2_max_capacity=4,
        enable_data_api=enable_data_api,
        credentials=rds.Credentials.from_generated_secret(ADMIN_USER),
        default_database_name=DATABASE_NAME,
        port=PORT,
        vpc=vpc,
        vpc_subnets=ISOLATED,
        security_groups=security_groups,
        storage_encrypted=True,
        iam_authentication=True,
        deletion_protection=True,
        backup=rds.BackupProps(retention=Duration.days(7)),
        cloudwatch_logs_exports=["postgresql"],
        # RDS creates the log group itself, with no expiry; the CDK sets its retention at deployment.
        cloudwatch_logs_retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.SNAPSHOT,
    )
    if cluster.secret is None:
        raise RuntimeError("the cluster's credentials must be generated into Secrets Manager")
    return cluster, cluster.secret
