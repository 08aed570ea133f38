{%- set saga = cookiecutter | saga_model -%}
"""The synthesized templates: what each resource is configured with, and that reviews pass."""

import json
import re
from typing import Any

import aws_lambda_powertools
import pytest
from aws_cdk import Stack
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]

from app import build_app
from infra import config
from infra.acknowledgements import findings_accepted_for
from infra.application import STARTER_ATTEMPTS
from infra.definition import DEFINITION_FILE, saga_timing
from infra.parameters import parameter_name
from infra.stateful import SAGA_DEAD_LETTERS, SAGA_TABLE
from infra.timing import INIT_PHASE_SECONDS
from tests.infra.conftest import Synthesized
from {{ cookiecutter.package_name }} import operate
from {{ cookiecutter.package_name }}.naming import (
    EVENT_SOURCE,
    OBSERVABILITY_FAILED,
    PACKAGE,
    REQUEST_SOURCE_PREFIX,
    consumer_key_prefix,
    function_placeholder,
    step_key_prefix,
)
from {{ cookiecutter.package_name }}.saga import CONSUMERS, STEPS, WORKFLOW_TYPE

RUNTIME = f"python{config.PYTHON_VERSION}"
NAMESPACE = config.metrics_namespace(config.DEFAULT_STAGE)


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == resource_type}


def project_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The project's own functions, not the ones the CDK adds for custom resources."""
    return {
        name: body
        for name, body in resources(template, "AWS::Lambda::Function").items()
        if body["Properties"].get("Handler", "").startswith(f"{PACKAGE}.")
    }


def function_named(template: dict[str, Any], handler: str, **environment: str) -> str:
    """The logical id of the project's function with this handler and these environment variables."""
    (name,) = [
        name
        for name, body in project_functions(template).items()
        if body["Properties"]["Handler"] == handler
        and environment.items() <= body["Properties"]["Environment"]["Variables"].items()
    ]
    return name


def test_every_function_is_built_the_same_way(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    functions = project_functions(template)
    expected = [("action", step.name) for step in STEPS] + [
        ("compensation", step.name) for step in STEPS if step.compensation
    ]
    assert sorted(
        (body["Properties"]["Handler"].rsplit(".", 1)[1], body["Properties"]["Environment"]["Variables"]["SAGA_STEP"])
        for body in functions.values()
        if "SAGA_STEP" in body["Properties"]["Environment"]["Variables"]
    ) == sorted(expected)
    consumers = [
        body["Properties"]["Environment"]["Variables"].get("SAGA_CONSUMER")
        for body in functions.values()
        if body["Properties"]["Handler"] == f"{PACKAGE}.handlers.outcome"
    ]
    assert sorted(consumers) == sorted(consumer.name for consumer in CONSUMERS)
    assert len(functions) == len(expected) + len(CONSUMERS) + 2  # the starter and the migrations
    for body in functions.values():
        properties = body["Properties"]
        assert properties["Runtime"] == RUNTIME
        assert properties["Architectures"] == [config.LAMBDA_ARCHITECTURE]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        assert len(properties["Layers"]) == 1
        variables = properties["Environment"]["Variables"]
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
        assert (variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"], variables["POWERTOOLS_TRACER_CAPTURE_ERROR"]) == (
            "false",
            "false",
        )
    for log_group in resources(template, "AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] > 0


def test_the_powertools_layer_is_the_version_the_tests_run_with(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    parameters = [
        body["Default"] for body in template["Parameters"].values() if "powertools" in body.get("Default", "")
    ]
    assert parameters == [
        f"/aws/service/powertools/python/{config.LAMBDA_ARCHITECTURE}/{RUNTIME}/{aws_lambda_powertools.__version__}"
    ]


def test_every_placeholder_of_the_definition_is_filled_with_its_resource(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    ((_, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    assert set(substitutions) == set(re.findall(r"\$\{(\w+)\}", DEFINITION_FILE.read_text()))
    invoked = [
        resource
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "lambda:InvokeFunction" and "StateMachine" in str(policy["Properties"]["Roles"])
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    ]
    for step in STEPS:
        for role, title in step.functions.items():
            function = function_named(template, f"{PACKAGE}.handlers.{role}", SAGA_STEP=step.name)
            # A published version, kept by later deploys: running executions keep the code they started with.
            (version,) = [
                name
                for name, body in resources(template, "AWS::Lambda::Version").items()
                if body["Properties"]["FunctionName"] == {"Ref": function} and body["DeletionPolicy"] == "Retain"
            ]
            assert substitutions[function_placeholder(title)] == {"Ref": version}
            assert {"Fn::Join": ["", [{"Fn::GetAtt": [function, "Arn"]}, ":*"]]} in invoked, "its versions, all of them"
    assert len(invoked) == sum(len(step.functions) for step in STEPS)
    # The stateful stack's resources, by the parameters it writes and the bus's name: no export.
    parameters = {body.get("Default"): name for name, body in template["Parameters"].items()}
    for placeholder, key in (("SagaTableName", SAGA_TABLE), ("DeadLetterQueueUrl", SAGA_DEAD_LETTERS)):
        assert parameters[parameter_name(config.DEFAULT_STAGE, key)] in json.dumps(substitutions[placeholder])
    assert substitutions["EventBusName"] == config.stage_prefix(config.DEFAULT_STAGE)


def test_sagas_start_through_the_alias_of_the_published_definition(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    ((machine, _),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    ((version, published),) = resources(template, "AWS::StepFunctions::StateMachineVersion").items()
    ((alias, live),) = resources(template, "AWS::StepFunctions::StateMachineAlias").items()
    assert (published["Properties"]["StateMachineArn"], published["DeletionPolicy"]) == ({"Ref": machine}, "Retain")
    routes = [{"StateMachineVersionArn": {"Fn::GetAtt": [version, "Arn"]}, "Weight": 100}]
    assert live["Properties"]["RoutingConfiguration"] == routes
    starter = project_functions(template)[function_named(template, f"{PACKAGE}.starter.handle")]
    assert starter["Properties"]["Environment"]["Variables"]["SAGA_STATE_MACHINE_ARN"] == {"Fn::GetAtt": [alias, "Arn"]}
    started = [
        statement["Resource"]
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "states:StartExecution" in statement["Action"]
    ]
    assert started == [{"Fn::GetAtt": [alias, "Arn"]}], "only through the alias"


def test_the_state_machine_logs_every_event_without_execution_data_and_is_traced(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    ((_, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    properties = machine["Properties"]
    assert properties["StateMachineType"] == WORKFLOW_TYPE
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert properties["TracingConfiguration"] == {"Enabled": True}


def test_the_saga_data_key_option_encrypts_the_execution_data_with_a_key_the_roles_can_use(
    synthesized: Synthesized,
) -> None:
    ((_, machine),) = resources(synthesized.json(synthesized.application), "AWS::StepFunctions::StateMachine").items()
    assert "EncryptionConfiguration" not in machine["Properties"], "off by default"
    app = build_app({"saga_data_key": "true"})
    (application,) = [
        child for child in app.node.children if isinstance(child, Stack) and "application" in child.stack_name
    ]
    template = dict(Template.from_stack(application).to_json())
    ((_, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    (key,) = resources(template, "AWS::KMS::Key")
    encryption = machine["Properties"]["EncryptionConfiguration"]
    assert (encryption["Type"], encryption["KmsKeyId"]) == ("CUSTOMER_MANAGED_KMS_KEY", {"Fn::GetAtt": [key, "Arn"]})
    uses = {
        action: json.dumps(statement.get("Condition"))
        for policy in resources(template, "AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"] == [{"Ref": machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]}]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Resource"] == {"Fn::GetAtt": [key, "Arn"]}
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    # Scoped to this account's state machines: the CDK's own grant named an empty state machine name.
    assert set(uses) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert ':stateMachine:*"' in uses["kms:Decrypt"]


@pytest.mark.parametrize("consumer", CONSUMERS, ids=lambda consumer: consumer.name)
def test_each_consumer_gets_its_outcomes_with_retries_and_a_dead_letter_queue(
    synthesized: Synthesized, consumer: Any
) -> None:
    template = synthesized.json(synthesized.application)
    function = function_named(template, f"{PACKAGE}.handlers.outcome", SAGA_CONSUMER=consumer.name)
    (rule,) = [
        rule
        for rule in resources(template, "AWS::Events::Rule").values()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
    ]
    assert rule["Properties"]["EventPattern"] == consumer.event_pattern
    target = rule["Properties"]["Targets"][0]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert "Arn" in target["DeadLetterConfig"]
    (invoke_config,) = [
        body
        for body in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if body["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert json.dumps(invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]) == json.dumps(
        target["DeadLetterConfig"]["Arn"]
    )


def test_saga_requested_events_from_the_projects_own_sources_reach_the_starter(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    starter = function_named(template, f"{PACKAGE}.starter.handle")
    (rule,) = [
        rule
        for rule in resources(template, "AWS::Events::Rule").values()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [starter, "Arn"]}
    ]
    assert rule["Properties"]["EventPattern"] == {
        "source": [{"prefix": REQUEST_SOURCE_PREFIX}],
        "detail-type": ["SagaRequested"],
    }
    # A throttled StartExecution is retried by the client before the request is retried, then dead-lettered.
    variables = template["Resources"][starter]["Properties"]["Environment"]["Variables"]
    assert (variables["AWS_RETRY_MODE"], int(variables["AWS_MAX_ATTEMPTS"])) == ("adaptive", STARTER_ATTEMPTS)
    assert sum(min(2**attempt, 20) for attempt in range(STARTER_ATTEMPTS - 1)) < 30, "within the starter's timeout"


PRODUCER = "arn:aws:iam::123456789012:role/orders/api"


def bus_policy(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The bus policy's statements, by id."""
    policies = resources(template, "AWS::Events::EventBusPolicy").values()
    return {policy["Properties"]["StatementId"]: policy["Properties"]["Statement"] for policy in policies}


def test_only_the_state_machine_publishes_outcomes_and_only_named_producers_request_sagas(
    synthesized: Synthesized,
) -> None:
    def deny(sid: str, key: str, value: str, principals: list[Any]) -> dict[str, Any]:
        return {
            "Sid": sid,
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "events:PutEvents",
            "Resource": Match.any_value(),
            "Condition": {"ForAnyValue:StringEquals": {key: value}, "ArnNotLike": {"aws:PrincipalArn": principals}},
        }

    def check(template: dict[str, Any], expected: dict[str, dict[str, Any]]) -> None:
        statements = bus_policy(template)
        assert statements.keys() == expected.keys()
        for sid, statement in expected.items():
            assert Match.object_equals(statement).test(statements[sid]).is_success, statements[sid]

    template = synthesized.json(synthesized.application)
    ((_, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    outcomes = deny("OnlyTheSagaPublishesOutcomes", "events:source", EVENT_SOURCE, [machine["Properties"]["RoleArn"]])
    # dev without producers: any principal of the account that may call PutEvents requests sagas, as before.
    check(template, {"OnlyTheSagaPublishesOutcomes": outcomes})
    producers, operator = [PRODUCER, "arn:aws:iam::123456789012:role/batch-*"], "arn:aws:iam::123456789012:role/on-call"
    context = {"stage": "prod", "alarm_email": "on-call@example.com", "saga_operators": operator}
    app = build_app({**context, "saga_producers": ", ".join(producers)})
    (application,) = [
        child for child in app.node.children if isinstance(child, Stack) and "application" in child.stack_name
    ]
    requests = deny("OnlyNamedProducersRequestSagas", "events:detail-type", "SagaRequested", producers)
    outcomes["Condition"]["ArnNotLike"]["aws:PrincipalArn"].append(operator)
    check(dict(Template.from_stack(application).to_json()), {outcomes["Sid"]: outcomes, requests["Sid"]: requests})


@pytest.mark.parametrize(
    ("context", "refusal"),
    [
        ({"stage": "prod"}, "stage 'prod' would alarm no one: give -c alarm_email=ADDRESS, or -c alarm_topic_arn=ARN"),
        ({"alarm_email": "on-call"}, "alarm_email 'on-call' is not an email address"),
        ({"alarm_topic_arn": "arn:aws:sqs:us-east-1:1:q"}, "alarm_topic_arn 'arn:aws:sqs:us-east-1:1:q' is not an SNS"),
        ({"stage": "prod", "alarm_email": "on-call@example.com"}, "stage 'prod' needs -c saga_producers=ARN,..."),
        ({"saga_producers": "orders-api"}, "saga_producers: 'orders-api' is not an IAM role or user ARN"),
        ({"saga_producers": f"{PRODUCER},"}, "saga_producers: '' is not an IAM role or user ARN"),
        ({"saga_producers": "arn:aws:sqs:us-east-1:123456789012:queue"}, "is not an IAM role or user ARN"),
        ({"saga_producer": PRODUCER}, "unknown context value 'saga_producer'"),
        ({"saga_operators": "on-call"}, "saga_operators: 'on-call' is not an IAM role or user ARN"),
        ({"saga_data_key": "yes"}, "saga_data_key must be true or false, not 'yes'"),
    ],
    ids=[
        *("stage-alarming-no-one", "not-an-email", "not-a-topic", "stage-without-producers", "not-an-arn"),
        *("empty-entry", "not-iam", "unknown-value", "operator-not-an-arn", "not-a-flag"),
    ],
)
def test_a_wrong_context_value_is_refused_with_one_line(context: dict[str, str], refusal: str) -> None:
    with pytest.raises(SystemExit) as refused:
        build_app(context)
    assert refusal in str(refused.value)
    assert "\n" not in str(refused.value)


def test_each_function_touches_only_its_own_idempotency_records(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    expected = {
        function_named(template, f"{PACKAGE}.handlers.{role}", SAGA_STEP=step.name): [
            f"{step_key_prefix(step.name, 'action')}#*",
            *([f"{step_key_prefix(step.name, role)}#*"] if role == "compensation" else []),
        ]
        for step in STEPS
        for role in step.functions
    } | {
        function_named(template, f"{PACKAGE}.handlers.outcome", SAGA_CONSUMER=consumer.name): [
            f"{consumer_key_prefix(consumer.name)}#*"
        ]
        for consumer in CONSUMERS
    }
    granted: dict[str, list[Any]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "dynamodb:PutItem" in statement["Action"] and "idempotency" in json.dumps(statement["Resource"]).lower():
                (role,) = policy["Properties"]["Roles"]
                granted[role["Ref"]] = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    functions = project_functions(template)
    assert {name: granted.get(functions[name]["Properties"]["Role"]["Fn::GetAtt"][0]) for name in expected} == expected
    assert len(granted) == len(expected), "no other function may use the idempotency table"


def test_the_archive_keeps_the_outcomes_only_for_thirty_days_without_an_empty_key(synthesized: Synthesized) -> None:
    (archive,) = resources(synthesized.json(synthesized.stateful), "AWS::Events::Archive").values()
    assert archive["Properties"]["EventPattern"] == {"source": [EVENT_SOURCE]}
    assert archive["Properties"]["RetentionDays"] == 30
    assert "KmsKeyIdentifier" not in archive["Properties"]


def test_alarms_wake_people_for_failures_stopped_executions_dead_letters_and_crashes(
    synthesized: Synthesized,
) -> None:
    template = synthesized.json(synthesized.application)
    alarms = list(resources(template, "AWS::CloudWatch::Alarm").values())
    metrics = [(alarm["Properties"].get("Namespace"), alarm["Properties"].get("MetricName")) for alarm in alarms]
    # Only what the workflow type can emit: EXPRESS times out and cannot be stopped, STANDARD the reverse.
    stopped = "ExecutionsTimedOut" if WORKFLOW_TYPE == "EXPRESS" else "ExecutionsAborted"
    execution_metrics = [metric for namespace, metric in metrics if namespace == "AWS/States"]
    assert sorted(execution_metrics) == sorted(["ExecutionsFailed", stopped])
    assert metrics.count(("AWS/SQS", "ApproximateNumberOfMessagesVisible")) == 2
    # And again while a dead letter can still be dealt with: days before the queue drops it.
    ages = [alarm["Properties"].get("Threshold") for alarm in alarms if "AgeOfOldest" in str(alarm)]
    assert ages == [(14 - 4) * 86400] * 2
    functions = len(project_functions(template))
    # The README's count, in "What costs money while idle".
    stated = re.findall(r"\(2 per function plus (\d+)\)", (DEFINITION_FILE.parents[1] / "README.md").read_text())
    assert stated == [str(len(alarms) - 2 * functions)]
    assert metrics.count(("AWS/Lambda", "Throttles")) == functions
    # A crash is a Lambda error the handler did not count as expected (a rejection, a retried failure).
    crashes = [alarm["Properties"]["Metrics"] for alarm in alarms if "Metrics" in alarm["Properties"]]
    assert len(crashes) == functions
    for expression in crashes:
        used = {query["Id"]: query.get("MetricStat", {}).get("Metric", {}) for query in expression}
        assert used["errors"]["MetricName"] == "Errors"
        assert (used["expected"]["Namespace"], used["expected"]["MetricName"]) == (
            NAMESPACE,
            "ExpectedFailures",
        )
    assert metrics.count(("AWS/Lambda", "Errors")) == 0, "rejections are metrics, not alarms"
    assert all(alarm["Properties"]["AlarmActions"] for alarm in alarms)
    assert len(resources(template, "AWS::CloudWatch::Dashboard")) == 1


def test_every_function_s_lost_observability_is_counted_from_its_logs_and_alarmed(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    filters = list(resources(template, "AWS::Logs::MetricFilter").values())
    assert len(filters) == len(project_functions(template))
    for log_filter in filters:
        assert log_filter["Properties"]["FilterPattern"] == "{ $.message = " + json.dumps(OBSERVABILITY_FAILED) + " }"
        (counted,) = log_filter["Properties"]["MetricTransformations"]
        assert (counted["MetricNamespace"], counted["MetricName"], counted["MetricValue"]) == (
            NAMESPACE,
            "ObservabilityFailed",
            "1",
        )
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    (alarm,) = [alarm for alarm in alarms if alarm["Properties"].get("MetricName") == "ObservabilityFailed"]
    assert (alarm["Properties"]["Namespace"], alarm["Properties"]["AlarmActions"] != []) == (NAMESPACE, True)


CLOUDWATCH = {"Service": "cloudwatch.amazonaws.com"}
THIS_ACCOUNTS_ALARMS = {
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    "ArnLike": {
        "aws:SourceArn": {
            "Fn::Join": ["", [f"arn:aws:cloudwatch:{config.REGION}:", {"Ref": "AWS::AccountId"}, ":alarm:*"]]
        }
    },
}


def alarms_that_cannot_notify(template: dict[str, Any]) -> list[str]:
    """Walks every alarm's actions to their topics: each topic's policy must let this account's alarms (and
    no one else's) publish, over TLS only, and an encrypted topic's key must let CloudWatch use it."""
    topics = resources(template, "AWS::SNS::Topic")
    statements = {
        topic["Ref"]: policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in resources(template, "AWS::SNS::TopicPolicy").values()
        for topic in policy["Properties"]["Topics"]
    }
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    problems = [] if alarms else ["no alarm"]
    for name, alarm in alarms.items():
        actions = [str(action.get("Ref")) for action in alarm["Properties"].get("AlarmActions", [])]
        problems += [] if actions else [f"{name} has no action"]
        for topic in actions:
            policy = statements.get(topic, [])
            publish = [s.get("Condition") for s in policy if s["Effect"] == "Allow" and s["Principal"] == CLOUDWATCH]
            denied = [s.get("Condition") for s in policy if s["Effect"] == "Deny"]
            tls = {"Bool": {"aws:SecureTransport": "false"}} in denied
            key = topics.get(topic, {}).get("Properties", {}).get("KmsMasterKeyId")
            problems += [] if topic in topics else [f"{name} acts on no topic of this stack"]
            problems += [] if publish == [THIS_ACCOUNTS_ALARMS] else [f"{name}: CloudWatch may not publish to {topic}"]
            problems += [] if tls else [f"{name}: {topic} accepts plain HTTP"]
            problems += [] if key is None or cloudwatch_may_use(template, key) else [f"{name}: {key} shuts it out"]
    return problems


def cloudwatch_may_use(template: dict[str, Any], key: Any) -> bool:
    """A topic's key is one of the stack's own (SNS's AWS managed key admits no alarm) and admits CloudWatch."""
    key_id = str(key["Fn::GetAtt"][0]) if isinstance(key, dict) and "Fn::GetAtt" in key else ""
    policy = resources(template, "AWS::KMS::Key").get(key_id, {}).get("Properties", {}).get("KeyPolicy", {})
    granted = [s["Action"] for s in policy.get("Statement", []) if s["Principal"] == CLOUDWATCH]
    return any({"kms:Decrypt", "kms:GenerateDataKey*"} <= set(actions) for actions in granted)


def test_every_alarm_can_notify_through_its_topic(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.application)
    assert alarms_that_cannot_notify(template) == []
    # The walk sees a topic left with the TLS Deny only, one encrypted with SNS's own key, and no alarm at all.
    (topic,) = resources(template, "AWS::SNS::Topic")
    (policy,) = resources(template, "AWS::SNS::TopicPolicy")
    tls_only = json.loads(json.dumps(template))
    document = tls_only["Resources"][policy]["Properties"]["PolicyDocument"]
    document["Statement"] = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert alarms_that_cannot_notify(tls_only) != []
    sns_key = json.loads(json.dumps(template))
    sns_key["Resources"][topic]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
    assert alarms_that_cannot_notify(sns_key) != []
    assert alarms_that_cannot_notify({"Resources": {}}) == ["no alarm"]


def test_the_operators_command_finds_the_saga_table_the_stateful_stack_publishes() -> None:
    assert operate.SAGA_TABLE_PARAMETER.format(stage="prod") == parameter_name("prod", SAGA_TABLE)


# Actions granted on "*": AWS defines most of them on no narrower resource.
UNSCOPED_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
{%- if saga.database_mode == "rds_proxy" %}
    # Placing the functions in the VPC.
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
{%- endif %}
    # The CDK's log-retention function: the CDK does not scope them to the cluster's log group.
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
}


def test_policies_grant_named_actions_and_use_wildcard_resources_only_where_aws_requires(
    synthesized: Synthesized,
) -> None:
    for stack in (synthesized.stateful, synthesized.application):
        for policy in resources(synthesized.json(stack), "AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all("*" not in action for action in actions), actions
                if statement["Resource"] == "*":
                    assert set(actions) <= UNSCOPED_ACTIONS, actions


def test_the_readme_says_how_long_each_log_group_keeps_its_events(synthesized: Synthesized) -> None:
    template, months = synthesized.json(synthesized.application), {30: "1 month", 90: "3 months"}
    found = resources(template, "AWS::Logs::LogGroup")
    groups = {name: group["Properties"]["RetentionInDays"] for name, group in found.items()}
    ((_, machine),) = resources(template, "AWS::StepFunctions::StateMachine").items()
    (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    machine_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    kept = {"the state machine's log group": {groups.pop(machine_group)}}
    kept["the functions' log groups"] = set(groups.values())
    readme = (DEFINITION_FILE.parents[1] / "README.md").read_text()
    for store, (days,) in kept.items():
        assert re.search(rf"\| {store} \|[^|\n]*\| {months[days]} \|", readme), store


def test_the_vpc_default_security_group_admits_nothing_and_the_cluster_logs_expire(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.stateful)
    (restriction,) = resources(template, "Custom::VpcRestrictDefaultSG").values()
    (vpc,) = resources(template, "AWS::EC2::VPC")
    assert restriction["Properties"]["DefaultSecurityGroupId"] == {"Fn::GetAtt": [vpc, "DefaultSecurityGroup"]}
    (retention,) = resources(template, "Custom::LogRetention").values()
    (cluster,) = resources(template, "AWS::RDS::DBCluster")
    assert retention["Properties"]["LogGroupName"] == {
        "Fn::Join": ["", ["/aws/rds/cluster/", {"Ref": cluster}, "/postgresql"]]
    }
    assert retention["Properties"]["RetentionInDays"] == 30


def test_stateful_resources_are_kept_encrypted_and_recoverable(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.stateful)
    tables = resources(template, "AWS::DynamoDB::Table")
    assert len(tables) == 2
    assert len(resources(template, "AWS::SQS::Queue")) == 2
    for table in tables.values():
        assert table["DeletionPolicy"] == "Retain"
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
        assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    for queue in resources(template, "AWS::SQS::Queue").values():
        assert queue["DeletionPolicy"] == "Retain"
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    (cluster,) = resources(template, "AWS::RDS::DBCluster").values()
    assert cluster["DeletionPolicy"] == "Snapshot"
    assert cluster["Properties"]["StorageEncrypted"] is True
    assert cluster["Properties"]["DeletionProtection"] is True
    assert not resources(template, "AWS::SecretsManager::Secret").keys() - {
        name for name in resources(template, "AWS::SecretsManager::Secret") if "Cluster" in name
    }
    # What a deleted stack leaves has no fixed name, or the stage could not be deployed again.
    named = {"TableName", "QueueName", "Name", "DBClusterIdentifier"}
    kept = [body for body in template["Resources"].values() if body.get("DeletionPolicy") in {"Retain", "Snapshot"}]
    assert not [body for body in kept if named & body["Properties"].keys()]


def test_nothing_is_reachable_from_the_internet(synthesized: Synthesized) -> None:
    template = synthesized.json(synthesized.stateful)
    assert not resources(template, "AWS::EC2::InternetGateway")
    assert not resources(template, "AWS::EC2::NatGateway")


@pytest.mark.parametrize("stack_name", ["stateful", "application"])
def test_templates_are_cfn_lint_clean(synthesized: Synthesized, stack_name: str) -> None:
    stack = getattr(synthesized, stack_name)
    # W3005: the CDK adds DependsOn entries that a reference already implies; harmless.
    matches = lint(
        json.dumps(synthesized.json(stack)), config=ManualArgs(regions=[config.REGION], ignore_checks=["W3005"])
    )
    assert [str(match) for match in matches] == []


def test_every_nag_finding_is_acknowledged_with_a_reason(synthesized: Synthesized) -> None:
    """The synthesis above ran both packs and would have failed on any finding not acknowledged."""
    accepted = [
        acknowledgement
        for stack in (synthesized.stateful, synthesized.application)
        for construct in stack.node.find_all()
        for acknowledgement in findings_accepted_for(construct)
    ]
    assert all(len(acknowledgement.reason) > 40 for acknowledgement in accepted)
    raised = {
        violation.rule_name
        for pack in (AwsSolutionsChecks(), ServerlessChecks())
        for violation in pack.validate_scope(synthesized.app).violations
    }
    assert raised <= {acknowledgement.id.split("::", 1)[1] for acknowledgement in accepted}


def test_the_synthesis_warns_of_nothing(synthesized: Synthesized) -> None:
    """A warning is acknowledged where it arises, with its reason, or fixed: `make synth` prints none."""
    for stack in (synthesized.stateful, synthesized.application):
        annotations = Annotations.from_stack(stack)
        assert annotations.find_warning("*", Match.any_value()) == []
        assert annotations.find_error("*", Match.any_value()) == []


def test_a_finding_that_is_not_acknowledged_fails_the_synthesis() -> None:
    app = build_app()
    (application,) = [
        child for child in app.node.children if isinstance(child, Stack) and child.stack_name.endswith("application")
    ]
    sqs.Queue(application, "UnencryptedQueueWithoutTls", encryption=sqs.QueueEncryption.UNENCRYPTED)
    with pytest.raises(RuntimeError, match="ValidationFailed") as failed:
        app.synth()
    assert "UnencryptedQueueWithoutTls" in str(failed.value)


def test_every_lambda_task_waits_longer_than_its_function_runs_with_its_init_phase(synthesized: Synthesized) -> None:
    """A compensation must never start beside a step that still runs: the task outlasts its function."""
    template = synthesized.json(synthesized.application)
    states = json.loads(DEFINITION_FILE.read_text())["States"]
    for step in STEPS:
        for role, title in step.functions.items():
            function = project_functions(template)[
                function_named(template, f"{PACKAGE}.handlers.{role}", SAGA_STEP=step.name)
            ]
            assert function["Properties"]["Timeout"] == saga_timing().function_timeout
            assert states[title]["TimeoutSeconds"] > function["Properties"]["Timeout"] + INIT_PHASE_SECONDS
