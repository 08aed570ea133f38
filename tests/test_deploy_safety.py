"""Regenerating a deployed project with another saga shape must leave its data where it is.

A baseline project and one per kind of change are rendered and synthesized (each once, in parallel
processes). Every change must leave the stateful template as it was, so that deploying it replaces,
renames or deletes nothing that holds data, and the application stack must import nothing from the
stateful stack: an export in use would stop the stateful stack's next update. Switching
database_mode is a migration, not such a change: the comparison reports what it would replace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

from tests.conftest import TEMPLATE_ROOT

pytestmark = [pytest.mark.regeneration, pytest.mark.xdist_group("deploy_safety")]

BASELINE = {
    "services": "payment, inventory, shipping",
    "compensations": "payment=refund_payment, inventory=release_inventory",
    "consumers": "notifications, analytics",
}
CHANGES = {
    "add a step in the middle": {"services": "payment, fraud_check, inventory, shipping"},
    "remove a step": {"services": "payment, shipping", "compensations": "payment=refund_payment"},
    "reorder the steps": {"services": "inventory, payment, shipping"},
    "add a compensation": {"compensations": f"{BASELINE['compensations']}, shipping=cancel_shipment"},
    "remove a compensation": {"compensations": "payment=refund_payment"},
    "add a consumer": {"consumers": "notifications, analytics, audit"},
    "remove a consumer": {"consumers": "notifications"},
}
SWITCH = {"database_mode": "rds_proxy"}
# The properties whose change makes CloudFormation replace a resource that holds data, or its name.
REPLACED_WHEN_CHANGED = {
    "AWS::DynamoDB::Table": {"TableName", "KeySchema"},
    "AWS::SQS::Queue": {"QueueName", "FifoQueue"},
    "AWS::Events::EventBus": {"Name"},
    "AWS::Events::Archive": {"ArchiveName", "SourceArn"},
    "AWS::RDS::DBCluster": {"DBClusterIdentifier", "Engine", "DatabaseName", "DBSubnetGroupName", "StorageEncrypted"},
}


def synthesize(project: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stateful and application templates of the project's default stage, synthesized by its app.py."""
    environment = {**os.environ, "PYTHONPATH": "src", "CDK_OUTDIR": str(project / "cdk.out")}
    command = [sys.executable, "app.py"]
    synth = subprocess.run(command, cwd=project, env=environment, capture_output=True, text=True, check=False)
    assert synth.returncode == 0, f"{project.parent.name}: {synth.stderr[-3000:]}"
    stateful, application = (
        json.loads(next((project / "cdk.out").glob(f"*-{kind}.template.json")).read_text())
        for kind in ("stateful", "application")
    )
    return stateful, application


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    variants = {"baseline": BASELINE, **{name: BASELINE | change for name, change in CHANGES.items()}}
    variants["switch database_mode"] = BASELINE | SWITCH
    # Rendered one after the other (cookiecutter changes the working directory), synthesized side by side.
    output = tmp_path_factory.mktemp("deploy-safety")
    projects = {
        name: Path(
            cookiecutter(str(TEMPLATE_ROOT), no_input=True, output_dir=str(output / name), extra_context=answers)
        )
        for name, answers in variants.items()
    }
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        return dict(zip(projects, pool.map(synthesize, projects.values()), strict=True))


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What deploying ``after`` over ``before`` would do to each resource; "REPLACED" where it loses data."""
    old, new = before["Resources"], after["Resources"]
    found = [f"removed {name} ({old[name]['Type']})" for name in old.keys() - new.keys()]
    found += [f"added {name} ({new[name]['Type']})" for name in new.keys() - old.keys()]
    for name in old.keys() & new.keys():
        properties = [old[name].get("Properties", {}), new[name].get("Properties", {})]
        changed = {
            key
            for key in properties[0].keys() | properties[1].keys()
            if properties[0].get(key) != properties[1].get(key)
        }
        if changed or old[name] != new[name]:
            replaced = "REPLACED " if changed & REPLACED_WHEN_CHANGED.get(old[name]["Type"], set()) else ""
            found.append(
                f"{replaced}changed {name} ({old[name]['Type']}): {', '.join(sorted(changed)) or 'attributes'}"
            )
    return sorted(found)


@pytest.mark.parametrize("change", CHANGES)
def test_changing_the_saga_leaves_the_stateful_stack_as_it_was(templates: dict[str, Any], change: str) -> None:
    (baseline, _), (stateful, application) = templates["baseline"], templates[change]
    assert differences(baseline, stateful) == []
    assert stateful == baseline
    assert "Fn::ImportValue" not in json.dumps(application)


def test_switching_database_mode_would_be_reported(templates: dict[str, Any]) -> None:
    found = differences(templates["baseline"][0], templates["switch database_mode"][0])
    assert any(line.startswith("changed DatabaseCluster") and "AWS::RDS::DBCluster" in line for line in found), found
    assert any(line.startswith("added DatabaseClusterProxy") and "AWS::RDS::DBProxy" in line for line in found), found
