"""The generated project's pre-commit hooks, as far as they can be proven offline.

pre-commit clones each hook repository at its rev the first time it runs, which needs the network,
so `pre-commit run` cannot run here. What can be proven: pre-commit accepts the configuration, each
repository is pinned to a release tag, ruff's is the ruff the project pins (the hook and `make lint`
agree), and every hook id is one that repository publishes at that tag. The matrix proves, for every
combination, that the files the hooks check pass them: ruff, ruff format, and JSON, YAML and TOML
that parse.
"""

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import run, tool

# The ids in each repository's .pre-commit-hooks.yaml at the tag pinned.
PRE_COMMIT_HOOKS = (
    "check-added-large-files check-ast check-byte-order-marker check-builtin-literals check-case-conflict",
    "check-docstring-first check-executables-have-shebangs check-illegal-windows-names check-json",
    "check-shebang-scripts-are-executable pretty-format-json check-merge-conflict check-symlinks check-toml",
    "check-vcs-permalinks check-xml check-yaml debug-statements destroyed-symlinks detect-aws-credentials",
    "detect-private-key double-quote-string-fixer end-of-file-fixer file-contents-sorter fix-byte-order-marker",
    "fix-encoding-pragma forbid-new-submodules forbid-submodules mixed-line-ending name-tests-test",
    "no-commit-to-branch requirements-txt-fixer sort-simple-yaml trailing-whitespace",
)
PUBLISHED = {
    ("https://github.com/astral-sh/ruff-pre-commit", "v0.17.6"): {"ruff-check", "ruff-format", "ruff"},
    ("https://github.com/pre-commit/pre-commit-hooks", "v6.0.0"): set(" ".join(PRE_COMMIT_HOOKS).split()),
}


def test_hooks_are_valid_pinned_to_releases_and_published(bake: Any) -> None:
    result = bake()
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    validated = run([tool("pre-commit"), "validate-config", ".pre-commit-config.yaml"], project)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    pins = {(repo["repo"], repo["rev"]) for repo in config["repos"]}
    assert all(re.fullmatch(r"v\d+\.\d+\.\d+", rev) for _, rev in pins)
    development = tomllib.loads((project / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    (ruff,) = [pin.removeprefix("ruff==") for pin in development if pin.startswith("ruff==")]
    assert ("https://github.com/astral-sh/ruff-pre-commit", f"v{ruff}") in pins
    assert {pin for pin in development if pin.startswith("pre-commit==")}, "pre-commit is a development dependency"
    for repo in config["repos"]:
        hooks = {hook["id"] for hook in repo["hooks"]}
        assert hooks <= PUBLISHED[repo["repo"], repo["rev"]], hooks - PUBLISHED[repo["repo"], repo["rev"]]
