"""`make test`, `make test-fast` and `make demo` name each missing program and stop before installing anything."""

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from saga_template import prerequisites
from tests.conftest import TEMPLATE_ROOT, run

DEBIAN_POSTGRES = "/usr/lib/postgresql"
LINES = {
    "postgresql": (
        "missing postgresql (the generated projects' throwaway database server): "
        "sudo apt-get install postgresql  |  brew install postgresql@17"
    ),
    "pgbouncer": (
        "missing pgbouncer (the local stand-in for RDS Proxy): "
        "sudo apt-get install pgbouncer  |  brew install pgbouncer"
    ),
}


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [
        ("test", ["postgresql", "pgbouncer", "node", "npm", "git"]),
        ("demo", ["postgresql", "node", "npm"]),
        ("test-fast", []),
    ],
)
def test_each_target_names_what_it_needs_and_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, purpose: str, expected: list[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SAGA_DATABASE_URL", raising=False)
    monkeypatch.setattr(prerequisites, "POSTGRES_FOLDERS", ())
    lines = prerequisites.missing(purpose)
    assert [line.split()[1] for line in lines] == expected
    for line in lines:
        program = line.split()[1]
        _, debian, homebrew = prerequisites.PROGRAMS[program]
        assert line.endswith(f": sudo apt-get install {debian}  |  brew install {homebrew}")
    monkeypatch.setenv("SAGA_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    assert "postgresql" not in " ".join(prerequisites.missing(purpose))


@pytest.mark.parametrize(("version", "named"), [("v18.19.0", True), ("v20.20.2", False), ("v24.1.0", False)])
def test_a_node_older_than_the_cdk_needs_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, version: str, named: bool
) -> None:
    node = tmp_path / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    lines = [line for line in prerequisites.missing("demo") if line.startswith("node ")]
    assert len(lines) == int(named)
    for line in lines:
        assert line.startswith(f"node {version} is older than 20, the oldest the CDK is tested with")
        assert line.endswith(": https://nodejs.org/en/download  |  brew install node")


def test_a_python_too_old_for_the_template_is_named_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 10, 13))
    first = prerequisites.missing("test-fast")[0]
    assert first.startswith("missing Python 3.11 or newer (")
    assert "then make BOOTSTRAP_PYTHON=python3.11" in first


def test_nothing_is_printed_when_everything_is_there() -> None:
    checked = run([sys.executable, "-m", "saga_template.prerequisites", "test"], TEMPLATE_ROOT)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not Path(DEBIAN_POSTGRES).is_dir(),
    reason="hides Debian's installed programs in a private mount namespace, which needs root",
)
@pytest.mark.parametrize(("target", "expected"), [("test", ["postgresql", "pgbouncer"]), ("demo", ["postgresql"])])
def test_make_stops_on_a_missing_program_before_installing_anything(
    tmp_path: Path, target: str, expected: list[str]
) -> None:
    """PostgreSQL and pgbouncer hidden for one command: make prints one line for each and stops, no traceback."""
    empty_file, empty_folder = tmp_path / "empty", tmp_path / "folder"
    empty_file.touch()
    empty_folder.mkdir()
    hide = [f"mount --bind {empty_folder} {DEBIAN_POSTGRES}", f"mount --bind {empty_file} {shutil.which('pgbouncer')}"]
    # Should the check let it through, PYTHON=false stops make at once instead of installing and testing.
    script = " && ".join([*hide, f"make --no-print-directory {target} PYTHON=false"])
    finished = run(["unshare", "--mount", "sh", "-c", script], TEMPLATE_ROOT)
    assert finished.returncode != 0
    assert "Traceback" not in finished.stderr
    printed = [line for line in finished.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\* ", line)]
    assert printed == [LINES[program] for program in expected]
    assert finished.stdout == ""
