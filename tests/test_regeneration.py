"""Coming back to an edited project to add or remove a service.

With cruft, the project is re-rendered from its old and its new answers and the difference is
merged into the user's tree: new steps are wired in, removed ones disappear, the user's edits stay.
The project's ``make regenerate`` has cruft render both and merges each file on its own, all or
nothing, then rebuilds the definition, the README's blocks and the saved answers.
With plain cookiecutter, re-rendering from the saved answers over the project rewrites every
generated file, writes user-owned files only when they are missing, and deletes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEMPLATE_ROOT, run, tool

pytestmark = pytest.mark.regeneration

GIT = ["git", "-c", "user.name=Saga Tester", "-c", "user.email=saga@example.com", "-c", "commit.gpgsign=false"]
ADDED = {
    "services": "payment, fraud_check, inventory, shipping",
    "compensations": "payment=cancel_payment, fraud_check=clear_fraud_hold, inventory=cancel_inventory",
}
# inventory goes; shipping gains a compensation.
REMOVED = {
    "services": "payment, fraud_check, shipping",
    "compensations": "payment=cancel_payment, fraud_check=clear_fraud_hold, shipping=cancel_shipment",
}
LOGIC_EDIT = '\n\nSANDBOX_ACQUIRER = "acquirer-sandbox"  # kept across regenerations\n'
README_EDIT = "\n## Team notes\n\nPayments go through the acquirer's sandbox first.\n"
FRAUD_EDIT = "\n\nRISK_THRESHOLD = 0.8  # tuned by the fraud team\n"
SAGA_EDIT = "# Payment first: nothing is reserved for an unpaid order.\n"
HAND_EDIT = "\n\n# Reviewed by the team.\n"
SHIPPING_DOC = ('"""Do the shipping work of one saga.', '"""Book the parcel with our carrier.')


def git(cwd: Path, *args: str) -> str:
    result = run([*GIT, *args], cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def commit_all(cwd: Path, message: str) -> None:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "-m", message)


def copy_template(repo: Path) -> Path:
    """The template as it is in this working tree (tracked and new files), as a git repository of its own."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], TEMPLATE_ROOT)
    assert listed.returncode == 0, listed.stderr
    for name in filter(None, listed.stdout.split("\0")):
        source = TEMPLATE_ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git(repo, "init", "-q")
    commit_all(repo, "template")
    return repo


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_template(tmp_path_factory.mktemp("template"))


def create(template: Path, parent: Path, **context: str) -> Path:
    """``cruft create`` with the default answers and ``context``, committed as the user's first commit."""
    cruft(
        parent,
        "create",
        "--no-input",
        "--extra-context",
        json.dumps(context),
        "--output-dir",
        str(parent),
        str(template),
    )
    project = parent / "order-saga"
    git(project, "init", "-q")
    commit_all(project, "Generated")
    return project


def cruft(cwd: Path, *args: str) -> str:
    result = run([tool("cruft"), *args], cwd)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Failed to apply" not in output, output
    assert not list(cwd.rglob("*.rej")), output
    return output


def states(project: Path) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads((project / "statemachine" / "saga.asl.json").read_text())
    return definition["States"]  # type: ignore[no-any-return]


def saga_steps(project: Path) -> list[tuple[str, str | None]]:
    """(name, compensation) of each step, as the project's own ``saga.py`` declares them."""
    code = "import json; from order_saga import saga; print(json.dumps([[s.name, s.compensation] for s in saga.STEPS]))"
    read = run([tool("python"), "-c", code], project, env={"PYTHONPATH": "src", "PYTHONDONTWRITEBYTECODE": "1"})
    assert read.returncode == 0, read.stderr
    return [tuple(step) for step in json.loads(read.stdout)]  # type: ignore[misc]


def service_files(package: str, name: str) -> list[str]:
    return [
        f"src/{package}/steps/{name}.py",
        f"src/{package}/database/migrations/{name}/0001_create_{name}.sql",
        f"tests/steps/test_{name}.py",
    ]


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def project_tests(project: Path, *paths: str) -> None:
    """``make test``, as the README says to run after the steps change: nothing else is needed first."""
    tested = run([tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths], project)
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]


def test_cruft_update_adds_and_removes_a_service_and_keeps_the_users_work(
    template_repo: Path, tmp_path: Path, subtests: Any
) -> None:
    project = create(template_repo, tmp_path, aws_region="eu-west-1")
    package = project / "src" / "order_saga"
    append(package / "steps" / "payment.py", LOGIC_EDIT)
    append(project / "README.md", README_EDIT)
    commit_all(project, "Our payment settings and notes")

    cruft(project, "update", "--skip-apply-ask", "--variables-to-update", json.dumps(ADDED))

    with subtests.test("the new step sits between payment and inventory, its compensation in every chain"):
        graph = states(project)
        assert graph["Payment"]["Next"] == "FraudCheck"
        assert graph["FraudCheck"]["Parameters"]["FunctionName"] == "${FraudCheckFunctionArn}"
        assert graph["FraudCheck"]["Next"] == "Inventory"
        assert graph["ClearFraudHold"]["Parameters"]["FunctionName"] == "${ClearFraudHoldFunctionArn}"
        # A failure after fraud_check undoes it before payment; one in it undoes it too (it may have half-happened).
        assert graph["CancelInventory"]["Next"] == "ClearFraudHold"
        assert graph["ClearFraudHold"]["Next"] == "CancelPayment"
        assert graph["Inventory rejected"]["Next"] == "ClearFraudHold"
        assert graph["FraudCheck failed"]["Next"] == "ClearFraudHold"
        assert graph["FraudCheck rejected"]["Next"] == "CancelPayment"

    with subtests.test("it is declared in saga.py, and its module, tests and migration exist"):
        assert saga_steps(project) == [
            ("payment", "cancel_payment"),
            ("fraud_check", "clear_fraud_hold"),
            ("inventory", "cancel_inventory"),
            ("shipping", None),
        ]
        for name in service_files("order_saga", "fraud_check"):
            assert (project / name).is_file(), name
        assert "def clear_fraud_hold(" in (package / "steps" / "fraud_check.py").read_text()

    with subtests.test("the user's edits survived"):
        assert (package / "steps" / "payment.py").read_text().endswith(LOGIC_EDIT)
        readme = (project / "README.md").read_text()
        assert readme.endswith(README_EDIT)
        assert "| 2 | `fraud_check` | `clear_fraud_hold` |" in readme
        assert json.loads((project / ".cookiecutter.json").read_text())["services"] == ADDED["services"]

    with subtests.test("the updated project passes its own tests"):
        project_tests(project)

    commit_all(project, "Add the fraud check")
    append(package / "steps" / "fraud_check.py", FRAUD_EDIT)
    shipping = package / "steps" / "shipping.py"
    assert SHIPPING_DOC[0] in shipping.read_text()
    shipping.write_text(shipping.read_text().replace(*SHIPPING_DOC))
    commit_all(project, "Fraud threshold, carrier")

    cruft(project, "update", "--skip-apply-ask", "--variables-to-update", json.dumps(REMOVED))

    with subtests.test("the removed step, its compensation, functions and files are gone"):
        graph = states(project)
        assert not [name for name in graph if "Inventory" in name]
        assert "inventory" not in (project / "statemachine" / "saga.asl.json").read_text().lower()
        assert graph["FraudCheck"]["Next"] == "Shipping"
        assert [name for name, _ in saga_steps(project)] == ["payment", "fraud_check", "shipping"]
        for name in service_files("order_saga", "inventory"):
            assert not (project / name).exists(), name

    with subtests.test("shipping's new compensation is wired in and merged into its module"):
        graph = states(project)
        assert graph["Shipping failed"]["Next"] == "CancelShipment"
        assert graph["CancelShipment"]["Parameters"]["FunctionName"] == "${CancelShipmentFunctionArn}"
        assert graph["CancelShipment"]["Next"] == "ClearFraudHold"
        assert saga_steps(project)[2] == ("shipping", "cancel_shipment")
        logic = shipping.read_text()
        assert "def cancel_shipment(" in logic
        assert SHIPPING_DOC[1] in logic

    with subtests.test("answers given at creation and not updated are kept"):
        assert 'REGION = "eu-west-1"' in (project / "infra" / "config.py").read_text()
        assert json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]["aws_region"] == "eu-west-1"

    with subtests.test("the user's edits to the other services and the README survived"):
        assert (package / "steps" / "payment.py").read_text().endswith(LOGIC_EDIT)
        assert (package / "steps" / "fraud_check.py").read_text().endswith(FRAUD_EDIT)
        assert (project / "README.md").read_text().endswith(README_EDIT)

    with subtests.test("the updated project passes its own tests"):
        project_tests(project)
        # Written when the project was rendered, the README's blocks no longer name the removed step either.
        assert "inventory" not in (project / "README.md").read_text().lower()


def test_cruft_update_to_a_new_template_commit_uses_its_parser_and_filters(tmp_path: Path) -> None:
    """cruft renders both commits in one process: the second must not run the first one's modules."""
    template = copy_template(tmp_path / "template")
    project = create(template, tmp_path)
    append(
        template / "saga_template" / "model.py",
        "\n\nSagaModel.step_count = property(lambda saga: len(saga.steps))\n",
    )
    extensions = template / "saga_template" / "extensions.py"
    registration = 'environment.filters["saga_model"] = _saga_model\n'
    assert registration in extensions.read_text()
    extensions.write_text(
        extensions.read_text().replace(registration, registration + '    environment.filters["shout"] = str.upper\n')
    )
    append(
        template / "{{cookiecutter.project_slug}}" / "LICENSE",
        "{%- set saga = cookiecutter | saga_model %}\nSteps: {{ saga.step_count }} {{ 'of the saga' | shout }}\n",
    )
    commit_all(template, "A new model attribute and filter")

    cruft(project, "update", "--skip-apply-ask")

    assert (project / "LICENSE").read_text().endswith("\nSteps: 3 OF THE SAGA\n")


# The documented plain-cookiecutter command, run from the folder that holds the project; the template goes last.
RERENDER = (
    """python3 -c 'import json, sys; print("\\0".join(f"{k}={v}" for k, v in json.load(open(sys.argv[1])).items()"""
    """ if not k.startswith("_")), end="")' order-saga/.cookiecutter.json"""
    " | xargs -0 cookiecutter --no-input --overwrite-if-exists"
)


def render_over(parent: Path) -> None:
    path = f"{Path(tool('cookiecutter')).parent}{os.pathsep}{os.environ['PATH']}"
    rendered = run(
        ["bash", "-c", f"set -o pipefail; {RERENDER} {shlex.quote(str(TEMPLATE_ROOT))}"], parent, {"PATH": path}
    )
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr


def test_the_readmes_give_the_rerender_command() -> None:
    assert f"{RERENDER} gh:org/cookiecutter-serverless-saga" in (TEMPLATE_ROOT / "README.md").read_text()
    generated = (TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "README.md").read_text()
    assert RERENDER.replace("order-saga/", "{{ saga.project_slug }}/") + " <template>" in generated


def test_plain_cookiecutter_rerender_keeps_user_files_overwrites_generated_ones_and_deletes_nothing(
    tmp_path: Path,
) -> None:
    rendered = run([tool("cookiecutter"), "--no-input", str(TEMPLATE_ROOT)], tmp_path)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    project = tmp_path / "order-saga"
    package = project / "src" / "order_saga"
    append(package / "steps" / "payment.py", LOGIC_EDIT)
    append(project / "README.md", README_EDIT)
    saved = project / ".cookiecutter.json"
    saved.write_text(json.dumps({**json.loads(saved.read_text()), **ADDED}, indent=2) + "\n")

    render_over(tmp_path)

    assert states(project)["Payment"]["Next"] == "FraudCheck"
    assert [name for name, _ in saga_steps(project)] == ["payment", "fraud_check", "inventory", "shipping"]
    for name in service_files("order_saga", "fraud_check"):
        assert (project / name).is_file(), name
    assert (package / "steps" / "payment.py").read_text().endswith(LOGIC_EDIT)
    readme = (project / "README.md").read_text()
    assert README_EDIT not in readme, "README.md is a generated file: re-rendering rewrites it"
    assert "| 2 | `fraud_check` |" in readme
    assert json.loads(saved.read_text())["services"] == ADDED["services"]
    assert not (project / "_item_templates").exists()
    project_tests(project)

    saved.write_text(json.dumps({**json.loads(saved.read_text()), **REMOVED}, indent=2) + "\n")
    render_over(tmp_path)

    assert not [name for name in states(project) if "Inventory" in name]
    assert [name for name, _ in saga_steps(project)] == ["payment", "fraud_check", "shipping"]
    leftovers = [name for name in service_files("order_saga", "inventory") if (project / name).exists()]
    assert leftovers == service_files("order_saga", "inventory"), "nothing of a removed service is deleted"
    assert json.loads(saved.read_text())["compensations"] == REMOVED["compensations"]
    # saga.py now names a compensation that only the user can add to the existing step module.
    assert 'Step("shipping", compensation="cancel_shipment")' in (package / "saga.py").read_text()
    assert "def cancel_shipment(" not in (package / "steps" / "shipping.py").read_text()


def regenerate(project: Path, variables: str) -> tuple[int, str]:
    """``make regenerate VARIABLES=...``, with this environment's interpreter as the project's."""
    environment = {"VIRTUAL_ENV": str(Path(tool("python")).parent.parent), "VARIABLES": variables}
    made = run(["make", "--no-print-directory", "regenerate", f"VARIABLES={variables}"], project, env=environment)
    return made.returncode, made.stdout + made.stderr


def assert_consistent(project: Path) -> None:
    """saga.py, the definition, the README and the saved answers agree; nothing half-merged is left."""
    assert not git(project, "ls-files", "--unmerged"), "unmerged paths"
    assert not [path for path in project.rglob("*.rej") if ".venv" not in path.parts]
    markers = run([*GIT, "grep", "-l", "--untracked", "-e", "^<<<<<<< ", "-e", "^>>>>>>> "], project)
    assert markers.returncode == 1, f"conflict markers in {markers.stdout}"
    for module in ("infra.definition", "devtools.readme"):
        checked = run([tool("python"), "-m", module, "--check"], project, env={"PYTHONPATH": "src"})
        assert checked.returncode == 0, checked.stdout + checked.stderr
    declared = answers(saga_steps(project))
    for saved in (json.loads((project / ".cookiecutter.json").read_text()), cruft_answers(project)):
        assert {key: saved[key] for key in declared} == declared


def answers(steps: list[tuple[str, str | None]]) -> dict[str, str]:
    """The services and compensations answers that declare these steps."""
    compensations = ", ".join(f"{name}={undo}" for name, undo in steps if undo)
    return {"services": ", ".join(name for name, _ in steps), "compensations": compensations}


def cruft_answers(project: Path) -> dict[str, str]:
    return json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]  # type: ignore[no-any-return]


def add_step_by_hand(project: Path) -> str:
    """The README's "Adding a step by hand", with the name its example gives, after the first step."""
    readme = (project / "README.md").read_text()
    example = re.search(r'`Step\("(\w+)", compensation="(\w+)"\)`', readme)
    assert example is not None
    step = example.group(1)
    package = project / "src" / "order_saga"
    saga = package / "saga.py"
    saga.write_text(saga.read_text().replace('    Step("payment"', f'    Step("{step}"),\n    Step("payment"'))
    (package / "steps" / f"{step}.py").write_text(
        (package / "steps" / "shipping.py").read_text().replace("shipping", step) + HAND_EDIT
    )
    (package / "database" / "migrations" / step).mkdir()
    migration = (package / "database" / "migrations" / "shipping" / "0001_create_shipping.sql").read_text()
    created = package / "database" / "migrations" / step / f"0001_create_{step}.sql"
    created.write_text(migration.replace("shipping", step))
    environment = {"VIRTUAL_ENV": str(Path(tool("python")).parent.parent)}
    made = run(["make", "definition"], project, env=environment)
    assert made.returncode == 0, made.stdout + made.stderr
    return step


def test_make_regenerate_ends_consistent_after_every_kind_of_change_or_changes_nothing(
    template_repo: Path, tmp_path: Path, subtests: Any
) -> None:
    project = create(template_repo, tmp_path)
    package = project / "src" / "order_saga"
    append(package / "steps" / "payment.py", LOGIC_EDIT)
    append(package / "steps" / "inventory.py", HAND_EDIT)
    append(package / "consumers" / "analytics.py", HAND_EDIT)
    append(project / "README.md", README_EDIT)
    saga = package / "saga.py"
    saga.write_text(saga.read_text().replace("\nSTEPS:", f"\n{SAGA_EDIT}STEPS:"))
    # The memory size feeds the README's paths table: every later change would conflict in it.
    config = project / "infra" / "config.py"
    assert "LAMBDA_MEMORY_MB = 512" in config.read_text()
    config.write_text(config.read_text().replace("LAMBDA_MEMORY_MB = 512", "LAMBDA_MEMORY_MB = 1024"))
    hand_step = add_step_by_hand(project)
    commit_all(project, "Our code, notes and settings; a step by hand")
    hand_files = {path: (project / path).read_text() for path in service_files("order_saga", hand_step)[:2]}
    assert cruft_answers(project)["services"].startswith(f"{hand_step}, payment")

    def change(kind: str, variables: dict[str, str]) -> str:
        code, output = regenerate(project, json.dumps(variables))
        assert code == 0, output
        assert_consistent(project)
        for path, text in hand_files.items():
            assert (project / path).read_text() == text, f"{kind}: the hand-added step's {path} changed"
        commit_all(project, kind)
        return output

    with subtests.test("a consumer added and another removed in one change: no code moves"):
        output = change("consumers", {"consumers": "notifications, audit_log"})
        audit_log = (package / "consumers" / "audit_log.py").read_text()
        assert HAND_EDIT not in audit_log
        assert "analytics" not in audit_log
        assert not (package / "consumers" / "analytics.py").exists()
        assert not (project / "tests" / "consumers" / "test_analytics.py").exists()
        assert "removed  src/order_saga/consumers/analytics.py (your edits are in commit" in output

    with subtests.test("the README's example adds a step it does not have, after a setting that feeds the README"):
        example = re.search(r"make regenerate VARIABLES='(.+)'", (project / "README.md").read_text())
        assert example is not None
        added = json.loads(example.group(1))
        new_step = added["services"].split(", ")[1]
        assert new_step not in dict(saga_steps(project))
        change("add", added)
        assert [name for name, _ in saga_steps(project)] == added["services"].split(", ")
        for name in service_files("order_saga", new_step):
            assert (project / name).is_file(), name
        assert "bills 100 ms at 1024 MB" in (project / "README.md").read_text()

    with subtests.test("an edited step removed: its files go, the commit that has them is named"):
        edited = git(project, "rev-parse", "--short", "HEAD").strip()
        output = change("remove", answers([step for step in saga_steps(project) if step[0] != "inventory"]))
        for name in service_files("order_saga", "inventory"):
            assert not (project / name).exists(), name
            assert f"removed  {name}" in output
        assert f"src/order_saga/steps/inventory.py (your edits are in commit {edited})" in output
        assert SAGA_EDIT in saga.read_text()

    with subtests.test("steps reordered"):
        reordered = saga_steps(project)[::-1]
        change("reorder", answers(reordered))
        assert saga_steps(project) == reordered

    with subtests.test("a compensation renamed: the module's function follows, the callers it cannot see are named"):
        append(project / "tests" / "steps" / "test_payment.py", "\n\n# cancel_payment: support calls it too.\n")
        commit_all(project, "A note")
        renamed = [(name, "refund_payment" if name == "payment" else undo) for name, undo in saga_steps(project)]
        output = change("rename", answers(renamed))
        logic = (package / "steps" / "payment.py").read_text()
        assert "def refund_payment(" in logic
        assert "def cancel_payment(" not in logic
        assert logic.endswith(LOGIC_EDIT)
        named = [line for line in output.splitlines() if "still names" in line]  # after the README is rebuilt
        assert named == ["cancel_payment is gone, but tests/steps/test_payment.py still names it"]

    with subtests.test("a clash with the user's edits changes nothing and names the file"):
        logic = package / "steps" / "payment.py"
        logic.write_text(logic.read_text().replace("def refund_payment(", "def refund_payment(  # ours\n   "))
        commit_all(project, "Our clashing edit")
        before, saved = git(project, "rev-parse", "HEAD"), cruft_answers(project)
        code, output = regenerate(project, json.dumps({"compensations": "payment=void_payment"}))
        assert code != 0
        assert "src/order_saga/steps/payment.py: your edits and the change touch the same lines" in output
        assert git(project, "status", "--porcelain") == ""
        assert git(project, "rev-parse", "HEAD") == before
        assert cruft_answers(project) == saved

    with subtests.test("the tests of its steps, consumers and saga pass, the hand-added step's among them"):
        project_tests(project, "tests/steps", "tests/consumers", "tests/test_steps.py", "tests/test_consumers.py")
        project_tests(project, "tests/test_tools.py", "tests/saga/test_failure_matrix.py")

    with subtests.test("bad input gets one ERROR line and changes nothing"):
        for variables, error in [
            ("{services", "ERROR: VARIABLES is not JSON"),
            ('{"step": "x"}', "ERROR: 'step' is not an answer of this project"),
            ('{"services": "payment, payment"}', "ERROR: service 'payment' is declared twice"),
        ]:
            code, output = regenerate(project, variables)
            assert code != 0
            assert [line for line in output.splitlines() if line.startswith("ERROR")] == [output.splitlines()[0]]
            assert output.startswith(error), output
            assert git(project, "status", "--porcelain") == ""
        append(project / "README.md", "\nUncommitted.\n")
        code, output = regenerate(project, '{"consumers": ""}')
        assert code != 0
        assert output.splitlines()[0] == "ERROR: commit or stash your changes first: it merges into a clean tree"
