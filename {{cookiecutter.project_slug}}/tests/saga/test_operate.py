"""The operator's command line, end to end against the offline deployment: ``status`` and ``finish``."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devtools.harness.runner import Hold
from {{ cookiecutter.package_name }} import operate
from {{ cookiecutter.package_name }}.naming import Step
from {{ cookiecutter.package_name }}.runtime.envelope import OutcomeEvent
from {{ cookiecutter.package_name }}.saga import STEPS

if TYPE_CHECKING:
    from devtools.harness.runner import SagaHarness, SagaRun

FIRST_COMPENSATED = [step for step in STEPS if step.compensation][:1]
# The commands the README's "Operating" section gives, run here on a saga that does not exist.
README = (Path(__file__).parents[2] / "README.md").read_text()
README_COMMANDS = re.findall(rf"^python -m {operate.__name__} (\w+) \S+ ", README, re.MULTILINE)
NOT_FOUND = "ERROR: no saga 'never-seen' in the saga table sagas"


def left_in_the_dead_letter_queue(harness: "SagaHarness", saga_id: str, failing: Step) -> "SagaRun":
    """A saga whose compensation fails on every attempt; the harness reads the queue for its report, so the
    dead letter is put back where the state machine left it. The fault ends with the run."""
    run = harness.run({"saga_id": saga_id, "payload": {}}, {STEPS[-1].name: "crash"}, {str(failing.compensation)})
    for message in run.dlq_messages:
        harness.account.sqs.send_message(QueueUrl=harness.account.dead_letter_queue, MessageBody=json.dumps(message))
    return run


@pytest.mark.parametrize("failing", FIRST_COMPENSATED, ids=lambda step: str(step.compensation))
def test_finish_completes_a_saga_a_failed_compensation_left_behind(harness: "SagaHarness", failing: Step) -> None:
    run, account = left_in_the_dead_letter_queue(harness, "operate-finish", failing), harness.account
    assert (run.record and run.record["status"], run.effects[failing.name]) == ("COMPENSATION_FAILED", "DONE")
    assert operate.main(["finish", run.saga_id]) == 0
    assert harness.database.effects(run.saga_id) == {s.name: "COMPENSATED" if s.compensation else "DONE" for s in STEPS}
    outcome = {"saga_id": run.saga_id, "status": "FAILED", "failed_step": STEPS[-1].name, "error": "InjectedCrash"}
    record = account.status_record(run.saga_id) or {}
    assert {key: value for key, value in record.items() if key in outcome} == outcome
    events = [event for event in account.drain(account.events_queue) if event["detail"]["saga_id"] == run.saga_id]
    assert [(event["detail-type"], event["detail"]) for event in events] == [("SagaFailed", outcome)]
    assert OutcomeEvent.parse(events[0]).published_by(account.state_machine_arn), "the consumers accept it"
    assert account.drain(account.dead_letter_queue) == []
    assert operate.main(["finish", run.saga_id]) == 1, "a second run finds nothing to finish"


@pytest.mark.parametrize("failing", FIRST_COMPENSATED, ids=lambda step: str(step.compensation))
def test_status_names_the_failed_compensations_and_the_dead_letter(
    harness: "SagaHarness", failing: Step, capsys: Any
) -> None:
    run = left_in_the_dead_letter_queue(harness, "operate-status", failing)
    assert operate.main(["status", run.saga_id]) == 0
    report = capsys.readouterr().out
    assert f"saga {run.saga_id}: COMPENSATION_FAILED" in report
    assert f"compensations failed: {failing.compensation} (InjectedCrash)" in report
    assert "dead letter: held (COMPENSATION_FAILED)" in report
    # Reading it changed nothing: the dead letter is still there, visible to the next reader.
    assert [message["state"]["saga_id"] for message in harness.account.drain(harness.account.dead_letter_queue)] == [
        run.saga_id
    ]


def test_the_readme_shows_every_command_of_operate(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        operate.main(["--help"])
    assert sorted(README_COMMANDS) == sorted(re.findall(r"\{(.*?)\}", capsys.readouterr().out)[0].split(","))


@pytest.mark.parametrize(
    ("command", "saga_id", "refusal"),
    [
        *((command, "never-seen", NOT_FOUND) for command in README_COMMANDS),
        ("finish", "succeeded", "ERROR: saga succeeded needs no finishing: it is SUCCEEDED, no dead letter holds it"),
        ("finish", "running", "ERROR: saga running is still running (STARTED)"),
    ],
)
def test_what_cannot_be_done_is_refused_in_one_line_and_changes_nothing(
    harness: "SagaHarness", command: str, saga_id: str, refusal: str, capsys: Any
) -> None:
    with harness.injecting(saga_id) as injected:
        gate = injected.holds[STEPS[0].name] = Hold()  # the first step waits while the saga is running
        executions = [] if saga_id == "never-seen" else [harness.start({"saga_id": saga_id, "payload": {}})]
        if saga_id == "succeeded":
            gate.finish()
            harness.wait(executions[0])
        assert gate.entered.wait(10) or not executions
        before = harness.account.status_record(saga_id)
        assert operate.main([command, saga_id]) == 1
        assert harness.account.status_record(saga_id) == before
    assert [harness.wait(arn) for arn in executions] == ["SUCCEEDED"] * len(executions)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(refusal)


OFFLINE = {
    "PYTHONPATH": "src",
    "SAGA_TABLE_NAME": "sagas",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.mark.parametrize(
    ("arguments", "environment", "refusal"),
    [
        (["undo", "saga-1"], KEYS, "ERROR: argument command: invalid choice: 'undo'"),
        (["status"], KEYS, "ERROR: the following arguments are required: saga_id"),
        (["status", "saga-1"], {}, "ERROR: AWS: Unable to locate credentials"),
        (["status", "saga-1"], {**KEYS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"},
         "ERROR: AWS: Could not connect to the endpoint URL"),
    ],
)  # fmt: skip
def test_bad_input_gets_one_line_and_a_non_zero_exit(
    arguments: list[str], environment: dict[str, str], refusal: str
) -> None:
    settings = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")} | OFFLINE | environment
    command = [sys.executable, "-m", operate.__name__, *arguments]
    finished = subprocess.run(command, env=settings, capture_output=True, text=True, check=False)  # noqa: S603
    assert (finished.returncode != 0, finished.stdout, len(finished.stderr.splitlines())) == (True, "", 1)
    assert finished.stderr.startswith(refusal), finished.stderr
