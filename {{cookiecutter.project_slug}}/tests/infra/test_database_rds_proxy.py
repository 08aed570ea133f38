"""RDS Proxy mode: IAM-authenticated TLS connections from functions in isolated subnets."""

import json

from infra.aurora import ADMIN_USER
from infra.service_function import IDEMPOTENCY_ACTIONS
from tests.infra.conftest import Synthesized, granted
from tests.infra.test_application import project_functions, resources
from {{ cookiecutter.package_name }}.naming import MIGRATOR_ROLE, step_role
from {{ cookiecutter.package_name }}.saga import STEPS


def test_the_proxy_requires_tls_and_iam_end_to_end_but_for_the_admin(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.stateful)
    (proxy,) = resources(template, "AWS::RDS::DBProxy").values()
    properties = proxy["Properties"]
    assert properties["RequireTLS"] is True
    assert properties["DefaultAuthScheme"] == "IAM_AUTH"
    assert [auth["IAMAuth"] for auth in properties["Auth"]] == ["REQUIRED"]  # the admin's secret
    assert properties["EngineFamily"] == "POSTGRESQL"
    role = properties["RoleArn"]["Fn::GetAtt"][0]
    (statement,) = [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "rds-db:connect"
    ]
    assert [resource["Fn::Join"][1][-1] for resource in statement["Resource"]] == [
        f"/{MIGRATOR_ROLE}",
        f"/{step_role('*')}",
    ]


def test_database_functions_run_in_the_vpc_and_connect_with_iam(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    database_functions = [
        function
        for function in project_functions(template).values()
        if "DATABASE_HOST" in function["Properties"]["Environment"]["Variables"]
    ]
    assert database_functions
    users = set()
    for function in database_functions:
        assert function["Properties"]["VpcConfig"]["SubnetIds"]
        variables = function["Properties"]["Environment"]["Variables"]
        user, step = variables["DATABASE_USER"], variables.get("SAGA_STEP")
        users.add(user)
        # Each function may connect as its own user only; the migrator also as the admin, for its bootstrap.
        expected = {f"/{step_role(step)}"} if step else {f"/{MIGRATOR_ROLE}", f"/{ADMIN_USER}"}
        assert {found["Fn::Join"][1][-1] for found in granted(template, function, "rds-db:connect")} == expected
        assert user == (step_role(step) if step else MIGRATOR_ROLE)
        assert not granted(template, function, "secretsmanager:GetSecretValue")
    assert users == {MIGRATOR_ROLE, *(step_role(step.name) for step in STEPS)}


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
