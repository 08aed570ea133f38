{%- set saga = cookiecutter | saga_model -%}
"""The saga's state machine, from the reviewed ASL file, with its logs and X-Ray tracing.

Each deploy publishes the definition as a version and points the stage's alias at it; sagas are
started through the alias. The definition invokes published versions of the functions, never
``$LATEST``: an execution, and a redrive of it, runs the definition and the code it started with,
whatever is deployed while it runs. Versions are kept when newer ones are published; deleting a
function (a step or a compensation removed from ``saga.py``) deletes all of its versions.
"""

from typing import cast

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.definition import DEFINITION_FILE
from {{ saga.package_name }} import saga
from {{ saga.package_name }}.naming import (
    DEAD_LETTER_QUEUE_PLACEHOLDER,
    EVENT_BUS_PLACEHOLDER,
    SAGA_TABLE_PLACEHOLDER,
    function_placeholder,
)


class SagaStateMachine(Construct):
    """Loads ``statemachine/saga.asl.json`` as is and fills its ``${...}`` placeholders."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_group_name: str,
        alias_name: str,
        functions: dict[str, lambda_.IVersion],
        status_table: dynamodb.ITable,
        event_bus: events.IEventBus,
        dead_letters: sqs.IQueue,
        customer_managed_key: bool = False,
    ) -> None:
        """``functions``: each Lambda function version the definition invokes, by the title it is named after.

        ``customer_managed_key``: encrypt the definition and the execution history with a KMS key of the
        stack's own, so that reading them takes a grant on it as well as ``states:`` permissions.

        ``log_group_name`` should start with /aws/vendedlogs/: it keeps the account's CloudWatch Logs
        resource policy small.
        """
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=log_group_name,
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.substitutions = {
            **{function_placeholder(title): function.function_arn for title, function in functions.items()},
            SAGA_TABLE_PLACEHOLDER: status_table.table_name,
            EVENT_BUS_PLACEHOLDER: event_bus.event_bus_name,
            DEAD_LETTER_QUEUE_PLACEHOLDER: dead_letters.queue_url,
        }
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType[saga.WORKFLOW_TYPE],
            definition_body=sfn.DefinitionBody.from_file(str(DEFINITION_FILE)),
            definition_substitutions=self.substitutions,
            tracing_enabled=True,
            # Execution data stays out of the logs: saga payloads may hold personal data.
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self.data_key = self._encrypt_with_own_key() if customer_managed_key else None
        self.version = sfn.CfnStateMachineVersion(
            self,
            "Version",
            state_machine_arn=self.state_machine.state_machine_arn,
            state_machine_revision_id=self.state_machine.state_machine_revision_id,
        )
        # Kept when the next deploy publishes another, like the function versions it invokes.
        self.version.apply_removal_policy(RemovalPolicy.RETAIN)
        self.alias = sfn.CfnStateMachineAlias(
            self,
            "Alias",
            name=alias_name,
            routing_configuration=[
                sfn.CfnStateMachineAlias.RoutingConfigurationVersionProperty(
                    state_machine_version_arn=self.version.attr_arn, weight=100
                )
            ],
        )
        # Every published version, never the unqualified function: an execution that started before the
        # last deploy still invokes the versions of its own definition.
        self.invoked_functions = [version.lambda_ for version in functions.values()]
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[f"{version.lambda_.function_arn}:*" for version in functions.values()],
            )
        )
        status_table.grant(self.state_machine, "dynamodb:PutItem")
        event_bus.grant_put_events_to(self.state_machine)
        dead_letters.grant_send_messages(self.state_machine)

    def _encrypt_with_own_key(self) -> kms.Key:
        """A KMS key of the stack's own for the definition and the execution history ($1 a month).

        Set on the CloudFormation resource: the CDK's CustomerManagedEncryptionConfiguration limits the role's
        use of the key to the state machine's name, which an unnamed state machine does not have at synthesis.
        The key is kept when the stack is deleted, so that the history of past executions stays readable.
        """
        key = kms.Key(self, "DataKey", enable_key_rotation=True, description="The saga's execution data")
        machine = cast(sfn.CfnStateMachine, self.state_machine.node.default_child)
        machine.encryption_configuration = sfn.CfnStateMachine.EncryptionConfigurationProperty(
            type="CUSTOMER_MANAGED_KMS_KEY", kms_key_id=key.key_arn, kms_data_key_reuse_period_seconds=300
        )
        stack = Stack.of(self)
        machines = stack.format_arn(service="states", resource="stateMachine:*", arn_format=ArnFormat.NO_RESOURCE_NAME)
        log_groups = stack.format_arn(service="logs", resource="*", arn_format=ArnFormat.NO_RESOURCE_NAME)
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:states:stateMachineArn": machines}},
            )
        )
        # Its log deliveries carry no execution data, but are encrypted with the same key.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"ArnLike": {"kms:EncryptionContext:SourceArn": log_groups}},
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
                actions=["kms:Decrypt"],
                resources=["*"],
            )
        )
        return key

    def grant_start_execution(self, grantee: iam.IGrantable) -> None:
        """Lets ``grantee`` start sagas through the alias, so that they run the version it points at."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["states:StartExecution"], resource_arns=[self.alias.attr_arn]
        )
