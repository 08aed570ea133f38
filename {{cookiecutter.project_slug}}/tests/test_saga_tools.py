"""The saga's tools: the README's diagram matches the definition, the local runner reports what happened."""

import json
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

from devtools import diagram
from devtools.local_run import main as local_run
from infra.config import CONSUMERS, PACKAGE, STEPS


def consumer_names() -> set[str]:
    return {import_module(f"{PACKAGE}.consumers.{name}.handler").consumer.name for name in CONSUMERS}


def test_the_readme_diagram_is_current() -> None:
    readme = (diagram.PROJECT_DIR / diagram.README_FILE).read_text(encoding="utf-8")
    assert diagram.with_diagram(readme, diagram.load_definition()) == readme, "run `make diagram`"


def test_the_diagram_draws_every_state_and_every_caught_error() -> None:
    definition = diagram.load_definition()
    chart = diagram.flowchart(definition)
    for name in definition["States"]:
        assert f'"{name}"' in chart
    catches = sum(len(state.get("Catch", [])) for state in definition["States"].values())
    assert chart.count("-.->") == catches


def test_local_run_prints_one_json_object(capsys: Any) -> None:
    last = STEPS[-1]
    assert local_run(["--fail", f"{last.name}:timeout", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    undone = [str(service.compensation) for service in reversed(STEPS) if service.compensation]
    assert report["calls"] == [*[service.name for service in STEPS], *undone]
    assert (report["status"], report["error"], report["events"]) == ("FAILED", "SagaFailed", ["SagaFailed"])
    assert report["dlq_messages"] == 0
    assert report["state_transitions"] > len(STEPS)
    assert set(report["consumer_deliveries"]) == consumer_names()
    # Every step did its work (the last one before timing out); the ones with a compensation were undone.
    assert report["effects"] == {service.name: "COMPENSATED" if service.compensation else "DONE" for service in STEPS}


def test_local_run_traces_a_saga_read_from_a_file(tmp_path: Path, capsys: Any) -> None:
    saga_file = tmp_path / "saga.json"
    saga_file.write_text(json.dumps({"saga_id": "from-file", "payload": {"order_id": "o-7"}}), encoding="utf-8")
    first = STEPS[0]
    assert local_run(["--input", str(saga_file), "--fail", f"{first.name}:transient"]) == 0
    trace = capsys.readouterr().out.splitlines()

    assert trace[0] == "saga from-file"
    assert "  > Validate input" in trace
    assert [line.strip() for line in trace if line.strip().startswith("action ")] == [
        f"action {first.name}: failed: TransientError",
        *[f"action {service.name}: ok" for service in STEPS],
    ]
    assert any(line.strip().startswith("retry in ") for line in trace)
    assert trace[-1].startswith("SUCCEEDED, ")
    assert trace[-1].endswith(" state transitions")


def test_local_run_from_the_command_line_keeps_stdout_to_the_report() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "devtools.local_run", "--json"],
        cwd=diagram.PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": "src"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert report["status"] == "SUCCEEDED"
    assert report["calls"] == [service.name for service in STEPS]
    assert report["effects"] == dict.fromkeys(sorted(service.name for service in STEPS), "DONE")
