"""Check the programs the template's own targets need, before anything is installed or started.

    python3 -m saga_template.prerequisites test        # what `make test` needs
    python3 -m saga_template.prerequisites test-fast   # what `make test-fast` needs
    python3 -m saga_template.prerequisites demo        # what `make demo` needs

Prints one line per missing program, with the command that installs it on Debian/Ubuntu and on
macOS, and exits 1; prints nothing and exits 0 when all are there. It runs under the Python that
creates the virtualenv, before anything is installed: standard library only, and it still runs
(to say so) on a Python too old for the template.

The generated project has its own ``devtools/prerequisites.py``, which reads the project's database
mode; this one covers every project the template's tests generate, and what cruft needs.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

MINIMUM_PYTHON = (3, 11)
# The oldest Node.js the CDK is tested with here; it prints an end-of-life notice, 22 and 24 do not.
MINIMUM_NODE = 20
# Where Debian/Ubuntu and Homebrew (keg-only, so not on the PATH) put PostgreSQL's server programs,
# as the generated projects' fixtures look for them.
POSTGRES_FOLDERS = (
    "/usr/lib/postgresql/*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/home/linuxbrew/.linuxbrew/opt/postgresql@*/bin",
)
# program: (what it is for, Debian/Ubuntu package, Homebrew formula)
PROGRAMS = {
    "postgresql": ("the generated projects' throwaway database server", "postgresql", "postgresql@17"),
    "pgbouncer": ("the local stand-in for RDS Proxy", "pgbouncer", "pgbouncer"),
    "node": ("the CDK's synthesis (jsii)", "nodejs", "node"),
    "npm": ("the CDK CLI", "npm", "node"),
    "git": ("cruft, which clones the template and merges with git", "git", "git"),
}
NEEDS: dict[str, tuple[str, ...]] = {
    # Every generated project's suite, in both database modes, and the cruft round trip.
    "test": ("postgresql", "pgbouncer", "node", "npm", "git"),
    # The parser, the hooks and generation: Python only.
    "test-fast": (),
    # The default project (Data API): its `make install`, `make test` and `make local-run`.
    "demo": ("postgresql", "node", "npm"),
}


def postgres_program(name: str) -> str | None:
    """A PostgreSQL server program (initdb, pg_ctl, postgres): on the PATH, or in the newest install found."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(path for folder in POSTGRES_FOLDERS for path in glob.glob(os.path.join(folder, name)))
    return candidates[-1] if candidates else None


def present(program: str) -> bool:
    if program == "postgresql":
        if os.environ.get("SAGA_DATABASE_URL"):
            return True
        servers = all(postgres_program(name) for name in ("initdb", "pg_ctl", "postgres"))
        # As root, the servers run as the postgres user the package creates, through runuser.
        return servers and (os.geteuid() != 0 or (shutil.which("runuser") is not None and _user_exists("postgres")))
    return shutil.which(program) is not None


def missing(purpose: str) -> list[str]:
    """One line per program ``purpose`` needs that is not installed, Python first."""
    lines = []
    if sys.version_info < MINIMUM_PYTHON:
        needed = ".".join(map(str, MINIMUM_PYTHON))
        lines.append(
            f"missing Python {needed} or newer ({sys.executable} is {sys.version.split()[0]}): "
            f"sudo apt-get install python{needed}  |  brew install python@3.13; "
            f"then make BOOTSTRAP_PYTHON=python{needed} (or python3.13)"
        )
    for program in NEEDS[purpose]:
        if not present(program):
            purpose_of, debian, homebrew = PROGRAMS[program]
            lines.append(f"missing {program} ({purpose_of}): sudo apt-get install {debian}  |  brew install {homebrew}")
        elif program == "node" and (old := old_node()):
            lines.append(
                f"node {old} is older than {MINIMUM_NODE}, the oldest the CDK is tested with (22 and 24 are "
                "supported): https://nodejs.org/en/download  |  brew install node"
            )
    return lines


def old_node() -> str | None:
    """The version of the ``node`` on the PATH when it is older than ``MINIMUM_NODE``, else None."""
    node = shutil.which("node")
    if node is None:
        return None
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    major = version.strip().lstrip("v").split(".")[0]
    return version.strip() if major.isdigit() and int(major) < MINIMUM_NODE else None


def _user_exists(name: str) -> bool:
    import pwd  # POSIX only, and only asked as root

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def main(arguments: list[str]) -> int:
    if len(arguments) != 1 or arguments[0] not in NEEDS:
        print(f"usage: python3 -m saga_template.prerequisites {'|'.join(NEEDS)}", file=sys.stderr)
        return 2
    lines = missing(arguments[0])
    if lines:
        print("\n".join(lines), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
