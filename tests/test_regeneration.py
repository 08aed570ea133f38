"""Coming back to an edited project to add or remove a service.

With cruft, the project is re-rendered from its old and its new answers and the difference is
merged into the user's tree: new steps are wired in, removed ones disappear, the user's edits stay.
With plain cookiecutter, re-rendering from the saved answers over the project rewrites every
generated file, writes user-owned files only when they are missing, and deletes nothing.
"""

from __future__ import annotations

import json
import os
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


def project_tests(project: Path) -> None:
    """``make test``, as the README says to run after the steps change: nothing else is needed first."""
    tested = run([tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
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
