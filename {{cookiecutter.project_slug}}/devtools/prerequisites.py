"""Check the programs the tests (``test``) and the local runs (``local-run``) need, before anything starts them.

Prints one line per missing program, with the command that installs it on Debian/Ubuntu and on macOS, and
exits 1; prints nothing and exits 0 when all are there. Standard library only: it runs before any install.
"""

import glob
import os
import pwd
import shutil
import subprocess
import sys

from infra.config import DATABASE_MODE

# Where Debian/Ubuntu and Homebrew (keg-only, so not on the PATH) put PostgreSQL's server programs.
POSTGRES_FOLDERS = (
    "/usr/lib/postgresql/*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/home/linuxbrew/.linuxbrew/opt/postgresql@*/bin",
)
# The oldest Node.js the CDK is tested with here; it prints an end-of-life notice, 22 and 24 do not.
MINIMUM_NODE = 20
# program: (what it is for, Debian/Ubuntu package, Homebrew formula)
PROGRAMS = {
    "postgresql": ("a throwaway PostgreSQL server", "postgresql", "postgresql@17"),
    "pgbouncer": ("the local stand-in for RDS Proxy", "pgbouncer", "pgbouncer"),
    "node": ("the CDK's synthesis (jsii) and its CLI", "nodejs npm", "node"),
}
PROXY = ("pgbouncer",) if DATABASE_MODE == "rds_proxy" else ()
NEEDS = {"test": ("postgresql", "node", *PROXY), "local-run": ("postgresql", *PROXY)}


def find(name: str) -> str | None:
    """A program on the PATH, in /usr/sbin (pgbouncer, off a user's PATH), or in the newest PostgreSQL install."""
    candidates = sorted(path for folder in POSTGRES_FOLDERS for path in glob.glob(os.path.join(folder, name)))
    return shutil.which(name) or shutil.which(name, path="/usr/sbin") or (candidates[-1] if candidates else None)


def program(name: str) -> str:
    if found := find(name):
        return found
    raise RuntimeError(f"{name} not found: {' '.join(missing('local-run'))}")


def present(name: str) -> bool:
    if name != "postgresql":
        return find(name) is not None
    servers = all(find(name) for name in ("initdb", "pg_ctl", "postgres"))
    # As root, the servers run as the postgres user the package creates, through runuser.
    users = {entry.pw_name for entry in pwd.getpwall()}
    as_root = os.geteuid() != 0 or (shutil.which("runuser") is not None and "postgres" in users)
    return bool(os.environ.get("SAGA_DATABASE_URL")) or (servers and as_root)


def missing(purpose: str) -> list[str]:
    """One line per program ``purpose`` needs that is not installed, or too old."""
    lines = [
        f"missing {program} ({text}): sudo apt-get install {debian}  |  brew install {homebrew}"
        for program, (text, debian, homebrew) in PROGRAMS.items()
        if program in NEEDS[purpose] and not present(program)
    ]
    node = shutil.which("node") if "node" in NEEDS[purpose] else None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout if node else ""  # noqa: S603
    if (major := version.lstrip("v").split(".")[0]).isdigit() and int(major) < MINIMUM_NODE:
        lines.append(
            f"node {version.strip()} is older than {MINIMUM_NODE}, the oldest the CDK is tested with (22 and 24 "
            "are supported): https://nodejs.org/en/download  |  brew install node"
        )
    return lines


def require(purpose: str) -> None:
    if lines := missing(purpose):
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    if set(sys.argv[1:]) - set(NEEDS):
        print(f"usage: python3 -m devtools.prerequisites [{'|'.join(NEEDS)}]", file=sys.stderr)
        sys.exit(2)
    for purpose in sys.argv[1:] or ["test"]:
        require(purpose)
