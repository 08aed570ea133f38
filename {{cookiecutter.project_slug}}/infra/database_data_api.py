"""Aurora Serverless v2 PostgreSQL through the Data API: HTTP calls, no connections, no VPC for the functions."""

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.service_function import FunctionNetwork

DATABASE_NAME = "saga"
ADMIN_USER = "saga_admin"


class Database(Construct):
    """The cluster scales to 0 ACU when idle; only the Data API reaches it, with the secret's credentials."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # The cluster still lives in a VPC; nothing in it can reach or be reached from the internet.
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
        )
        self.vpc.add_flow_log("FlowLog")
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_7),
            writer=rds.ClusterInstance.serverless_v2("Writer"),
            serverless_v2_min_capacity=0,
            serverless_v2_max_capacity=4,
            enable_data_api=True,
            credentials=rds.Credentials.from_generated_secret(ADMIN_USER),
            default_database_name=DATABASE_NAME,
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            storage_encrypted=True,
            iam_authentication=True,
            deletion_protection=True,
            backup=rds.BackupProps(retention=Duration.days(7)),
            cloudwatch_logs_exports=["postgresql"],
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        if self.cluster.secret is None:
            raise RuntimeError("the cluster's credentials must be generated into Secrets Manager")
        self.secret = self.cluster.secret
        self.network: FunctionNetwork | None = None
        self.environment = {
            "DATABASE_CLUSTER_ARN": self.cluster.cluster_arn,
            "DATABASE_SECRET_ARN": self.secret.secret_arn,
            "DATABASE_NAME": DATABASE_NAME,
        }

    def grant_access(self, grantee: iam.IGrantable) -> None:
        """Data API calls on this cluster, and reading the one secret they authenticate with."""
        self.cluster.grant_data_api_access(grantee)
