"""``make regenerate``: render the project again with changed answers, and merge it all or not at all.

cruft renders the template from the saved answers and from the new ones. Its own last step, one
``git apply`` of the whole difference, falls back to ``.rej`` files when a single file does not
apply, and git's rename detection can pair a removed step's files with a new one's. Here each file
that differs between the two renderings is merged on its own, by path, with ``git merge-file``,
and nothing is written unless every file merges. The definition and the README's blocks are not
merged: ``make definition`` rebuilds them from the merged ``saga.py``.
"""

import argparse
import filecmp
import importlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import cruft
from cookiecutter.exceptions import FailedHookException  # type: ignore[import-untyped]

from devtools import readme

PROJECT_DIR = readme.PROJECT_DIR
# Rebuilt from saga.py after the merge, never merged.
DEFINITION = "statemachine/saga.asl.json"
# What `make definition` runs.
DEFINITION_MODULES = ("infra.definition", "devtools.readme")
ITEM_ANSWERS = ("services", "compensations", "consumers")


@dataclass
class Merge:
    """What the change does to each file of the project, before anything is written."""

    writes: dict[str, bytes | None] = field(default_factory=dict)
    report: list[str] = field(default_factory=list)
    in_the_way: list[str] = field(default_factory=list)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True, check=True).stdout


def merged_text(path: str, ours: bytes, base: bytes, theirs: bytes) -> bytes | None:
    """``ours`` with the change from ``base`` to ``theirs``, or None where both change the same lines."""
    with tempfile.TemporaryDirectory() as folder:
        files = [Path(folder, name) for name in ("ours", "base", "theirs")]
        for file, text in zip(files, (ours, base, theirs), strict=True):
            file.write_bytes(text)
        labels = ["-L", f"{path} (yours)", "-L", "before", "-L", "after"]
        merged = subprocess.run(["git", "merge-file", "-p", *labels, *map(str, files)], capture_output=True, check=False)
    return merged.stdout if merged.returncode == 0 else None


def plan(old: Path, new: Path, head: str) -> Merge:
    """Merge the change from the ``old`` rendering to the ``new`` one into the project, in memory."""
    merge = Merge()
    rendered = {path.relative_to(root).as_posix() for root in (old, new) for path in root.rglob("*") if path.is_file()}
    for path in sorted(rendered - {DEFINITION}):
        before, after, ours = (root / path for root in (old, new, PROJECT_DIR))
        base, theirs = (file.read_bytes() if file.is_file() else None for file in (before, after))
        mine = ours.read_bytes() if ours.is_file() else None
        if path == "README.md" and base and theirs and mine:
            # The blocks as the project has them: make definition rewrites them after the merge.
            blocks = readme.block_contents(mine.decode())
            base, theirs = (readme.with_blocks(text.decode(), blocks).encode() for text in (base, theirs))
        if base == theirs or mine == theirs:
            continue
        if theirs is None:
            merge.writes[path] = None
            merge.report.append(f"removed  {path}" + (f" (your edits are in commit {head})" if mine != base else ""))
        elif base is None and mine is None:
            merge.writes[path] = theirs
            merge.report.append(f"added    {path}")
        elif base is None or mine is None:
            merge.in_the_way.append(f"{path}: {'exists already' if mine else 'you deleted it'}, and the change writes it")
        elif mine == base:
            merge.writes[path] = theirs
            merge.report.append(f"updated  {path}")
        elif (text := merged_text(path, mine, base, theirs)) is not None:
            merge.writes[path] = text
            merge.report.append(f"merged   {path} (with your edits)")
        else:
            merge.in_the_way.append(f"{path}: your edits and the change touch the same lines")
    return merge


def write(merge: Merge, new: Path) -> None:
    for path, text in merge.writes.items():
        target = PROJECT_DIR / path
        if text is None:
            target.unlink()
            for folder in target.parents:
                if folder == PROJECT_DIR or any(folder.iterdir()):
                    break
                folder.rmdir()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text)
            shutil.copymode(new / path, target)


def gone_names(old: Path, new: Path) -> set[str]:
    """The steps, compensations and consumers the old answers name and the new ones do not."""

    def names(rendering: Path) -> set[str]:
        answers = json.loads((rendering / ".cookiecutter.json").read_text(encoding="utf-8"))
        return set(re.findall(r"\w+", " ".join(answers[key] for key in ITEM_ANSWERS)))

    return names(old) - names(new)


def yours(new: Path) -> list[Path]:
    """The project's files that are not as the template renders them: those that may hold your code."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    pairs = [(PROJECT_DIR / path, new / path) for path in listed if path]
    return [file for file, rendered in pairs if file.is_file() and not (rendered.is_file() and filecmp.cmp(file, rendered))]


def still_named(names: set[str], files: list[Path]) -> list[str]:
    texts = {file: file.read_text(encoding="utf-8", errors="replace") for file in files if file.is_file()}
    return [
        f"{name} is gone, but {file.relative_to(PROJECT_DIR)} still names it"
        for name in sorted(names)
        for file, text in texts.items()
        if re.search(rf"\b{name}\b", text)
    ]


def regenerate(variables: dict[str, str]) -> int:
    head = git("rev-parse", "--short", "HEAD").strip()
    merges: list[Merge] = []
    gone: set[str] = set()
    own: list[Path] = []

    def apply(old: Path, new: Path, *_: object) -> bool:
        """cruft's last step: write the change if every file merges, otherwise nothing."""
        merge = plan(old, new, head)
        merges.append(merge)
        if not merge.in_the_way:
            write(merge, new)
            gone.update(gone_names(old, new))
            own.extend(yours(new))
        return not merge.in_the_way

    # A refused answer is the hook's ERROR line alone, without cookiecutter's traceback under it.
    logging.getLogger("cookiecutter").setLevel(logging.CRITICAL)
    try:
        with mock.patch.object(importlib.import_module("cruft._commands.update"), "_apply_project_updates", apply):
            cruft.update(PROJECT_DIR, skip_apply_ask=True, extra_context=variables)
    except FailedHookException:
        return 1  # The template refused an answer, and its hook said why on the line above.
    merge = merges[0] if merges else Merge()
    if merge.in_the_way:
        print("ERROR: nothing changed; these files are in the way (make them take the change, or undo your edits there, commit, and run it again):", file=sys.stderr)
        print("\n".join(f"  {line}" for line in merge.in_the_way), file=sys.stderr)
        return 1
    environment = {**os.environ, "PYTHONPATH": "src"}
    rebuilt = [
        subprocess.run([sys.executable, "-m", module], cwd=PROJECT_DIR, env=environment, check=False)
        for module in DEFINITION_MODULES
    ]
    if any(run.returncode for run in rebuilt):
        git("reset", "--quiet", "--hard")
        git("clean", "--quiet", "-d", "--force")
        print("ERROR: nothing changed; the merged project's definition failed to build (above)", file=sys.stderr)
        return 1
    print("\n".join([*merge.report, *still_named(gone, own)]) or "Nothing to change.")
    return 0


def refusal(variables: object) -> str | None:
    """Why the change cannot start, if it cannot; the template itself judges the answers' values."""
    cruft_file = PROJECT_DIR / ".cruft.json"
    if not cruft_file.is_file():
        return "the project has no .cruft.json: create it with `cruft create`, or link it with `cruft link`"
    if not isinstance(variables, dict) or not all(isinstance(value, str) for value in variables.values()):
        return 'VARIABLES must be a JSON object of text answers, such as {"consumers": "audit"}'
    saved = json.loads(cruft_file.read_text(encoding="utf-8"))["context"]["cookiecutter"]
    answers = [key for key in saved if not key.startswith("_")]
    if unknown := sorted(set(variables) - set(answers)):
        return f"{unknown[0]!r} is not an answer of this project; its answers are: {', '.join(answers)}"
    if git("status", "--porcelain"):
        return "commit or stash your changes first: it merges into a clean tree"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variables", nargs="?", help='the answers to change, as JSON: {"consumers": "audit"}')
    args = parser.parse_args(argv)
    try:
        variables = json.loads(args.variables or "{}")
    except json.JSONDecodeError as error:
        print(f"ERROR: VARIABLES is not JSON: {error}", file=sys.stderr)
        return 2
    if problem := refusal(variables):
        print(f"ERROR: {problem}", file=sys.stderr)
        return 2
    return regenerate(variables)


if __name__ == "__main__":
    sys.exit(main())
