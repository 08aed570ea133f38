"""The CDK app: `cdk synth` and `cdk deploy` run this. cdk-nag checks every synthesis."""

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra import config
from infra.acknowledgements import acknowledge_findings
from infra.application import ApplicationStack
from infra.stateful import StatefulStack


def build_app() -> App:
    app = App()
    env = Environment(region=config.REGION)
    stateful = StatefulStack(app, f"{config.PROJECT}-stateful", env=env)
    application = ApplicationStack(app, f"{config.PROJECT}-application", env=env, stateful=stateful)
    acknowledge_findings(stateful, application)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
