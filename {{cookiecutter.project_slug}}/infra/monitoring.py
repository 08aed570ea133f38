"""Alarms on what needs a person, and one dashboard of the saga's health."""

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.aws_cloudwatch_actions import SnsAction
from constructs import Construct

from infra import config


class Monitoring(Construct):
    """Every alarm notifies one SNS topic: subscribe the on-call address or chat integration to it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.StateMachine,
        compensation_dead_letters: sqs.IQueue | None,
        functions: dict[str, lambda_.IFunction],
        consumer_dead_letters: dict[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", display_name=f"{config.PROJECT} saga alarms", enforce_ssl=True)
        self.alarms: list[cloudwatch.Alarm] = []

        five_minutes = Duration.minutes(5)
        self._alarm(
            "FailedExecutions",
            state_machine.metric_failed(period=five_minutes, statistic="Sum"),
            "Saga executions failed (compensated or not) in the last 5 minutes",
        )
        if compensation_dead_letters is not None:
            self._alarm(
                "CompensationDeadLetters",
                compensation_dead_letters.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                "A compensation failed: the saga's whole state is in the compensation dead-letter queue",
            )
        for name, queue in consumer_dead_letters.items():
            self._alarm(
                f"{name.title().replace('_', '')}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
                f"Outcome events the {name} consumer could not handle",
            )
        for name, function in functions.items():
            self._alarm(f"{name}Errors", function.metric_errors(period=five_minutes), f"{name} raised errors")
            self._alarm(f"{name}Throttles", function.metric_throttles(period=five_minutes), f"{name} was throttled")

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=config.PROJECT, default_interval=Duration.hours(6)
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    state_machine.metric_started(period=five_minutes),
                    state_machine.metric_succeeded(period=five_minutes),
                    state_machine.metric_failed(period=five_minutes),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Execution time (p50, p99)",
                left=[
                    state_machine.metric_time(period=five_minutes, statistic="p50"),
                    state_machine.metric_time(period=five_minutes, statistic="p99"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[function.metric_errors(period=five_minutes, label=name) for name, function in functions.items()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function duration p99",
                left=[
                    function.metric_duration(period=five_minutes, statistic="p99", label=name)
                    for name, function in functions.items()
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )

    def _alarm(self, construct_id: str, metric: cloudwatch.Metric, description: str) -> None:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(SnsAction(self.topic))
        self.alarms.append(alarm)
