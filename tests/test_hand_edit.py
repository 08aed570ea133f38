"""The generated README's "Adding a step by hand", followed literally: saga.py, the step's module, `make definition`.

An Express project whose saga would not fit in an execution with the new step says to make it STANDARD first
with `make regenerate`; the test does that too, so the README is followed in both workflow types.
"""

import os
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import run, tool
from tests.test_regeneration import commit_all, copy_template, create

pytestmark = pytest.mark.regeneration


@pytest.mark.parametrize("workflow_type", ["STANDARD", "EXPRESS"])
def test_a_compensated_step_added_by_hand_in_the_middle_runs_in_the_saga(tmp_path: Path, workflow_type: str) -> None:
    template = copy_template(tmp_path / "template")
    project = create(template, tmp_path, workflow_type=workflow_type)
    package = project / "src" / "order_saga"
    environment = {
        "VIRTUAL_ENV": str(Path(tool("python")).parent.parent),
        "PATH": f"{Path(tool('python')).parent}{os.pathsep}{os.environ['PATH']}",
    }
    readme = (project / "README.md").read_text()
    assert 'Step("fraud_check", compensation="clear_fraud_hold")' in readme
    # The default saga is at the limit of an Express execution: its README says to switch first, and how.
    switch = re.search(r"make it STANDARD first, `(make regenerate VARIABLES='[^']+')`", readme)
    assert (switch is not None) == (workflow_type == "EXPRESS")
    if switch:
        switched = run(shlex.split(switch.group(1)), project, env=environment)
        assert switched.returncode == 0, switched.stdout + switched.stderr
        assert re.search(r'^WORKFLOW_TYPE\b.* = "STANDARD"$', (package / "saga.py").read_text(), re.MULTILINE)
        commit_all(project, "STANDARD")
    first = re.search(r'    Step\("(\w+)", compensation="(\w+)"\),\n', (package / "saga.py").read_text())
    assert first is not None, "the default saga starts with a compensated step"
    step, compensation = first.groups()

    # 1. Add it to STEPS, where it belongs in the order, with its compensation.
    saga = package / "saga.py"
    saga.write_text(
        saga.read_text().replace(
            first.group(0), first.group(0) + '    Step("fraud_check", compensation="clear_fraud_hold"),\n'
        )
    )
    # 2. Its module (copied from a step that has a compensation) and its table's migration.
    module = (package / "steps" / f"{step}.py").read_text()
    (package / "steps" / "fraud_check.py").write_text(
        module.replace(compensation, "clear_fraud_hold").replace(step, "fraud_check")
    )
    migrations = package / "database" / "migrations"
    (migrations / "fraud_check").mkdir()
    migration = (migrations / step / f"0001_create_{step}.sql").read_text().replace(step, "fraud_check")
    (migrations / "fraud_check" / "0001_create_fraud_check.sql").write_text(migration)
    # 3. make definition.
    made = run(["make", "definition"], project, env=environment)
    assert made.returncode == 0, made.stdout + made.stderr

    definition = (project / "statemachine" / "saga.asl.json").read_text()
    assert '"Next": "FraudCheck"' in definition
    assert "${ClearFraudHoldFunctionArn}" in definition
    assert "| 2 | `fraud_check` | `clear_fraud_hold` | `FraudCheckRejected` |" in (project / "README.md").read_text()
    suites = ["tests/saga", "tests/test_steps.py", "tests/test_tools.py"]
    tested = run([tool("python"), "-m", "pytest", "-v", "-p", "no:cacheprovider", *suites], project)
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    # The tests written once for every step now cover it too, alone and in the saga.
    assert "[fraud_check-action]" in tested.stdout
    assert "test_every_step_failing_every_way[fraud_check-crash]" in tested.stdout
