"""Data API mode: an Aurora Serverless v2 cluster that scales to zero, functions outside any VPC."""

from tests.infra.conftest import Synthesized
from tests.infra.test_application import project_functions, resources


def test_the_cluster_has_the_data_api_and_scales_to_zero(synthesized: Synthesized) -> None:
    (cluster,) = resources(synthesized.json(synthesized.stateful), "AWS::RDS::DBCluster").values()
    properties = cluster["Properties"]
    assert properties["EnableHttpEndpoint"] is True
    assert properties["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0
    assert properties["Engine"] == "aurora-postgresql"


def test_functions_run_outside_any_vpc(synthesized: Synthesized) -> None:
    for function in project_functions(synthesized.json(synthesized.application)).values():
        assert "VpcConfig" not in function["Properties"]


def test_database_functions_get_the_data_api_and_the_secret_only(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    for function in project_functions(template).values():
        variables = function["Properties"]["Environment"]["Variables"]
        if "DATABASE_CLUSTER_ARN" in variables:
            assert {"DATABASE_SECRET_ARN", "DATABASE_NAME"} <= variables.keys()
    actions = {
        action
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }
    assert "rds-data:ExecuteStatement" in actions
    assert not any(action.startswith("rds-db:") for action in actions)
