"""RDS Proxy mode: IAM-authenticated TLS connections from functions in isolated subnets."""

import json

from infra.service_function import IDEMPOTENCY_ACTIONS
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


def test_the_endpoints_admit_only_the_functions_calls_on_this_accounts_resources(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.stateful)
    statements = {
        json.dumps(endpoint["Properties"]["ServiceName"]): endpoint["Properties"]["PolicyDocument"]["Statement"]
        for endpoint in resources(template, "AWS::EC2::VPCEndpoint").values()
    }
    (dynamodb,) = [found for service, found in statements.items() if "dynamodb" in service]
    (xray,) = [found for service, found in statements.items() if "xray" in service]
    assert [(s["Effect"], sorted(s["Action"])) for s in dynamodb] == [("Allow", sorted(IDEMPOTENCY_ACTIONS))]
    assert ":table/*" in json.dumps(dynamodb[0]["Resource"])
    assert '{"Ref": "AWS::AccountId"}' in json.dumps(dynamodb[0]["Resource"])
    assert [(s["Effect"], s["Resource"]) for s in xray] == [("Allow", "*")]
    assert all(action.startswith("xray:") for action in xray[0]["Action"])
    assert xray[0]["Condition"] == {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}
