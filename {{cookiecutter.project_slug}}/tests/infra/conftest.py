"""One synthesis of the whole app per test session, shared by the infrastructure tests."""

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template
from aws_cdk.cx_api import CloudAssembly

from app import build_app


@dataclass
class Synthesized:
    app: App
    assembly: CloudAssembly
    stateful: Stack
    application: Stack

    def template(self, stack: Stack) -> Template:
        return Template.from_stack(stack)

    def json(self, stack: Stack) -> dict[str, Any]:
        return dict(self.assembly.get_stack_by_name(stack.stack_name).template)


@pytest.fixture(scope="session")
def synthesized() -> Synthesized:
    app = build_app()
    assembly = app.synth()
    stacks = [child for child in app.node.children if isinstance(child, Stack)]
    stateful, application = sorted(stacks, key=lambda stack: stack.stack_name.endswith("application"))
    return Synthesized(app=app, assembly=assembly, stateful=stateful, application=application)


def granted(template: dict[str, Any], function: dict[str, Any], action: str) -> list[Any]:
    """The resources the function's role may call ``action`` on."""
    role = {"Ref": function["Properties"]["Role"]["Fn::GetAtt"][0]}
    statements = [
        statement
        for policy in template["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy" and role in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    return [
        resource
        for statement in statements
        if action in statement["Action"]
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    ]
