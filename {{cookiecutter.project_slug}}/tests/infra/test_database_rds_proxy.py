"""RDS Proxy mode: IAM-authenticated TLS connections from functions in isolated subnets."""

from tests.infra.conftest import Synthesized
from tests.infra.test_application import project_functions, resources


def test_the_proxy_requires_tls_and_iam(synthesized: Synthesized) -> None:
    (proxy,) = resources(synthesized.json(synthesized.stateful), "AWS::RDS::DBProxy").values()
    properties = proxy["Properties"]
    assert properties["RequireTLS"] is True
    assert [auth["IAMAuth"] for auth in properties["Auth"]] == ["REQUIRED"]
    assert properties["EngineFamily"] == "POSTGRESQL"


def test_database_functions_run_in_the_vpc_and_connect_with_iam(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    database_functions = [
        function
        for function in project_functions(template).values()
        if "DATABASE_HOST" in function["Properties"]["Environment"]["Variables"]
    ]
    assert database_functions
    for function in database_functions:
        assert function["Properties"]["VpcConfig"]["SubnetIds"]
    actions = {
        action
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }
    assert "rds-db:connect" in actions


def test_the_vpc_reaches_aws_through_endpoints_only(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.stateful)
    services = [
        endpoint["Properties"]["ServiceName"] for endpoint in resources(template, "AWS::EC2::VPCEndpoint").values()
    ]
    assert len(services) == 2
    assert not resources(template, "AWS::EC2::NatGateway")
