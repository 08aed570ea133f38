"""Aurora Serverless v2 PostgreSQL through the Data API: HTTP calls, no connections, no VPC for the functions."""

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.aurora import DATABASE_NAME, aurora_postgres, isolated_vpc
from infra.service_function import FunctionNetwork


class Database(Construct):
    """The cluster scales to 0 ACU when idle; only the Data API reaches it, with the secret's credentials."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # The cluster still lives in a VPC; nothing in it can reach or be reached from the internet.
        self.vpc = isolated_vpc(self)
        self.cluster, self.secret = aurora_postgres(self, vpc=self.vpc, min_capacity=0, enable_data_api=True)
        self.network: FunctionNetwork | None = None
        self.environment = {
            "DATABASE_CLUSTER_ARN": self.cluster.cluster_arn,
            "DATABASE_SECRET_ARN": self.secret.secret_arn,
            "DATABASE_NAME": DATABASE_NAME,
        }

    def grant_access(self, grantee: iam.IGrantable) -> None:
        """Data API calls on this cluster, and reading the one secret they authenticate with."""
        self.cluster.grant_data_api_access(grantee)
