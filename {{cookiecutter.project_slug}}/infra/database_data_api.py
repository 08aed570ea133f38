{%- set saga = cookiecutter | saga_model -%}
"""Aurora Serverless v2 PostgreSQL through the Data API: HTTP calls, no connections, no VPC for the functions."""

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import parameters
from infra.aurora import DATABASE_NAME, aurora_postgres, isolated_vpc
from {{ saga.package_name }} import saga
from {{ saga.package_name }}.naming import MIGRATOR_ROLE, pascal, step_role

# Paused after 5 idle minutes: no compute is billed until the next request resumes it.
MIN_CAPACITY = 0
CLUSTER = "database-cluster-identifier"
CREDENTIALS = "database-secret-arn"


class Database(Construct):
    """The cluster scales to 0 ACU when idle; only the Data API reaches it, with a secret's credentials."""

    def __init__(self, scope: Construct, construct_id: str, *, published: parameters.Published) -> None:
        super().__init__(scope, construct_id)
        # The cluster still lives in a VPC; nothing in it can reach or be reached from the internet.
        self.vpc = isolated_vpc(self)
        self.cluster, self.secret = aurora_postgres(self, vpc=self.vpc, min_capacity=MIN_CAPACITY, enable_data_api=True)
        published.publish(CLUSTER, self.cluster.cluster_identifier)
        published.publish(CREDENTIALS, self.secret.secret_arn)


class DatabaseAccess(Construct):
    """What the functions need of the database: where it is, the Data API grant and each one's own secret."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.cluster = rds.DatabaseCluster.from_database_cluster_attributes(
            self, "Cluster", cluster_identifier=parameters.read(self, stage, CLUSTER), data_api_enabled=True
        )
        self.admin_secret = secretsmanager.Secret.from_secret_complete_arn(
            self, "Secret", parameters.read(self, stage, CREDENTIALS)
        )
        # The logins of the migrator and of each step live here, not in the stateful stack: a step's comes and goes
        # with it, and each deployment sets every role's password from its secret, so a secret created again loses
        # nothing.
        self.secrets: dict[str, secretsmanager.ISecret] = {
            role: rds.DatabaseSecret(self, f"{pascal(role)}Secret", username=role)
            for role in (MIGRATOR_ROLE, *(step_role(step.name) for step in saga.STEPS))
        }

    def environment(self, role: str) -> dict[str, str]:
        """The cluster and the secret ``role`` logs in with; the migrator's also names the admin's secret, for
        its bootstrap, and every step's, whose passwords it gives their roles."""
        environment = {
            "DATABASE_CLUSTER_ARN": self.cluster.cluster_arn,
            "DATABASE_SECRET_ARN": self.secrets[role].secret_arn,
            "DATABASE_NAME": DATABASE_NAME,
        }
        if role == MIGRATOR_ROLE:
            steps = {step.name: self.secrets[step_role(step.name)].secret_arn for step in saga.STEPS}
            environment["DATABASE_ADMIN_SECRET_ARN"] = self.admin_secret.secret_arn
            environment["DATABASE_STEP_SECRET_ARNS"] = Stack.of(self).to_json_string(steps)
        return environment

    def grant_access(self, grantee: iam.IGrantable, role: str) -> None:
        """Data API calls on this cluster, and reading the secrets ``role`` logs in with: its own only, but
        for the migrator, which reads them all."""
        self.cluster.grant_data_api_access(grantee)
        readable = [self.admin_secret, *self.secrets.values()] if role == MIGRATOR_ROLE else [self.secrets[role]]
        for secret in readable:
            secret.grant_read(grantee)
