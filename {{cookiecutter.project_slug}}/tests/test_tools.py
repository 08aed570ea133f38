"""The project's own tools: the README's generated blocks, the local runner, the harness's moto patches, the checks."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools import diagram, prerequisites, readme
from devtools.harness import moto_patches
from devtools.local_run import main as local_run
from infra.definition import PROJECT_DIR
from infra.timing import DATABASE_WAIT_SECONDS
from {{ cookiecutter.package_name }}.saga import CONSUMERS, STEPS


def test_the_readmes_steps_diagram_and_paths_are_current() -> None:
    assert readme.main(["--check"]) == 0, "run `make definition`"


def test_the_diagram_draws_every_state_and_every_caught_error() -> None:
    definition = readme.load_definition()
    chart = diagram.flowchart(definition)
    for name in definition["States"]:
        assert f'"{name}"' in chart
    catches = sum(len(state.get("Catch", [])) for state in definition["States"].values())
    assert chart.count("-.->") == catches


def test_every_moto_internal_the_harness_patches_is_still_there() -> None:
    assert moto_patches.incompatibilities() == [], "moto changed: update devtools/harness/moto_patches.py"


def test_local_run_prints_one_json_object(capsys: Any) -> None:
    last = STEPS[-1]
    assert local_run(["--fail", f"{last.name}:timeout", "--fault", "rerun", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    undone = [step.compensation_title for step in reversed(STEPS) if step.compensation]
    # The calls and events of both runs: the re-run of the ended execution adds none.
    assert report["calls"] == [*[step.title for step in STEPS], *undone]
    assert report["rerun"]["output"]["reason"] == "saga already started"
    assert (report["status"], report["outcome"], report["events"]) == ("SUCCEEDED", "FAILED", ["SagaFailed"])
    assert report["dlq_messages"] == 0
    assert set(report["consumer_deliveries"]) == {consumer.name for consumer in CONSUMERS}
    # Every step did its work (the last one before timing out); the ones with a compensation were undone.
    assert report["effects"] == {step.name: "COMPENSATED" if step.compensation else "DONE" for step in STEPS}


def test_local_run_reproduces_the_clouds_faults(capsys: Any) -> None:
    faults = ["--fault", f"db-paused:{DATABASE_WAIT_SECONDS}", "--fault", "duplicate", "--fault", "rerun"]
    assert local_run([*faults, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["status"], report["outcome"], report["events"]) == ("SUCCEEDED", "SUCCEEDED", ["SagaSucceeded"])
    # The first step waited for the database; every later one acted once, the duplicate and the re-run adding none.
    assert [report["calls"].count(step.title) for step in STEPS[1:]] == [1] * (len(STEPS) - 1)
    assert report["waited_seconds"] >= DATABASE_WAIT_SECONDS
    assert report["duplicate"]["output"]["outcome"] == "IGNORED"
    assert set(report["effects"].values()) == {"DONE"}


def test_local_run_traces_a_saga_read_from_a_file(tmp_path: Path, capsys: Any) -> None:
    saga_file = tmp_path / "saga.json"
    saga_file.write_text(json.dumps({"saga_id": "from-file", "payload": {"order_id": "o-7"}}), encoding="utf-8")
    first = STEPS[0]
    assert local_run(["--input", str(saga_file), "--fail", f"{first.name}:transient"]) == 0
    trace = capsys.readouterr().out.splitlines()

    assert trace[0] == "saga from-file"
    assert "  > Validate input" in trace
    assert [line.strip() for line in trace if line.strip().startswith("action ")] == [
        f"action {first.title}: failed: TransientError",
        *[f"action {step.title}: ok" for step in STEPS],
    ]
    assert any(line.strip().startswith("retry in ") for line in trace)
    assert trace[-1].startswith("execution SUCCEEDED, saga SUCCEEDED, ")


@pytest.mark.parametrize(
    "arguments",
    [
        ["--fail", "nowhere:crash"],
        ["--fault", "db-paused:soon"],
        ["--fault", "meteor"],
        ["--sagas", "0"],
        ["--sagas", "5", "--concurrency", "-1"],
        ["--sagas", "5", "--concurrency", "many"],
        ["--sagas", "5", "--concurrency", "1000000"],
    ],
)
def test_local_run_refuses_what_it_cannot_do(arguments: list[str], capsys: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        local_run(arguments)
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("local-run: error:")


def test_local_run_from_the_command_line_keeps_stdout_to_the_report() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "devtools.local_run", "--json"],
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": "src"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert (report["status"], report["calls"]) == ("SUCCEEDED", [step.title for step in STEPS])


def test_a_missing_program_is_named_with_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAGA_DATABASE_URL", raising=False)
    monkeypatch.setattr(prerequisites, "POSTGRES_FOLDERS", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    lines = prerequisites.missing("test")
    assert lines[0] == (
        "missing postgresql (a throwaway PostgreSQL server): "
        "sudo apt-get install postgresql  |  brew install postgresql@17"
    )
    assert any(line.startswith("missing node ") for line in lines)
    with pytest.raises(SystemExit) as exited:
        prerequisites.require("test")
    assert exited.value.code == 1


@pytest.mark.parametrize(("version", "named"), [("v18.19.0", True), ("v22.12.0", False)])
def test_a_node_older_than_the_cdk_needs_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, version: str, named: bool
) -> None:
    node = tmp_path / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    lines = [line for line in prerequisites.missing("test") if line.startswith("node ")]
    assert len(lines) == int(named)
    for line in lines:
        assert line.startswith(f"node {version} is older than 20, the oldest the CDK is tested with")
