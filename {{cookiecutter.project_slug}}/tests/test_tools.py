{%- set saga = cookiecutter | saga_model -%}
"""The project's own tools, and the README that describes them: its generated blocks, every figure it states
(checked against the code), every command it gives (run, or checked against the Makefile and the app)."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import botocore.session
import psycopg
import pytest
from botocore import xform_name

from devtools import prerequisites, readme
from devtools.harness import moto_patches
from devtools.local_postgres import URL_VARIABLE
from devtools.local_run import main as local_run
from devtools.local_run import parse_arguments
from infra import config, events, monitoring, options, queues, timing
from infra.definition import DEFINITION_FILE, PROJECT_DIR, saga_timing
from infra.timing import DATABASE_WAIT_SECONDS
from {{ saga.package_name }}.database.migrate import RESUME_BUDGET_SECONDS
{%- if saga.database_mode == "rds_proxy" %}
from {{ saga.package_name }}.database.rds_proxy import READY_TIMEOUT_SECONDS
{%- endif %}
from {{ saga.package_name }}.naming import DATABASE_NOT_READY, SAGA_ID_CHARACTERS, SAGA_ID_MAX_LENGTH, TRANSIENT_ERROR
from {{ saga.package_name }}.runtime.envelope import MAX_RESULT_BYTES, STATE_LIMIT_BYTES
from {{ saga.package_name }}.runtime.idempotency import EXPIRES_AFTER_SECONDS
from {{ saga.package_name }}.runtime.step import MAX_REASON_CHARACTERS
from {{ saga.package_name }}.saga import CONSUMERS, STEPS, WORKFLOW_TYPE

README = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
TEXT = " ".join(README.split())  # the README's prose, whatever its line breaks
SHELL = [line for block in re.findall(r"```sh\n(.*?)```", README, re.DOTALL) for line in block.splitlines()]
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
DAY = 24 * 60 * 60
# Each `aws SERVICE COMMAND ...` of the README, one inside "$(...)" on its own.
AWS_CLI = re.compile(r"(?<![\w:-])aws ([a-z0-9]+) ([a-z0-9-]+)(.*?)(?=\$\(aws |$)", re.MULTILINE)


def make(*arguments: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """``make`` in the project, with this interpreter's virtualenv; quiet about directories under an outer make."""
    command, environment = ["make", "--no-print-directory", *arguments], {**os.environ, "VIRTUAL_ENV": sys.prefix}
    environment.update(variables)
    return subprocess.run(command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, check=False)  # noqa: S603


def retry(error: str) -> timing.Retry:
    return next(rule for rule in saga_timing().step_retries if error in rule.errors)


def times(rule: timing.Retry) -> str:
    return "once" if rule.max_attempts == 1 else f"up to {NUMBERS[rule.max_attempts]} times"


def minutes(seconds: float) -> str:
    return "a minute" if seconds // 60 == 1 else f"{NUMBERS[int(seconds // 60)]} minutes"


TRANSIENT, THROTTLED, DATABASE = retry(TRANSIENT_ERROR), retry(timing.LAMBDA_THROTTLED), retry(DATABASE_NOT_READY)
DATABASE_WAIT = minutes(DATABASE.guaranteed_wait())
PYPROJECT = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
RETENTION, EXPIRY_WARNING = queues.RETENTION.to_days(), monitoring.DEAD_LETTER_EXPIRY_WARNING.to_days()
# Every figure the README states, as its sentence says it, and the same figure from the code.
CLAIMS: list[tuple[str, object]] = [
    (r"A saga id is 1 to (\d+) characters", SAGA_ID_MAX_LENGTH),
    (r"under the (\d+) KiB Step Functions allows", STATE_LIMIT_BYTES // 1024),
    (r"keeps each result under (\d+) KiB", MAX_RESULT_BYTES // 1024),
    (r"it is logged, cut to (\d+) characters", MAX_REASON_CHARACTERS),
    (r"a rejection's message, cut to (\d+) characters", MAX_REASON_CHARACTERS),
    (r"Records expire after (\d+) days", EXPIRES_AFTER_SECONDS // DAY),
    (r"by a hash of its key \| (\d+) days", EXPIRES_AFTER_SECONDS // DAY),
    (r"has waited there (\d+) of its \d+ days", RETENTION - EXPIRY_WARNING),
    (r"has waited there \d+ of its (\d+) days", RETENTION),
    (r"payload and results \| (\d+) days", RETENTION),
    (r"could not be handled \| (\d+) days", RETENTION),
    (r"for replay \| (\d+) days \(`ARCHIVE_RETENTION_DAYS`", events.ARCHIVE_RETENTION_DAYS),
    (r"outcome events are archived for (\d+) days", events.ARCHIVE_RETENTION_DAYS),
    (r"Metrics go to the `([^`]+)` CloudWatch namespace", config.metrics_namespace("<stage>")),
    (r"starting with a letter, at most (\d+) characters", config.MAX_STAGE_LENGTH),
    (r"its function's timeout plus Lambda's (\d+) s init phase", timing.INIT_PHASE_SECONDS),
    (r"waits up to (\w+ minutes?) for a database", minutes(RESUME_BUDGET_SECONDS)),
    (r"Python (3\.\d+) or newer", PYPROJECT["project"]["requires-python"].removeprefix(">=")),
    (r"Node\.js (\d+) or newer", prerequisites.MINIMUM_NODE),
    (r"\(`TransientError`, the Lambda service's own errors\) (once|up to \w+ times)", times(TRANSIENT)),
    (r"\| `TransientError` \| retries the step (once|up to \w+ times)", times(TRANSIENT)),
{%- if saga.database_mode == "data_api" %}
    (r"\(`DatabaseNotReady`\) for at least (a minute|\w+ minutes)", DATABASE_WAIT),
    (r"\| `DatabaseNotReady` \| waits for the database, at least (a minute|\w+ minutes)", DATABASE_WAIT),
    (r"paused \(after (\d+) idle minutes", timing.AURORA_AUTO_PAUSE_SECONDS // 60),
{%- else %}
    (r"may take (\d+(?:\.\d+)?) seconds, well within the shortest function timeout", READY_TIMEOUT_SECONDS),
{%- if saga.workflow_type == "EXPRESS" %}
    (r"may happen at any task: retried (once) with the step's other waits", times(DATABASE)),
    (r"\| `DatabaseNotReady` \| waits for the database, (once)", times(DATABASE)),
{%- else %}
    (r"may happen at any task: waited for (a minute|\w+ minutes) at each task", DATABASE_WAIT),
    (r"\| `DatabaseNotReady` \| waits for the database, at least (a minute|\w+ minutes)", DATABASE_WAIT),
{%- endif %}
{%- endif %}
]
if WORKFLOW_TYPE == "EXPRESS":
    transient_wait = "longer" if TRANSIENT.interval > saga_timing().function_timeout else "shorter"
    CLAIMS += [
        (r"own errors\) once, after waiting (longer) than a function can run", transient_wait),
        (r"never ran\) (once), like a transient failure", times(THROTTLED)),
        (r"every path ends within (\d+) minutes", timing.EXPRESS_LIMIT_SECONDS // 60),
        (r"minus a (\d+) s margin", timing.EXPRESS_SAFETY_MARGIN_SECONDS),
    ]
else:
    CLAIMS += [
        (r"own errors\) up to \w+ times, with backoff and (jitter)", "jitter" if TRANSIENT.jitter else "no jitter"),
        (r"never ran\) for at least (a minute|\w+ minutes)", minutes(THROTTLED.guaranteed_wait())),
    ]


@pytest.mark.parametrize(("claim", "value"), CLAIMS, ids=[claim for claim, _ in CLAIMS])
def test_every_figure_the_readme_states_is_the_codes(claim: str, value: object) -> None:
    found = re.search(claim, TEXT)
    assert found is not None, f"the README no longer says {claim!r}: update this table with it"
    assert found.group(1) == str(value), f"the README says {found.group(0)!r}; the code says {value}"


def test_the_readme_states_the_saga_id_characters_the_code_allows() -> None:
    found = re.search(r"A saga id is 1 to \d+ characters of `(\[[^`]+\])`", TEXT)
    assert found is not None
    assert {character for character in map(chr, range(128)) if re.fullmatch(found.group(1), character)} == set(
        SAGA_ID_CHARACTERS
    )


def local_runs() -> list[tuple[list[str], list[str]]]:
    """Every `make local-run` of the README: its arguments, and the kinds of failure a `# or a, b` after it names."""
    runs = []
    for line in SHELL:
        if found := re.fullmatch(r'make local-run(?: ARGS="([^"]*)")?\s*(?:# (.*))?', line):
            kinds = re.fullmatch(r"or ([\w, ]+)", found.group(2) or "")
            runs.append((shlex.split(found.group(1) or ""), kinds.group(1).split(", ") if kinds else []))
    return [run for at, run in enumerate(runs) if run not in runs[:at]]  # the happy path is shown twice


@pytest.mark.parametrize(("arguments", "kinds"), local_runs(), ids=lambda value: " ".join(value) or "-")
def test_each_local_run_of_the_readme_shows_what_it_says(
    arguments: list[str], kinds: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # where the README's saga.json is
    (tmp_path / "saga.json").write_text(json.dumps({"saga_id": "mine", "payload": {"order_id": "o-1"}}))
    assert local_run(arguments) == 0
    out, failed = capsys.readouterr().out, re.findall(r"--fail \S+:(\w+)", " ".join(arguments))
    if "--sagas" in arguments:  # many at once: every invariant held, at the concurrency asked for
        report = json.loads(out)
        assert (report["violations"], report["sagas"]) == ([], int(arguments[arguments.index("--sagas") + 1]))
        assert report["peak_in_progress"] >= int(arguments[arguments.index("--concurrency") + 1])
        return
    report = json.loads(out) if "--json" in arguments else {"outcome": re.findall(r", saga (\w+)", out)[-1]}
    outcome = "COMPENSATION_FAILED" if "--fail-compensation" in arguments else "FAILED"
    assert report["outcome"] == (outcome if set(failed) - {"transient"} else "SUCCEEDED")
    assert ("DatabaseNotReady" in out) == ("db-paused" in str(arguments))
    assert out.startswith("saga mine") == ("--input" in arguments)
    rerun = report.get("rerun", {}).get("output", {}).get("reason")
    assert rerun == ("saga already started" if "rerun" in arguments else None)
    for kind in kinds:  # the other kinds the README offers in its place
        parse_arguments([argument.replace(f":{failed[0]}", f":{kind}") for argument in arguments])


def test_every_make_command_of_the_readme_is_a_target_of_the_makefile() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (PROJECT_DIR / "Makefile").read_text(), re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", README))
    named |= {line.split()[1] for line in SHELL if line.startswith("make ")}
    assert named - targets == set()
    for target in sorted(named):  # what each would run, run or not
        planned = make("-n", target)
        assert planned.returncode == 0, f"make -n {target}: {planned.stderr}"


def test_every_aws_command_of_the_readme_is_an_operation_the_cli_takes_with_these_options() -> None:
    """Checked against botocore's service models, which the AWS CLI's commands and options are made from."""
    shell = re.sub(r"\\\n\s*", "", "\n".join(SHELL))  # a line continued with a backslash is one command
    commands = AWS_CLI.findall("\n".join([shell, *re.findall(r"`(aws [^`]+)`", TEXT)]))
    assert len(commands) >= 10
    for service, command, rest in commands:
        model = botocore.session.get_session().get_service_model(service)
        operations = {xform_name(name, "-"): name for name in model.operation_names}
        assert command in operations, f"aws {service} {command}: no such command"
        shape = model.operation_model(operations[command]).input_shape
        assert shape is not None
        members = {xform_name(name, "-") for name in shape.members}
        options = re.findall(r"(?<!\S)--([a-z-]+)", rest)
        given = {name if name in members else name.removeprefix("no-") for name in options}  # --no-FLAG: FLAG false
        assert given - members <= {"query", "output", "region", "profile"}, f"aws {service} {command}: {given}"
        required = {xform_name(name, "-") for name in shape.required_members}
        assert not given or required <= given, f"aws {service} {command} needs --{', --'.join(sorted(required))}"


def test_make_db_serves_a_database_make_migrate_migrates_and_ctrl_c_stops() -> None:
    environment = {name: value for name, value in os.environ.items() if name != URL_VARIABLE}
    command = ["make", "--no-print-directory", "db", f"VIRTUAL_ENV={sys.prefix}"]
    started = subprocess.Popen(  # noqa: S603
        command, cwd=PROJECT_DIR, env=environment, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        exported = next(line for line in started.stdout or () if line.startswith(f"export {URL_VARIABLE}="))
        url = exported.split("=", 1)[1].strip()
        first, again = (make("migrate", **{URL_VARIABLE: url}).stdout.splitlines() for _ in range(2))
        assert len([line for line in first if line.startswith("applied ")]) >= len(STEPS)
        assert again[-1] == "nothing to apply"
    finally:
        os.killpg(started.pid, signal.SIGINT)  # Ctrl-C
        started.wait(30)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)


def test_make_bench_saga_prints_the_readmes_paths_table() -> None:
    made = make("bench-saga")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == readme.block_contents(README)["saga paths"]


def test_the_readmes_cdk_commands_take_context_the_app_accepts() -> None:
    commands = re.findall(r"npx cdk (?:deploy|destroy) --all((?: -c [^\s`]+)+)", README)
    assert len(commands) >= 3
    for command in commands:
        context = dict(pair.split("=", 1) for pair in re.findall(r"-c (\S+)", command))
        stage = context.pop("stage")
        if stage.islower():  # not a placeholder such as NEW
            assert len(stage) <= config.MAX_STAGE_LENGTH
            assert config.STAGE.fullmatch(stage)
            options.read(context, {}, stage)  # exits with one line on anything the app would refuse


def test_the_readmes_steps_diagram_and_paths_are_current() -> None:
    assert readme.main(["--check"]) == 0, "run `make definition`"


def test_the_diagram_draws_every_state_and_every_caught_error() -> None:
    definition = json.loads(DEFINITION_FILE.read_text(encoding="utf-8"))
    chart = readme.flowchart(definition)
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
    finished = make("local-run", "ARGS=--json")
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
