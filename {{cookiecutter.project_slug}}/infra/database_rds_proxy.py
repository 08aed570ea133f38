"""Aurora PostgreSQL behind RDS Proxy: functions in isolated subnets open IAM-authenticated TLS connections."""

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.aurora import ADMIN_USER, DATABASE_NAME, ISOLATED, PORT, aurora_postgres, isolated_vpc
from infra.service_function import FunctionNetwork


class Database(Construct):
    """The proxy multiplexes every function's connection onto a small pool of database connections."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # No internet gateway and no NAT: the functions reach AWS services through VPC endpoints only.
        self.vpc = isolated_vpc(self)
        # The idempotency table (DynamoDB) and X-Ray traces are what the functions call besides the database.
        self.vpc.add_gateway_endpoint("DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
        self.vpc.add_interface_endpoint("XRay", service=ec2.InterfaceVpcEndpointAwsService.XRAY, subnets=ISOLATED)

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

        # Not 0 ACU: the proxy holds connections open, so the cluster would never pause anyway.
        self.cluster, self.secret = aurora_postgres(
            self, vpc=self.vpc, min_capacity=0.5, security_groups=[cluster_security_group]
        )
        self.proxy = self.cluster.add_proxy(
            "Proxy",
            secrets=[self.secret],
            vpc=self.vpc,
            vpc_subnets=ISOLATED,
            security_groups=[proxy_security_group],
            iam_auth=True,
            require_tls=True,
            debug_logging=False,
        )
        self.network: FunctionNetwork | None = FunctionNetwork(
            vpc=self.vpc, subnets=ISOLATED, security_groups=[self.function_security_group]
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
