"""Data API mode: an Aurora Serverless v2 cluster that scales to zero, functions outside any VPC."""

import json

from tests.infra.conftest import Synthesized, granted
from tests.infra.test_application import project_functions, resources
from {{ cookiecutter.package_name }}.naming import MIGRATOR_ROLE, step_role
from {{ cookiecutter.package_name }}.saga import STEPS


def test_the_cluster_has_the_data_api_and_scales_to_zero(synthesized: Synthesized) -> None:
    (cluster,) = resources(synthesized.json(synthesized.stateful), "AWS::RDS::DBCluster").values()
    properties = cluster["Properties"]
    assert properties["EnableHttpEndpoint"] is True
    assert properties["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0
    assert properties["Engine"] == "aurora-postgresql"


def test_functions_run_outside_any_vpc(synthesized: Synthesized) -> None:
    for function in project_functions(synthesized.json(synthesized.application)).values():
        assert "VpcConfig" not in function["Properties"]


def test_each_function_logs_in_as_its_own_role_and_may_read_that_secret_only(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    secrets = resources(template, "AWS::SecretsManager::Secret")
    template_of = {
        name: body["Properties"]["GenerateSecretString"]["SecretStringTemplate"] for name, body in secrets.items()
    }
    logins: dict[str, set[str]] = {}
    for function in project_functions(template).values():
        variables = function["Properties"]["Environment"]["Variables"]
        if "DATABASE_CLUSTER_ARN" in variables:
            login = json.loads(template_of[variables["DATABASE_SECRET_ARN"]["Ref"]])["username"]
            readable = granted(template, function, "secretsmanager:GetSecretValue")
            logins[login] = {json.dumps(secret) for secret in readable}
            assert granted(template, function, "rds-data:ExecuteStatement")
            assert not granted(template, function, "rds-db:connect")
            if login != MIGRATOR_ROLE:
                assert login == step_role(variables["SAGA_STEP"])
                assert logins[login] == {json.dumps(variables["DATABASE_SECRET_ARN"])}
    assert logins.keys() == {MIGRATOR_ROLE, *(step_role(step.name) for step in STEPS)}
    # The migrator reads every role's secret, to set its password, and the admin's, for its bootstrap.
    assert len(logins[MIGRATOR_ROLE]) == len(secrets) + 1
