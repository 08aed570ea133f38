"""The CDK app: `cdk synth` and `cdk deploy` run this. cdk-nag checks every synthesis.

`-c stage=NAME` chooses the stage, an independent copy of both stacks (default: dev); ``infra.options``
lists the other context values it takes: where its alarms go, who may request sagas, the saga's data key.
"""

# The package's sources must be importable before the stacks are.
# ruff: noqa: E402
import json
import sys
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# `make install` installs the package; a virtualenv shared by several projects may not have it.
if find_spec("{{ cookiecutter.package_name }}") is None:
    sys.path.insert(0, str(ROOT / "src"))

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra import config, options
from infra.acknowledgements import acknowledge_findings
from infra.application import ApplicationStack
from infra.stateful import StatefulStack


def stage_of(app: App) -> str:
    stage = app.node.try_get_context("stage") or config.DEFAULT_STAGE
    if not isinstance(stage, str) or len(stage) > config.MAX_STAGE_LENGTH or not config.STAGE.fullmatch(stage):
        raise SystemExit(
            f"stage {stage!r} must be lower-case letters, digits and single hyphens, start with a letter and be "
            f"at most {config.MAX_STAGE_LENGTH} characters long: it names the stage's stacks and resources"
        )
    return stage


def build_app(context: dict[str, str] | None = None) -> App:
    """The CLI hands the app cdk.json's context; without the CLI (the tests) it is read here, so that both
    synthesize the same templates."""
    defaults = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = App(context={**defaults, **(context or {})})
    stage = stage_of(app)
    chosen = options.read(app.node.get_all_context(), defaults, stage)
    env = Environment(region=config.REGION)
    prefix = config.stage_prefix(stage)
    stateful = StatefulStack(app, f"{prefix}-stateful", env=env, stage=stage)
    application = ApplicationStack(app, f"{prefix}-application", env=env, stage=stage, options=chosen)
    # Its values are read from the parameters the stateful stack writes, not from its exports.
    application.add_stack_dependency(stateful)
    acknowledge_findings(stateful, application)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
