{%- set saga = cookiecutter | saga_model -%}
"""The way the README deploys: the pinned CDK CLI, stages, values handed over in SSM, checkov, preflight."""

import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable
{%- if saga.compensated_steps %}
from dataclasses import replace
{%- endif %}
{%- if saga.workflow_type == "EXPRESS" %}
from datetime import UTC, datetime, timedelta
{%- endif %}
from importlib.resources import files
from pathlib import Path
from typing import Any, cast

import boto3
import botocore.session
import pytest
import yaml  # type: ignore[import-untyped]
from botocore.stub import Stubber
from moto import mock_aws

from app import ROOT, build_app
from infra import config, preflight, queues
from infra.application import STATE_MACHINE_ALIAS_OUTPUT, ApplicationStack, function_name_output
from infra.aurora import ENGINE_VERSION
from infra.database_{{ saga.database_mode }} import MIN_CAPACITY
from infra.definition import DEFINITION_FILE
from tests.infra.conftest import Synthesized
from {{ saga.package_name }} import saga
from {{ saga.package_name }}.naming import Step, function_construct_id, function_placeholder

STAGE = config.DEFAULT_STAGE
ARN_PREFIX = f"arn:aws:lambda:{config.REGION}:123456789012"
ROLE = "arn:aws:iam::123456789012:role/saga"


def tool(variable: str, default: Path, install: str) -> str:
    """The executable the environment variable names, or the project's own one."""
    path = Path(os.environ.get(variable, default))
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `{install}`, or set {variable} to the executable")
    return str(path)


def deployed(template: dict[str, Any]) -> dict[str, Any]:
    """The template less what the CLI has the app add for the CLI's own use: construct and asset paths in
    the resources' Metadata, and the CDK version it reports (the CDKMetadata resource and its condition)."""
    stripped = json.loads(json.dumps(template))
    stripped["Resources"] = {n: b for n, b in stripped["Resources"].items() if b["Type"] != "AWS::CDK::Metadata"}
    stripped.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    for body in stripped["Resources"].values():
        body["Metadata"] = {key: value for key, value in body.get("Metadata", {}).items() if not key.startswith("aws:")}
    return {key: value for key, value in stripped.items() if value}


def test_the_pinned_cli_synthesizes_the_templates_the_tests_check(synthesized: Synthesized, tmp_path: Path) -> None:
    cdk = tool("CDK_CLI", ROOT / "node_modules" / ".bin" / "cdk", "make install")
    command = [cdk, "synth", "--quiet", "-c", f"stage={STAGE}", "--output", str(tmp_path)]
    environment = {**os.environ, "VIRTUAL_ENV": sys.prefix}
    synth = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, check=False)  # noqa: S603
    assert synth.returncode == 0, synth.stderr.decode()[-3000:]
    for stack in (synthesized.stateful, synthesized.application):
        cli = json.loads((tmp_path / f"{stack.stack_name}.template.json").read_text())
        assert deployed(cli) == deployed(synthesized.json(stack))


# Feature flags set against the CDK's recommendation, each with the reason.
DECLINED_FEATURE_FLAGS = {
    # It renames the version of the migrations function whose layer it hashes in. On a stage deployed without
    # it, that version would be created again for an unchanged function, which Lambda refuses ("A version for
    # this Lambda function exists"). The layer is Powertools, whose updates need no new migrations run.
    "@aws-cdk/aws-lambda:recognizeLayerVersion": False,
}


def test_cdk_json_sets_every_feature_flag_the_installed_cdk_recommends() -> None:
    (assembly,) = [path for path in files("aws_cdk._jsii").iterdir() if path.name.endswith(".jsii.tgz")]
    with tarfile.open(str(assembly)) as package:
        recommended = json.load(package.extractfile("package/recommended-feature-flags.json"))  # type: ignore[arg-type]
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    expected = {**recommended, **DECLINED_FEATURE_FLAGS}
    differing = {flag: value for flag, value in expected.items() if context.get(flag, "(unset)") != value}
    # A flag left unset keeps the behaviour of an older CDK. After an upgrade of aws-cdk-lib, read what each new
    # flag changes and `cdk diff` a deployed stage before setting it; a stage that must keep the old behaviour
    # sets the old value in cdk.json and in DECLINED_FEATURE_FLAGS, with the reason.
    assert differing == {}, f"{assembly.name} recommends, in cdk.json's context: {differing}"


def test_stacks_share_no_export_and_every_name_carries_the_stage(synthesized: Synthesized) -> None:
    for stack in (synthesized.stateful, synthesized.application):
        template = synthesized.json(stack)
        assert stack.stack_name.startswith(f"{config.stage_prefix(STAGE)}-")
        assert "Fn::ImportValue" not in json.dumps(template)
        names = [
            value
            for body in template["Resources"].values()
            for key, value in body.get("Properties", {}).items()
            if key in {"Name", "DashboardName", "LogGroupName", "DBProxyName", "DisplayName"} and isinstance(value, str)
        ]
        assert names
        assert [name for name in names if config.stage_prefix(STAGE) not in name.replace("/", "-")] == []


@pytest.mark.parametrize("stage", ["Prod", "-dev", "dev-", "a--b", "a" * (config.MAX_STAGE_LENGTH + 1)])
def test_a_stage_that_cannot_name_resources_is_refused(stage: str) -> None:
    with pytest.raises(SystemExit, match=f"stage '{stage}' must be lower-case letters"):
        build_app({"stage": stage})


def test_a_refused_context_value_ends_the_app_with_one_line() -> None:
    """As the CLI runs it: one line (every refusal of infra/options.py is in test_application.py), no traceback."""
    environment = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"stage": "prod"})}
    command = [sys.executable, "app.py"]
    app = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
    refusal = "stage 'prod' would alarm no one: give -c alarm_email=ADDRESS, or -c alarm_topic_arn=ARN"
    assert (app.returncode, app.stderr.count("\n"), refusal in app.stderr) == (1, 1, True), app.stderr


def test_alarms_reach_the_address_and_the_topic_the_deployment_names() -> None:
    on_call = "arn:aws:sns:us-east-1:123456789012:on-call"
    producer = "arn:aws:iam::123456789012:role/api"
    app = build_app(
        {"stage": "prod", "alarm_email": "on-call@example.com", "alarm_topic_arn": on_call, "saga_producers": producer}
    )
    template = app.synth().get_stack_by_name(f"{config.stage_prefix('prod')}-application").template
    of_type = {kind: {n: b for n, b in template["Resources"].items() if b["Type"] == f"AWS::{kind}"} for kind in (
        "SNS::Topic", "SNS::Subscription", "CloudWatch::Alarm")}  # fmt: skip
    (topic,) = of_type["SNS::Topic"]
    subscriptions = [body["Properties"] for body in of_type["SNS::Subscription"].values()]
    assert subscriptions == [{"Protocol": "email", "TopicArn": {"Ref": topic}, "Endpoint": "on-call@example.com"}]
    alarms = [body["Properties"] for body in of_type["CloudWatch::Alarm"].values()]
    assert alarms
    assert all(alarm["AlarmActions"] == [{"Ref": topic}, on_call] for alarm in alarms)


def test_the_workflow_deploys_only_main_to_a_listed_stage_with_its_alarm_recipients() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    deploy, stage = workflow["jobs"]["deploy"], workflow[True]["workflow_dispatch"]["inputs"]["stage"]
    assert deploy["if"].endswith(" && github.ref == 'refs/heads/main'")
    # A free-text stage would create an unprotected environment on the fly; the role trusts the environment.
    assert (stage["type"], stage["default"], deploy["environment"]) == ("choice", STAGE, "${{ '{{' }} inputs.stage {{ '}}' }}")
    assert '-c "alarm_email=$ALARM_EMAIL" -c "alarm_topic_arn=$ALARM_TOPIC_ARN"' in deploy["steps"][-1]["run"]
    (preflight_step,) = [step for step in deploy["steps"] if step.get("run") == "make preflight"]
    assert preflight_step["env"]["STAGE"] == deploy["environment"]


def test_checkov_fails_nothing_but_what_infra_checkov_skips_does_not_explain(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    checkov = tool("CHECKOV", ROOT / "build" / "checkov" / "bin" / "checkov", "make install")
    templates = {stack.stack_name: synthesized.json(stack) for stack in (synthesized.stateful, synthesized.application)}
    # And a copy of one with a queue nothing explains: the scan must report it, and nothing else.
    copy = synthesized.json(synthesized.stateful)
    queue = {"Type": "AWS::SQS::Queue", "Properties": {}}
    templates["unexplained"] = copy | {"Resources": copy["Resources"] | {"Unexplained": queue}}
    command = [checkov, "--framework", "cloudformation", "--skip-download", "--compact", "--quiet", "-o", "json"]
    for name, template in templates.items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
        command += ["--file", str(tmp_path / f"{name}.template.json")]
    report = json.loads(subprocess.run(command, capture_output=True, text=True, check=False).stdout)  # noqa: S603
    failed = [(Path(check["file_abs_path"]).name, check["resource"]) for check in report["results"]["failed_checks"]]
    assert failed == [("unexplained.template.json", "AWS::SQS::Queue.Unexplained")]


READY: dict[str, Any] = {
    "layer": True,
    "engine": True,
    "min_capacity": MIN_CAPACITY,
    "toolkit": True,
    "bootstrap": "30",
}
{%- if saga.database_mode == "data_api" %}
READY["data_api"] = True
{%- else %}
READY["zones"] = {"us-east-1a": "use1-az1", "us-east-1b": "use1-az2", "us-east-1c": "use1-az3"}
READY["default_subnets"] = []
{%- endif %}


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ({}, None),
        ({"layer": False}, "the Powertools layer parameter /aws/service/powertools/python/"),
        ({"engine": False}, f"Aurora PostgreSQL {ENGINE_VERSION} is not offered"),
        ({"min_capacity": MIN_CAPACITY + 0.5}, f"scales down to {MIN_CAPACITY + 0.5} ACU, and this project needs"),
{%- if saga.database_mode == "data_api" %}
        ({"data_api": False}, "the Data API is not available"),
{%- else %}
        ({"zones": {"us-east-1a": "use1-az3", "us-east-1b": "use1-az2"}}, "would take us-east-1a (use1-az3)"),
        # Fn::GetAZs lists only the zones with a default subnet, when there are any.
        ({"default_subnets": ["us-east-1b", "us-east-1c"]}, "would take us-east-1c (use1-az3)"),
{%- endif %}
        ({"toolkit": False}, "is not CDK-bootstrapped"),
        ({"bootstrap": None}, "older than version 6 (found None)"),
        ({"bootstrap": "5"}, "older than version 6 (found 5)"),
    ],
)
def test_preflight_names_each_problem_with_its_fix(broken: dict[str, Any], problem: str | None) -> None:
    state = READY | broken
    session = botocore.session.get_session()
    clients = {name: session.create_client(name, region_name=config.REGION) for name in preflight.SERVICES}
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    engine = {"ServerlessV2FeaturesSupport": {"MinCapacity": state["min_capacity"]}}
{%- if saga.database_mode == "data_api" %}
    options = {"OrderableDBInstanceOptions": [{"SupportsHttpEndpoint": state["data_api"]}]}
{%- else %}
    zones = [{"ZoneName": name, "ZoneId": zone, "State": "available"} for name, zone in state["zones"].items()]
    default_subnets = [{"AvailabilityZone": name} for name in state["default_subnets"]]
{%- endif %}
    calls: list[tuple[str, str, dict[str, Any] | str]] = [  # In the order of preflight; a string is an error code.
        ("ssm", "get_parameter", {"Parameter": {"Value": "arn"}} if state["layer"] else "ParameterNotFound"),
        ("rds", "describe_db_engine_versions", {"DBEngineVersions": [engine] if state["engine"] else []}),
{%- if saga.database_mode == "data_api" %}
        *([("rds", "describe_orderable_db_instance_options", options)] if state["engine"] else []),
{%- else %}
        ("ec2", "describe_availability_zones", {"AvailabilityZones": zones}),
        ("ec2", "describe_subnets", {"Subnets": default_subnets}),
{%- endif %}
        ("cloudformation", "describe_stacks", {"Stacks": []} if state["toolkit"] else "ValidationError"),
        *[("ssm", "get_parameter", {"Parameter": {"Value": version}} if version else "ParameterNotFound")
          for version in [state["bootstrap"]] if state["toolkit"]],
    ]  # fmt: skip
    for service, method, response in calls:
        if isinstance(response, str):
            stubbers[service].add_client_error(method, response)
        else:
            stubbers[service].add_response(method, response)
        stubbers[service].activate()
    found = preflight.problems(*clients.values())
    assert [str(problem) in line for line in found] == ([] if problem is None else [True])
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()


def test_the_application_stack_outputs_what_the_person_on_call_looks_up(synthesized: Synthesized) -> None:
    application = cast(ApplicationStack, synthesized.application)
    stateful = application.stateful
    expected = {
        "AlarmTopicArn": application.monitoring.topic.topic_arn,
        STATE_MACHINE_ALIAS_OUTPUT: application.saga.alias.attr_arn,
        "SagaDeadLetterQueueUrl": stateful.saga_dead_letters.queue_url,
        "DeliveryDeadLetterQueueUrl": stateful.delivery_dead_letters.queue_url,
        **{
            function_name_output(key): function.function.function_name
            for key, function in application.functions.items()
        },
    }
    outputs = synthesized.json(application)["Outputs"]
    assert {key: output["Value"] for key, output in outputs.items()} == application.resolve(expected)
    assert all(output["Description"] for output in outputs.values())
    # What the README tells the person on call about the dead letters is what the queues do.
    kept = f"kept {queues.RETENTION.to_days():.0f} days"
    assert kept in outputs["SagaDeadLetterQueueUrl"]["Description"]
    assert f"Dead letters are {kept}" in " ".join((ROOT / "README.md").read_text().split())


def test_preflight_refuses_what_is_not_a_stage_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert preflight.main(["Prod"]) == 2
    assert capsys.readouterr().out == "'Prod' is not a stage: python -m infra.preflight [STAGE]\n"


@pytest.mark.parametrize("shortfall", [0, 1])
def test_preflight_names_a_concurrency_limit_below_the_stage_s_functions(
    synthesized: Synthesized, shortfall: int
) -> None:
    needed = preflight.saga_function_count()
    assert needed == len(cast(ApplicationStack, synthesized.application).functions)
    client = botocore.session.get_session().create_client("lambda", region_name=config.REGION)
    limit = {"ConcurrentExecutions": needed + 5, "UnreservedConcurrentExecutions": needed - shortfall}
    with Stubber(client) as stubber:
        stubber.add_response("get_account_settings", {"AccountLimit": limit})
        problem = preflight.concurrency_problem(client)
    below = f"is {needed + 5}, {needed - shortfall} of it unreserved, below the {needed} functions of the stage"
    assert [below in line for line in [problem] if line] == ([True] if shortfall else [])


# The project's saga as it may be changed after the stage was deployed.
EDITS: dict[str, Callable[[tuple[Step, ...]], tuple[Step, ...]]] = {
    "nothing removed": lambda steps: steps,
    "the last step removed": lambda steps: steps[:-1],
{%- if saga.compensated_steps %}
    "the compensations removed": lambda steps: tuple(replace(step, compensation=None) for step in steps),
{%- endif %}
}


@pytest.mark.parametrize("edit", EDITS)
def test_preflight_refuses_a_deploy_that_deletes_a_function_a_running_execution_may_invoke(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    """The stage runs this project's definition, its functions named in its stack's outputs; saga.py then changes."""
    application = synthesized.application.stack_name
    outputs = {key: f"{application}-{key}" for key in synthesized.json(synthesized.application)["Outputs"]}
    names = {title: outputs[function_name_output(function_construct_id(title))] for step in saga.STEPS
             for title in step.functions.values()}  # fmt: skip
    definition = DEFINITION_FILE.read_text()
    for title, name in names.items():
        definition = definition.replace("${" + function_placeholder(title) + "}", f"{ARN_PREFIX}:function:{name}:7")
    monkeypatch.setattr(saga, "STEPS", EDITS[edit](saga.STEPS))
    deleted = sorted(set(names.values()) - {names[title] for step in saga.STEPS for title in step.functions.values()})
    assert bool(deleted) == (edit != "nothing removed")
    cloudformation = botocore.session.get_session().create_client("cloudformation", region_name=config.REGION)
    with mock_aws(), Stubber(cloudformation) as stubbed:
        stepfunctions = boto3.client("stepfunctions", region_name=config.REGION)
        machine = stepfunctions.create_state_machine(
            name=config.stage_prefix(STAGE), definition=definition, roleArn=ROLE, type=saga.WORKFLOW_TYPE
        )["stateMachineArn"]
        outputs[STATE_MACHINE_ALIAS_OUTPUT] = f"{machine}:{config.stage_prefix(STAGE)}"
        stack = {"StackName": application, "CreationTime": "2026-12-01T00:00:00Z", "StackStatus": "UPDATE_COMPLETE",
                 "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()]}  # fmt: skip
        stubbed.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": application})
{%- if saga.workflow_type == "STANDARD" %}
        for name in ("order-0", "order-1"):
            execution = stepfunctions.start_execution(stateMachineArn=machine, name=name, input="{}")
        stepfunctions.stop_execution(executionArn=execution["executionArn"])
        found = preflight.deletion_problems(cloudformation, stepfunctions, STAGE)
    # Only the running execution is named: one that has ended invokes nothing any more.
    named = f"1 running execution(s) of {STAGE} may still invoke (order-0)"
{%- else %}
        # One execution started two minutes ago may still run; the one of ten minutes ago was stopped at five.
        cloudwatch = boto3.client("cloudwatch", region_name=config.REGION)
        dimensions = [{"Name": "StateMachineArn", "Value": machine}]
        for minutes in (2, 10):
            at = datetime.now(UTC) - timedelta(minutes=minutes)
            started = {"MetricName": "ExecutionsStarted", "Value": 1, "Timestamp": at, "Dimensions": dimensions}
            cloudwatch.put_metric_data(Namespace="AWS/States", MetricData=[started])
        found = preflight.deletion_problems(cloudformation, stepfunctions, cloudwatch, STAGE)
    named = f"1 execution(s) of {STAGE} started in the last 5 minutes may still invoke"
{%- endif %}
    assert len(found) == len(deleted)
    assert all(f"delete the function {name}, which {named}" in line for name, line in zip(deleted, found, strict=True))


def test_the_readme_names_every_aws_action_preflight_calls() -> None:
    source, session = Path(preflight.__file__).read_text(), boto3.Session(region_name="us-east-1")
    calls = re.findall(r"\b(ssm|rds|cloudformation|ec2|lambda|stepfunctions|cloudwatch)(?:_client)?\.(\w+)\(", source)
    calls += [("stepfunctions", name) for name in re.findall(r'get_paginator\("(\w+)"\)', source)]
    actions = {
        f"{'states' if client == 'stepfunctions' else client}:{session.client(client).meta.method_to_api_mapping[name]}"
        for client, name in calls
        if name != "get_paginator"
    }
    assert len(actions) >= 5
    assert {action for action in actions if f"`{action}`" not in (ROOT / "README.md").read_text()} == set()
