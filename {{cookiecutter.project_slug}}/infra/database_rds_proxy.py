{%- set saga = cookiecutter | saga_model -%}
"""Aurora PostgreSQL behind RDS Proxy: functions in isolated subnets open IAM-authenticated TLS connections."""

from aws_cdk import Annotations, ArnFormat, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra import config, parameters
from infra.aurora import ADMIN_USER, DATABASE_NAME, ISOLATED, PORT, aurora_postgres, isolated_vpc
from infra.service_function import IDEMPOTENCY_ACTIONS, FunctionNetwork
from {{ saga.package_name }}.naming import MIGRATOR_ROLE, step_role

# Not 0 ACU: the proxy holds connections open, so the cluster would never pause anyway.
MIN_CAPACITY = 0.5
PROXY = "database-proxy-arn"
PROXY_ENDPOINT = "database-proxy-endpoint"
SUBNETS = "isolated-subnet-ids"
FUNCTION_SECURITY_GROUP = "function-security-group-id"


class Database(Construct):
    """The proxy multiplexes every function's connection onto a small pool of database connections."""

    def __init__(self, scope: Construct, construct_id: str, *, published: parameters.Published) -> None:
        super().__init__(scope, construct_id)
        # No internet gateway and no NAT: the functions reach AWS services through VPC endpoints only.
        self.vpc = isolated_vpc(self)
        # The idempotency table (DynamoDB) and X-Ray traces are what the functions call besides the database.
        # Each endpoint admits only those calls, on this account's resources, so that nothing in the VPC can
        # reach another account's table through it.
        dynamodb = self.vpc.add_gateway_endpoint("DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
        dynamodb.add_to_policy(
            iam.PolicyStatement(
                principals=[iam.AnyPrincipal()],
                actions=IDEMPOTENCY_ACTIONS,
                resources=[Stack.of(self).format_arn(service="dynamodb", resource="table", resource_name="*")],
            )
        )
        xray = self.vpc.add_interface_endpoint(
            "XRay", service=ec2.InterfaceVpcEndpointAwsService.XRAY, subnets=ISOLATED
        )
        xray.add_to_policy(
            iam.PolicyStatement(
                principals=[iam.AnyPrincipal()],
                actions=[
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                ],
                resources=["*"],
                conditions={"StringEquals": {"aws:PrincipalAccount": Stack.of(self).account}},
            )
        )

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

        self.cluster, self.secret = aurora_postgres(
            self, vpc=self.vpc, min_capacity=MIN_CAPACITY, security_groups=[cluster_security_group]
        )
        # End-to-end IAM: the proxy logs in to the cluster as the migrator or a step's role with IAM too, so a step
        # added later needs nothing here. Only the admin, for the migrations' bootstrap, logs in with its secret.
        proxy_role = iam.Role(self, "ProxyRole", assumed_by=iam.ServicePrincipal("rds.amazonaws.com"))
        proxy_role.add_to_policy(
            iam.PolicyStatement(
                actions=["rds-db:connect"],
                resources=[
                    Stack.of(self).format_arn(
                        service="rds-db",
                        resource="dbuser",
                        resource_name=f"{self.cluster.cluster_resource_identifier}/{user}",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for user in (MIGRATOR_ROLE, step_role("*"))
                ],
            )
        )
        self.proxy = self.cluster.add_proxy(
            "Proxy",
            # Proxy names are unique in an account and region: the stage's own.
            db_proxy_name=config.stage_prefix(published.stage),
            secrets=[self.secret],
            role=proxy_role,
            default_auth_scheme=rds.DefaultAuthScheme.IAM_AUTH,
            vpc=self.vpc,
            vpc_subnets=ISOLATED,
            security_groups=[proxy_security_group],
            iam_auth=True,
            require_tls=True,
            debug_logging=False,
        )
        for key, value in (
            (PROXY, self.proxy.db_proxy_arn),
            (PROXY_ENDPOINT, self.proxy.endpoint),
            (SUBNETS, Fn.join(",", [subnet.subnet_id for subnet in self.vpc.isolated_subnets])),
            (FUNCTION_SECURITY_GROUP, self.function_security_group.security_group_id),
        ):
            published.publish(key, value)


class DatabaseAccess(Construct):
    """What the functions need of the database: the VPC to run in, the proxy's address and each one's own user."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)

        def read(key: str) -> str:
            return parameters.read(self, stage, key)

        # One isolated subnet per Availability Zone of the stack, as isolated_vpc creates them. The functions
        # need only the subnets and the security group, so the VPC's id is a stand-in: reading the real one
        # would leave an SSM parameter nothing refers to. Publish and read it before adding a resource here
        # that refers to the VPC itself (a security group, an endpoint).
        availability_zones = Stack.of(self).availability_zones
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id="vpc-of-the-stateful-stack",
            availability_zones=availability_zones,
            isolated_subnet_ids=Fn.split(",", read(SUBNETS), assumed_length=len(availability_zones)),
        )
        for subnet in vpc.isolated_subnets:
            Annotations.of(subnet).acknowledge_warning(
                "@aws-cdk/aws-ec2:noSubnetRouteTableId", "The functions are placed by subnet id; no route is read."
            )
        security_group = ec2.SecurityGroup.from_security_group_id(
            self, "FunctionSecurityGroup", read(FUNCTION_SECURITY_GROUP), mutable=False
        )
        self.proxy = rds.DatabaseProxy.from_database_proxy_attributes(
            self,
            "Proxy",
            db_proxy_arn=read(PROXY),
            db_proxy_name=config.stage_prefix(stage),
            endpoint=read(PROXY_ENDPOINT),
            security_groups=[security_group],
        )
        self.network = FunctionNetwork(vpc=vpc, subnets=ISOLATED, security_groups=[security_group])

    def environment(self, role: str) -> dict[str, str]:
        """The proxy, and the user ``role`` logs in as; the migrator's also names the admin, for its bootstrap."""
        environment = {
            "DATABASE_HOST": self.proxy.endpoint,
            "DATABASE_PORT": str(PORT),
            "DATABASE_NAME": DATABASE_NAME,
            "DATABASE_USER": role,
        }
        if role == MIGRATOR_ROLE:
            environment["DATABASE_ADMIN_USER"] = ADMIN_USER
        return environment

    def grant_access(self, grantee: iam.IGrantable, role: str) -> None:
        """``rds-db:connect`` through the proxy with an IAM token, as ``role`` only (the migrator also as the admin)."""
        for user in (role, ADMIN_USER) if role == MIGRATOR_ROLE else (role,):
            self.proxy.grant_connect(grantee, user)
