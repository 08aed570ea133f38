"""``make regenerate``: render the project again with changed answers, merged all or not at all.

cruft renders the template from the saved answers and from the new ones; its own last step, one ``git
apply`` of the whole difference, leaves ``.rej`` files when one file does not apply, and git's rename
detection can pair a removed item's files with a new one's. Here each file that differs is merged on its
own, by path, with ``git merge-file``, and nothing is written unless every file merges. A removed item's
files go even when edited: the commit keeps them. ``make definition`` then rebuilds the definition and
the README's blocks from the merged ``saga.py``.
"""

import argparse
import filecmp
import importlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import cruft
from cookiecutter import exceptions as cookiecutter_errors  # type: ignore[import-untyped]

from devtools import readme

PROJECT_DIR = readme.PROJECT_DIR
DEFINITION_FILE = "statemachine/saga.asl.json"


@dataclass
class Merge:
    """The change, file by file (None deletes the file), before anything is written; what it leaves."""

    writes: dict[str, bytes | None] = field(default_factory=dict)
    report: list[str] = field(default_factory=list)
    in_the_way: list[str] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)  # steps, compensations and consumers
    yours: list[str] = field(default_factory=list)  # files that are not as the template renders them


def git(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)  # noqa: S603, S607


def merged(mine: bytes, base: bytes, theirs: bytes) -> bytes | None:
    """Your file with the change from ``base`` to ``theirs``; None where both change the same lines."""
    with tempfile.TemporaryDirectory() as folder:
        for name, text in {"mine": mine, "base": base, "theirs": theirs}.items():
            Path(folder, name).write_bytes(text)
        result = git("merge-file", "-p", "mine", "base", "theirs", cwd=Path(folder))
    return result.stdout if result.returncode == 0 else None


def plan(merge: Merge, old: Path, new: Path, head: str) -> None:
    """Merge the change from the ``old`` rendering to the ``new`` one into the project, in memory."""
    paths = {file.relative_to(root).as_posix() for root in (old, new) for file in root.rglob("*") if file.is_file()}
    for path in sorted(paths - {DEFINITION_FILE}):
        files = [root / path for root in (old, new, PROJECT_DIR)]
        base, theirs, mine = (file.read_bytes() if file.is_file() else None for file in files)
        if path == "README.md" and base and theirs and mine:
            blocks = readme.block_contents(mine.decode())  # as the project has them, rebuilt afterwards
            base, theirs = (readme.with_blocks(text.decode(), blocks).encode() for text in (base, theirs))
        if theirs in (base, mine):
            continue
        if theirs is None:
            merge.writes[path] = None
            merge.report.append(f"removed  {path}" + (f" (your edits are in commit {head})" if mine != base else ""))
        elif base is None and mine is None:
            merge.writes[path] = theirs
            merge.report.append(f"added    {path}")
        elif base is None or mine is None:
            merge.in_the_way.append(f"{path}: the change writes it, and {'it exists' if mine else 'you deleted it'}")
        elif (text := theirs if mine == base else merged(mine, base, theirs)) is None:
            merge.in_the_way.append(f"{path}: your edits and the change touch the same lines")
        else:
            merge.writes[path] = text
            merge.report.append(f"updated  {path}" if mine == base else f"merged   {path} (with your edits)")


def write(merge: Merge, new: Path) -> None:
    for path, text in merge.writes.items():
        target = PROJECT_DIR / path
        if text is None:
            target.unlink()
            for folder in target.parents:  # a removed step's migrations folder goes with its file
                if folder == PROJECT_DIR or any(folder.iterdir()):
                    break
                folder.rmdir()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text)
            target.chmod((new / path).stat().st_mode)


def leftovers(merge: Merge, old: Path, new: Path) -> None:
    """What a removed item may leave: its names, and your files (not as the template renders them) to look in."""

    def names(rendering: Path) -> set[str]:
        answers = json.loads((rendering / ".cookiecutter.json").read_text(encoding="utf-8"))
        return set(re.findall(r"\w+", " ".join(answers[key] for key in ("services", "compensations", "consumers"))))

    merge.gone = names(old) - names(new)
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout.decode().split("\0")
    answers_files = {file.name for file in readme.ANSWERS_FILES}  # rewritten from saga.py afterwards
    mine = [path for path in listed if (PROJECT_DIR / path).is_file() and path not in answers_files]
    merge.yours = [
        path for path in mine if not (new / path).is_file() or not filecmp.cmp(PROJECT_DIR / path, new / path)
    ]


def still_named(merge: Merge) -> list[str]:
    texts = {path: (PROJECT_DIR / path).read_text(encoding="utf-8", errors="replace") for path in merge.yours}
    found = [
        (name, path) for name in sorted(merge.gone) for path, text in texts.items() if re.search(rf"\b{name}\b", text)
    ]
    return [f"{name} is gone, but {path} still names it" for name, path in found]


def regenerate(variables: dict[str, str]) -> int:
    head = git("rev-parse", "--short", "HEAD").stdout.decode().strip()
    merge = Merge()

    def apply(old: Path, new: Path, *_: object) -> bool:
        """Replaces cruft's last step: write the change if every file merges, otherwise nothing."""
        plan(merge, old, new, head)
        if not merge.in_the_way:
            write(merge, new)
            leftovers(merge, old, new)
        return not merge.in_the_way

    logging.getLogger("cookiecutter").setLevel(logging.CRITICAL)  # its traceback under the hook's ERROR line
    try:
        with mock.patch.object(importlib.import_module("cruft._commands.update"), "_apply_project_updates", apply):
            cruft.update(PROJECT_DIR, skip_apply_ask=True, extra_context=variables)
    except cookiecutter_errors.FailedHookException:
        return 1  # the template refused an answer; its hook printed the ERROR line
    if merge.in_the_way:
        print("ERROR: nothing changed; take the change into these files, commit, and run it again:", file=sys.stderr)
        print("\n".join(f"  {line}" for line in merge.in_the_way), file=sys.stderr)
        return 1
    environment = {**os.environ, "PYTHONPATH": "src"}
    for module in ("infra.definition", "devtools.readme"):  # what `make definition` runs
        command = [sys.executable, "-m", module]
        if subprocess.run(command, cwd=PROJECT_DIR, env=environment, check=False).returncode:  # noqa: S603
            git("reset", "--quiet", "--hard")
            git("clean", "--quiet", "-d", "--force")
            print(f"ERROR: nothing changed; {module} failed on the merged project (above)", file=sys.stderr)
            return 1
    print("\n".join(merge.report + still_named(merge)) or "Nothing to change.")
    return 0


def refusal(text: str) -> str | None:
    """Why the change cannot start, if it cannot; the template's hooks judge the answers' values."""
    cruft_file = PROJECT_DIR / ".cruft.json"
    try:
        variables = json.loads(text)
    except json.JSONDecodeError as error:
        return f"VARIABLES is not JSON: {error}"
    if not cruft_file.is_file():
        return "the project has no .cruft.json: create it with `cruft create`, or link it with `cruft link`"
    if not isinstance(variables, dict) or not all(isinstance(value, str) for value in variables.values()):
        return 'VARIABLES must be a JSON object of text answers, such as {"consumers": "audit"}'
    saved = json.loads(cruft_file.read_text(encoding="utf-8"))["context"]["cookiecutter"]
    answers = [key for key in saved if not key.startswith("_")]
    if unknown := sorted(set(variables) - set(answers)):
        return f"{unknown[0]!r} is not an answer of this project; its answers are: {', '.join(answers)}"
    if git("status", "--porcelain").stdout:
        return "commit or stash your changes first: it merges into a clean tree"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variables", nargs="?", help='the answers to change, as JSON: {"consumers": "audit"}')
    variables = parser.parse_args(argv).variables or "{}"
    if problem := refusal(variables):
        print(f"ERROR: {problem}", file=sys.stderr)
        return 2
    return regenerate(json.loads(variables))


if __name__ == "__main__":
    sys.exit(main())
