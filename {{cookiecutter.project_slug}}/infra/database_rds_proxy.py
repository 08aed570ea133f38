"""Aurora PostgreSQL behind RDS Proxy: functions in isolated subnets open IAM-authenticated TLS connections."""

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.service_function import FunctionNetwork

DATABASE_NAME = "saga"
ADMIN_USER = "saga_admin"
PORT = 5432


class Database(Construct):
    """The proxy multiplexes every function's connection onto a small pool of database connections."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        # No internet gateway and no NAT: the functions reach AWS services through VPC endpoints only.
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
        )
        self.vpc.add_flow_log("FlowLog")
        # The idempotency table (DynamoDB) and X-Ray traces are what the functions call besides the database.
        self.vpc.add_gateway_endpoint("DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
        self.vpc.add_interface_endpoint("XRay", service=ec2.InterfaceVpcEndpointAwsService.XRAY, subnets=isolated)

        self.function_security_group = ec2.SecurityGroup(
            self, "FunctionSecurityGroup", vpc=self.vpc, description="Saga functions", allow_all_outbound=False
        )
        proxy_security_group = ec2.SecurityGroup(
            self, "ProxySecurityGroup", vpc=self.vpc, description="RDS Proxy", allow_all_outbound=False
        )
        cluster_security_group = ec2.SecurityGroup(
            self, "ClusterSecurityGroup", vpc=self.vpc, description="Aurora cluster", allow_all_outbound=False
        )
        self.function_security_group.add_egress_rule(proxy_security_group, ec2.Port.tcp(PORT), "Functions to the proxy")
        # HTTPS to AWS APIs; with no route to the internet this only reaches the VPC endpoints.
        self.function_security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs")
        proxy_security_group.add_ingress_rule(self.function_security_group, ec2.Port.tcp(PORT), "From the functions")
        proxy_security_group.add_egress_rule(cluster_security_group, ec2.Port.tcp(PORT), "Proxy to the cluster")
        cluster_security_group.add_ingress_rule(proxy_security_group, ec2.Port.tcp(PORT), "From the proxy")

        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_7),
            writer=rds.ClusterInstance.serverless_v2("Writer"),
            serverless_v2_min_capacity=0.5,
            serverless_v2_max_capacity=4,
            credentials=rds.Credentials.from_generated_secret(ADMIN_USER),
            default_database_name=DATABASE_NAME,
            port=PORT,
            vpc=self.vpc,
            vpc_subnets=isolated,
            security_groups=[cluster_security_group],
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
        self.proxy = self.cluster.add_proxy(
            "Proxy",
            secrets=[self.secret],
            vpc=self.vpc,
            vpc_subnets=isolated,
            security_groups=[proxy_security_group],
            iam_auth=True,
            require_tls=True,
            debug_logging=False,
        )
        self.network: FunctionNetwork | None = FunctionNetwork(
            vpc=self.vpc, subnets=isolated, security_groups=[self.function_security_group]
        )
        self.environment = {
            "DATABASE_HOST": self.proxy.endpoint,
            "DATABASE_PORT": str(PORT),
            "DATABASE_NAME": DATABASE_NAME,
            "DATABASE_USER": ADMIN_USER,
        }

    def grant_access(self, grantee: iam.IGrantable) -> None:
        """``rds-db:connect`` through the proxy as the database user, with an IAM token."""
        self.proxy.grant_connect(grantee, ADMIN_USER)
