"""Aurora Serverless v2 PostgreSQL through the Data API: HTTP calls, no connections, no VPC for the functions."""

from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import parameters
from infra.aurora import DATABASE_NAME, aurora_postgres, isolated_vpc

# Paused after 5 idle minutes: no compute is billed until the next request resumes it.
MIN_CAPACITY = 0
CLUSTER = "database-cluster-identifier"
CREDENTIALS = "database-secret-arn"


class Database(Construct):
    """The cluster scales to 0 ACU when idle; only the Data API reaches it, with the secret's credentials."""

    def __init__(self, scope: Construct, construct_id: str, *, published: parameters.Published) -> None:
        super().__init__(scope, construct_id)
        # The cluster still lives in a VPC; nothing in it can reach or be reached from the internet.
        self.vpc = isolated_vpc(self)
        self.cluster, self.secret = aurora_postgres(self, vpc=self.vpc, min_capacity=MIN_CAPACITY, enable_data_api=True)
        published.publish(CLUSTER, self.cluster.cluster_identifier)
        published.publish(CREDENTIALS, self.secret.secret_arn)


class DatabaseAccess(Construct):
    """What the functions need of the database: its environment variables and the Data API grant."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        secret = secretsmanager.Secret.from_secret_complete_arn(
            self, "Secret", parameters.read(self, stage, CREDENTIALS)
        )
        self.cluster = rds.DatabaseCluster.from_database_cluster_attributes(
            self,
            "Cluster",
            cluster_identifier=parameters.read(self, stage, CLUSTER),
            data_api_enabled=True,
            secret=secret,
        )
        self.environment = {
            "DATABASE_CLUSTER_ARN": self.cluster.cluster_arn,
            "DATABASE_SECRET_ARN": secret.secret_arn,
            "DATABASE_NAME": DATABASE_NAME,
        }

    def grant_access(self, grantee: iam.IGrantable) -> None:
        """Data API calls on this cluster, and reading the one secret they authenticate with."""
        self.cluster.grant_data_api_access(grantee)
