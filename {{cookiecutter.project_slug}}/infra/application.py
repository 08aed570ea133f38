{%- set saga = cookiecutter | saga_model -%}
"""The saga itself: its functions, the state machine, the consumers' subscriptions and the monitoring."""

from aws_cdk import CfnOutput, Duration, Environment, Stack, triggers
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import config, packaging, queues
from infra.definition import saga_timing
from infra.events import EventRoute, PublishersOnly
from infra.monitoring import Monitoring
from infra.options import Options
from infra.service_function import IDEMPOTENCY_ACTIONS, ServiceFunction
from infra.state_machine import SagaStateMachine
from infra.stateful import StatefulResources
from {{ saga.package_name }} import saga
from {{ saga.package_name }}.naming import (
    MIGRATOR_ROLE,
    PACKAGE,
    REQUEST_SOURCE_PREFIX,
    SAGA_REQUESTED,
    consumer_key_prefix,
    function_construct_id,
    step_key_prefix,
    step_role,
)

OTHER_FUNCTION_TIMEOUT = Duration.seconds(30)
# Attempts of each AWS call the starter makes: their backoffs (1, 2, 4, 8 s at most) fit in its timeout.
STARTER_ATTEMPTS = 5
# The output that names the stage's state machine alias; `make preflight` finds the executions through it.
STATE_MACHINE_ALIAS_OUTPUT = "StateMachineAliasArn"


def function_name_output(construct_id: str) -> str:
    """The output that names a function's generated name: `make preflight` finds the ones a deploy deletes by it."""
    return f"{construct_id}Name"


class ApplicationStack(Stack):
    """Stateless: every resource here can be deleted and recreated from code without losing data."""

    def __init__(self, scope: Construct, construct_id: str, *, env: Environment, stage: str, options: Options) -> None:
        super().__init__(scope, construct_id, env=env)
        self.stage = stage
        self.stateful = stateful = StatefulResources(self, "Stateful", stage=stage)
        self.functions: dict[str, ServiceFunction] = {}
        # The state machine waits for each of them longer than this, init phase included.
        step_timeout = Duration.seconds(saga_timing().function_timeout)

        task_functions: dict[str, lambda_.IVersion] = {}
        for step in saga.STEPS:
            for role, title in step.functions.items():
                name = step.name if role == "action" else str(step.compensation)
                task_functions[title] = self._function(
                    function_construct_id(title),
                    asset=packaging.step_asset(step.name),
                    handler=f"{PACKAGE}.handlers.{role}",
                    name=name,
                    description=f"{name}, the {role} of the {step.name} step",
                    environment={"SAGA_STEP": step.name},
                    # A compensation also writes its action's record, to cancel an action that never completed.
                    idempotency_keys=[step_key_prefix(step.name, "action")]
                    + ([step_key_prefix(step.name, role)] if role == "compensation" else []),
                    database_role=step_role(step.name),
                    timeout=step_timeout,
                ).function.current_version

        self.saga = SagaStateMachine(
            self,
            "Saga",
            log_group_name=f"/aws/vendedlogs/states/{config.stage_prefix(stage)}",
            alias_name=config.stage_prefix(stage),
            functions=task_functions,
            status_table=stateful.status_table,
            event_bus=stateful.event_bus,
            dead_letters=stateful.saga_dead_letters,
            customer_managed_key=options.customer_managed_key,
        )
        self.bus_policy = PublishersOnly(
            self,
            "BusPolicy",
            bus=stateful.event_bus,
            saga_role=self.saga.state_machine.role,
            producers=options.producers,
            operators=options.operators,
        )

        self.subscriptions: dict[str, EventRoute] = {}
        for consumer in saga.CONSUMERS:
            function = self._function(
                f"{consumer.title}Consumer",
                asset=packaging.consumer_asset(consumer.name),
                handler=f"{PACKAGE}.handlers.outcome",
                name=consumer.name,
                description=f"the {consumer.name} consumer of the saga's outcomes",
                # It accepts the outcomes of this stage's executions only.
                idempotency_keys=[consumer_key_prefix(consumer.name)],
                environment={
                    "SAGA_CONSUMER": consumer.name,
                    "SAGA_STATE_MACHINE_ARN": self.saga.state_machine.state_machine_arn,
                },
                asynchronous=True,
            )
            pattern = consumer.event_pattern
            self.subscriptions[consumer.name] = EventRoute(
                self,
                f"{consumer.title}Subscription",
                bus=stateful.event_bus,
                pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"]),
                function=function.function,
                dead_letter_queue=stateful.delivery_dead_letters,
                description=f"The outcome events the {consumer.name} consumer receives",
            )

        starter = self._function(
            "SagaStarter",
            asset=packaging.starter_asset(),
            handler=f"{PACKAGE}.starter.handle",
            name="starter",
            description="the starter of sagas requested on the event bus",
            environment={
                "SAGA_STATE_MACHINE_ARN": self.saga.alias.attr_arn,
                "SAGA_TABLE_NAME": stateful.status_table.table_name,
                # A throttled StartExecution is retried, at a rate the client adapts, before the request fails
                # and is retried by Lambda, then dead-lettered: botocore reads these for every client.
                "AWS_RETRY_MODE": "adaptive",
                "AWS_MAX_ATTEMPTS": str(STARTER_ATTEMPTS),
            },
            asynchronous=True,
        )
        self.saga.grant_start_execution(starter.function)
        if self.saga.data_key:
            # StartExecution encrypts the saga's input with the state machine's key, on the caller's behalf.
            self.saga.data_key.grant(starter.role, "kms:GenerateDataKey")
        # Its claim on a saga id: a conditional put, and a read when another claim came first.
        stateful.status_table.grant(starter.role, "dynamodb:PutItem", "dynamodb:GetItem")
        self.requests = EventRoute(
            self,
            "SagaRequests",
            bus=stateful.event_bus,
            pattern=events.EventPattern(
                source=events.Match.prefix(REQUEST_SOURCE_PREFIX), detail_type=[SAGA_REQUESTED]
            ),
            function=starter.function,
            dead_letter_queue=stateful.delivery_dead_letters,
            description=f"Starts a saga for each {SAGA_REQUESTED} event from a source under {REQUEST_SOURCE_PREFIX}",
        )

        migrations = self._function(
            "Migrations",
            asset=packaging.migrations_asset(),
            handler=f"{PACKAGE}.database.migrate.handler",
            name="migrations",
            description="the database migrations, run at each deployment",
            database_role=MIGRATOR_ROLE,
            timeout=Duration.minutes(5),
        )
        # Runs during every deployment, after the database exists and before the functions that use it change.
        self.migrations_trigger = triggers.Trigger(
            self,
            "MigrationsTrigger",
            handler=migrations.function,
            execute_on_handler_change=True,
            timeout=Duration.minutes(10),
            execute_before=[fn for fn in self.functions.values() if fn is not migrations],
        )

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            name=config.stage_prefix(stage),
            recipients=options.alarm_recipients,
            state_machine=self.saga.state_machine,
            functions=self.functions,
            dead_letter_queues={
                "saga": stateful.saga_dead_letters,
                "delivery": stateful.delivery_dead_letters,
            },
        )
        self._outputs()

    def _outputs(self) -> None:
        """What the person on call looks up: `aws cloudformation describe-stacks --query Stacks[0].Outputs`."""
        kept = f"kept {queues.RETENTION.to_days():.0f} days"
        outputs = {
            "AlarmTopicArn": (self.monitoring.topic.topic_arn, "The SNS topic every alarm of the stage notifies"),
            STATE_MACHINE_ALIAS_OUTPUT: (self.saga.alias.attr_arn, "The state machine alias sagas are started through"),
            "SagaDeadLetterQueueUrl": (self.stateful.saga_dead_letters.queue_url, f"Sagas to finish by hand, {kept}"),
            "DeliveryDeadLetterQueueUrl": (
                self.stateful.delivery_dead_letters.queue_url,
                f"Events a consumer or the starter could not handle, {kept}",
            ),
        }
        for construct_id, function in self.functions.items():
            description = f"The {function.service_name} function"
            outputs[function_name_output(construct_id)] = (function.function.function_name, description)
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)

    def _function(
        self,
        construct_id: str,
        *,
        asset: str,
        handler: str,
        name: str,
        description: str,
        environment: dict[str, str] | None = None,
        database_role: str | None = None,
        idempotency_keys: list[str] | None = None,
        asynchronous: bool = False,
        timeout: Duration = OTHER_FUNCTION_TIMEOUT,
    ) -> ServiceFunction:
        database = self.stateful.database
        function = ServiceFunction(
            self,
            construct_id,
            handler=handler,
            code=lambda_.Code.from_asset(asset),
            service_name=name,
            metrics_namespace=config.metrics_namespace(self.stage),
            description=description,
            environment={
                **({"IDEMPOTENCY_TABLE_NAME": self.stateful.idempotency_table.table_name} if idempotency_keys else {}),
                **(database.environment(database_role) if database_role else {}),
                **(environment or {}),
            },
{%- if saga.database_mode == "rds_proxy" %}
            network=database.network if database_role else None,
{%- endif %}
            timeout=timeout,
            dead_letter_queue=self.stateful.delivery_dead_letters if asynchronous else None,
        )
        if idempotency_keys:
            # Powertools writes keys as "<prefix>#<hash>": the function may touch its own records only.
            function.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=IDEMPOTENCY_ACTIONS,
                    resources=[self.stateful.idempotency_table.table_arn],
                    conditions={
                        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{key}#*" for key in idempotency_keys]}
                    },
                )
            )
        if database_role:
            database.grant_access(function.role, database_role)
        self.functions[construct_id] = function
        return function
