"""The saga itself: its functions, the state machine, the consumers' subscriptions and the monitoring."""

import importlib

from aws_cdk import Duration, Environment, Stack, triggers
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import config, packaging
from infra.events import EventRoute
from infra.monitoring import Monitoring
from infra.queues import DeadLetterQueue
from infra.saga import Saga
from infra.service_function import ServiceFunction
from infra.stateful import StatefulStack

# Lambda times out after this; the state machine gives each task a little longer, so a
# slow invocation surfaces as the function's own timeout, with its logs.
STEP_TIMEOUT = Duration.seconds(20)


class ApplicationStack(Stack):
    """Stateless: every resource here can be deleted and recreated from code without losing data."""

    def __init__(self, scope: Construct, construct_id: str, *, env: Environment, stateful: StatefulStack) -> None:
        super().__init__(scope, construct_id, env=env)
        self.stateful = stateful
        self.functions: dict[str, ServiceFunction] = {}

        task_functions: dict[str, lambda_.IFunction] = {}
        for step in config.STEPS:
            action = self._function(
                f"{step.title}Function",
                folder=("services", step.name),
                handler="handle_action",
                service_name=step.name,
                description=f"the {step.name} step of the saga",
                with_database=True,
            )
            task_functions[step.title] = action.function
            if step.compensation and step.compensation_title:
                compensation = self._function(
                    f"{step.compensation_title}Function",
                    folder=("services", step.name),
                    handler="handle_compensation",
                    service_name=step.name,
                    description=f"{step.compensation}, the compensation of the {step.name} step",
                    with_database=True,
                )
                task_functions[step.compensation_title] = compensation.function

        self.saga = Saga(
            self,
            "Saga",
            functions=task_functions,
            status_table=stateful.status_table,
            event_bus=stateful.events.bus,
            compensation_dead_letters=stateful.compensation_dead_letters,
        )

        models = importlib.import_module(f"{config.PACKAGE}.runtime.models")
        self.subscriptions: dict[str, EventRoute] = {}
        for name in config.CONSUMERS:
            title = name.title().replace("_", "")
            dead_letters = DeadLetterQueue(self, f"{title}DeadLetters")
            consumer = self._function(
                f"{title}Consumer",
                folder=("consumers", name),
                handler="handle",
                service_name=name,
                description=f"the {name} consumer of the saga's outcomes",
                dead_letter_queue=dead_letters,
            )
            detail_types = importlib.import_module(f"{config.PACKAGE}.consumers.{name}").DETAIL_TYPES
            pattern = models.outcome_event_pattern(detail_types)
            self.subscriptions[name] = EventRoute(
                self,
                f"{title}Subscription",
                bus=stateful.events.bus,
                pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"]),
                function=consumer.function,
                dead_letter_queue=dead_letters,
                description=f"The outcome events the {name} consumer handles",
            )

        request_dead_letters = DeadLetterQueue(self, "SagaRequestDeadLetters")
        starter = self._function(
            "SagaStarter",
            folder=("starter",),
            handler="handle",
            service_name="starter",
            description="the starter of sagas requested on the event bus",
            with_idempotency=False,
            environment={"SAGA_STATE_MACHINE_ARN": self.saga.state_machine.state_machine_arn},
            dead_letter_queue=request_dead_letters,
        )
        self.saga.state_machine.grant_start_execution(starter.function)
        self.requests = EventRoute(
            self,
            "SagaRequests",
            bus=stateful.events.bus,
            pattern=events.EventPattern(detail_type=[models.SAGA_REQUESTED]),
            function=starter.function,
            dead_letter_queue=request_dead_letters,
            description="Starts a saga for each SagaRequested event, whatever its source",
        )

        migrations = self._function(
            "Migrations",
            folder=(),
            handler="database.migrate.handler",
            service_name="migrations",
            description="the database migrations, run at each deployment",
            with_database=True,
            with_idempotency=False,
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
            state_machine=self.saga.state_machine,
            compensation_dead_letters=stateful.compensation_dead_letters,
            functions={name: function.function for name, function in self.functions.items()},
            consumer_dead_letters={
                **{name: subscription.dead_letter_queue for name, subscription in self.subscriptions.items()},
                "saga_requests": request_dead_letters,
            },
        )

    def _function(
        self,
        construct_id: str,
        *,
        folder: tuple[str, ...],
        handler: str,
        service_name: str,
        description: str,
        with_database: bool = False,
        with_idempotency: bool = True,
        environment: dict[str, str] | None = None,
        timeout: Duration = STEP_TIMEOUT,
        dead_letter_queue: DeadLetterQueue | None = None,
    ) -> ServiceFunction:
        database = self.stateful.database
        module = ".".join((config.PACKAGE, *folder, "handler")) if folder else config.PACKAGE
        function = ServiceFunction(
            self,
            construct_id,
            handler=f"{module}.{handler}",
            code=lambda_.Code.from_asset(str(packaging.function_asset(*folder, with_database=with_database))),
            service_name=service_name,
            description=description,
            environment={
                **({"IDEMPOTENCY_TABLE_NAME": self.stateful.idempotency_table.table_name} if with_idempotency else {}),
                **(database.environment if with_database else {}),
                **(environment or {}),
            },
            network=database.network if with_database else None,
            timeout=timeout,
            dead_letter_queue=dead_letter_queue,
        )
        if with_idempotency:
            # The four calls Powertools idempotency makes, nothing else.
            self.stateful.idempotency_table.grant(
                function.role, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
            )
        if with_database:
            database.grant_access(function.role)
        self.functions[construct_id] = function
        return function
