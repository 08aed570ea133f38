"""Alarms on what needs a person, and one dashboard of the saga's health.

A person is needed when an execution fails (a compensation failed, a status record or an event
could not be written), is stopped before its end, when a message waits in a dead-letter queue (and
again days before it would expire there), and when a function crashes or is throttled. A business
rejection is not one of those: it ends the saga ``FAILED`` in an execution that succeeds, and shows
in the ``Rejected`` metric, not in an alarm.

How an execution is stopped before its end depends on the workflow type, and only the metric that
can be emitted gets an alarm: an EXPRESS execution times out at 5 minutes and cannot be stopped by
hand (StopExecution does not apply to it); a STANDARD one has no time limit (every task has its
own) but can be stopped by hand, which leaves the saga half done.
"""

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.aws_cloudwatch_actions import SnsAction
from constructs import Construct

from infra import queues
from infra.options import AlarmRecipients
from infra.service_function import ServiceFunction
from {{ cookiecutter.package_name }} import saga
from {{ cookiecutter.package_name }}.naming import OBSERVABILITY_FAILED

FIVE_MINUTES = Duration.minutes(5)
# A dead letter is money to give back by hand: its age alarms this long before the queue drops it.
DEAD_LETTER_EXPIRY_WARNING = Duration.days(4)


class Monitoring(Construct):
    """Every alarm notifies the stage's SNS topic, and the on-call topic ``recipients`` names if any.

    ``name``, the stage's, names the dashboard and the topic.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        recipients: AlarmRecipients,
        state_machine: sfn.StateMachine,
        functions: dict[str, ServiceFunction],
        dead_letter_queues: dict[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", display_name=f"{name} saga alarms", enforce_ssl=True)
        # The TLS-only policy replaces SNS's default one: without this statement no alarm could publish.
        stack = Stack.of(self)
        this_accounts_alarms = stack.format_arn(
            service="cloudwatch", resource="alarm", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": this_accounts_alarms},
                },
            )
        )
        if recipients.email:
            self.topic.add_subscription(subscriptions.EmailSubscription(recipients.email))
        self.actions = [SnsAction(self.topic)]
        if recipients.topic_arn:
            self.actions.append(SnsAction(sns.Topic.from_topic_arn(self, "OnCall", recipients.topic_arn)))
        self.alarms: list[cloudwatch.Alarm] = []

        stopped = (
            ("ExecutionsTimedOut", state_machine.metric_timed_out, "timed out at 5 minutes")
            if saga.WORKFLOW_TYPE == "EXPRESS"
            else ("ExecutionsAborted", state_machine.metric_aborted, "were stopped by hand, leaving sagas half done")
        )
        for alarm_id, metric, what in (
            ("ExecutionsFailed", state_machine.metric_failed, "failed: a compensation, a record or an event"),
            stopped,
        ):
            self._alarm(alarm_id, metric(period=FIVE_MINUTES, statistic="Sum"), f"Saga executions {what}")
        for purpose, queue in dead_letter_queues.items():
            self._alarm(
                f"{purpose.title()}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
                f"A message waits in the {purpose} dead-letter queue",
            )
            expiring = queues.RETENTION.to_seconds() - DEAD_LETTER_EXPIRY_WARNING.to_seconds()
            self._alarm(
                f"{purpose.title()}DeadLettersExpiring",
                queue.metric_approximate_age_of_oldest_message(period=Duration.hours(1), statistic="Maximum"),
                f"A message in the {purpose} dead-letter queue is {DEAD_LETTER_EXPIRY_WARNING.to_days():.0f} days "
                "from being dropped",
                threshold=expiring,
            )
        for function_id, function in functions.items():
            self._alarm(f"{function_id}Crashes", crashes(function), f"{function.service_name} crashed or timed out")
            self._alarm(
                f"{function_id}Throttles",
                function.function.metric_throttles(period=FIVE_MINUTES),
                f"{function.service_name} was throttled",
            )
        self._observability_alarm(functions)

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=name, default_interval=Duration.hours(6)
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    state_machine.metric_started(period=FIVE_MINUTES),
                    state_machine.metric_succeeded(period=FIVE_MINUTES),
                    state_machine.metric_failed(period=FIVE_MINUTES),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Execution time (p50, p99)",
                left=[
                    state_machine.metric_time(period=FIVE_MINUTES, statistic="p50"),
                    state_machine.metric_time(period=FIVE_MINUTES, statistic="p99"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Rejections (business answers, not errors)",
                left=[handler_metric(function, "Rejected") for function in functions.values()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function duration p99",
                left=[
                    function.function.metric_duration(period=FIVE_MINUTES, statistic="p99", label=function.service_name)
                    for function in functions.values()
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )

    def _observability_alarm(self, functions: dict[str, ServiceFunction]) -> None:
        """Counted from the logs: when a handler's metrics fail, they cannot report it themselves."""
        filters = [
            function.log_group.add_metric_filter(
                "ObservabilityFailed",
                filter_pattern=logs.FilterPattern.string_value("$.message", "=", OBSERVABILITY_FAILED),
                metric_namespace=function.metrics_namespace,
                metric_name="ObservabilityFailed",
                metric_value="1",
            )
            for function in functions.values()
        ]
        self._alarm(
            "ObservabilityFailed",
            filters[0].metric(period=FIVE_MINUTES, statistic="Sum"),
            "A function's metrics, traces or logs failed and were lost; its saga went on (see its warning)",
        )

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, description: str, threshold: float = 1) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(*self.actions)
        self.alarms.append(alarm)


def handler_metric(function: ServiceFunction, name: str) -> cloudwatch.Metric:
    """A metric the function's handler publishes (Powertools metrics, dimension ``service``)."""
    return cloudwatch.Metric(
        namespace=function.metrics_namespace,
        metric_name=name,
        dimensions_map={"service": function.service_name},
        period=FIVE_MINUTES,
        statistic="Sum",
        label=function.service_name,
    )


def crashes(function: ServiceFunction) -> cloudwatch.MathExpression:
    """The function's errors that are neither retried nor a business answer: crashes, timeouts, bad input."""
    return cloudwatch.MathExpression(
        expression="errors - FILL(expected, 0)",
        using_metrics={
            "errors": function.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            "expected": handler_metric(function, "ExpectedFailures"),
        },
        period=FIVE_MINUTES,
        label=f"{function.service_name} crashes",
    )
