"""Render projects into build/bench, run their benchmarks, and print the figures as one table.

    python -m bench.template [--runs 10] [--renders 3] [--matrix-seconds S | --run-matrix]

Each project's own ``make bench`` (``devtools/bench.py``) measures it; this script only
chooses the projects (the default answers in both database modes, and sagas of 1, 3 and 8
steps for the local feedback loop), times the rendering itself, and gathers the results.
The template's test matrix takes long: its time comes from ``--matrix-seconds`` (a recorded
run of ``make test``) unless ``--run-matrix`` runs it here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cookiecutter.main import cookiecutter  # type: ignore[import-untyped]

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
BUILD = TEMPLATE_ROOT / "build" / "bench"
EIGHT_STEPS = "payment, inventory, shipping, invoicing, loyalty, packing, delivery, survey"
PROJECTS: dict[str, tuple[dict[str, str], str]] = {
    # name: (answers, sections of devtools/bench.py)
    "defaults data_api": ({"database_mode": "data_api"}, "cold,first-call,size,loop,matrix,cost"),
    "defaults rds_proxy": ({"database_mode": "rds_proxy"}, "cold,size,matrix,cost"),
    "1 step": ({"services": "payment", "compensations": "payment=refund_payment"}, "loop,matrix"),
    "8 steps": (
        {
            "services": EIGHT_STEPS,
            "compensations": "payment=refund_payment, inventory=release_inventory, shipping=cancel_shipping, "
            "invoicing=void_invoice, loyalty=revoke_points, packing=unpack",
        },
        "loop,matrix,cost",
    ),
}


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines()
            if line.startswith("Model name")
        ),
        platform.processor() or "unknown CPU",
    )
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    except FileNotFoundError:
        node = "no Node.js"
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, Node {node or 'unknown'}, "
        f"{platform.system()} {platform.machine()}, {datetime.now(UTC):%Y-%m-%d}"
    )


def render(answers: dict[str, str], output_dir: Path) -> tuple[Path, float]:
    """Render one project; return its folder and the seconds it took (hooks included)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    project = cookiecutter(
        str(TEMPLATE_ROOT), no_input=True, output_dir=str(output_dir), extra_context=answers, overwrite_if_exists=True
    )
    return Path(project), time.perf_counter() - started


def run_project_bench(project: Path, sections: str, runs: int, report: Path) -> dict[str, Any]:
    environment = {**os.environ, "PYTHONPATH": str(project / "src")}
    command = [sys.executable, "-m", "devtools.bench", "--runs", str(runs), "--only", sections, "--json", str(report)]
    print(f"\n$ (cd {project.relative_to(TEMPLATE_ROOT)} && python {' '.join(command[1:])})", flush=True)
    subprocess.run(command, cwd=project, env=environment, check=True)
    figures: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return figures


def summary(results: dict[str, dict[str, Any]], render_seconds: float, matrix_seconds: float | None) -> str:
    """The figures as the Markdown table of the template's README."""
    rows = [("Render one project (hooks included, default answers)", f"{render_seconds:.1f} s")]
    for name in ("defaults data_api", "defaults rds_proxy"):
        figures = results.get(name, {})
        if "cold" in figures:
            cold = {key: value for key, value in figures["cold"].items() if not key.startswith("baseline")}
            baseline = next(value for key, value in figures["cold"].items() if key.startswith("baseline"))
            worst = max(cold, key=lambda key: cold[key]["ratio"])
            rows.append(
                (
                    f"Cold import, {name}: baseline / worst handler",
                    f"{baseline['ms']:.0f} ms / {cold[worst]['ms']:.0f} ms ({worst}), "
                    f"{cold[worst]['ratio']:.2f}x (goal 1.25x)",
                )
            )
        if "first_call" in figures:
            first = figures["first_call"]
            worst = max(first, key=lambda key: first[key]["first_call_ms"])
            rows.append(
                (
                    f"First / second invocation, {name} (moto for DynamoDB)",
                    f"{first[worst]['first_call_ms']:.0f} ms / {first[worst]['second_call_ms']:.0f} ms ({worst})",
                )
            )
        if "asset_bytes" in figures:
            sizes = figures["asset_bytes"]
            rows.append(
                (f"Largest zipped asset, {name}", f"{max(sizes.values()) / 1000:.1f} kB ({max(sizes, key=sizes.get)})")
            )
        if "cost" in figures:
            happy = figures["cost"][0]
            rows.append(
                (
                    f"Happy path, {name}: transitions / invocations / $ per million (Standard, Express)",
                    f"{happy['state_transitions']} / {happy['invocations']} / "
                    f"{happy['standard_per_million']:.2f}, {happy['express_per_million']:.2f}",
                )
            )
    for name in ("1 step", "defaults data_api", "8 steps"):
        figures = results.get(name, {})
        if "matrix" in figures:
            matrix = figures["matrix"]
            rows.append((f"Failure matrix (pytest tests/saga), {figures['steps']} steps", f"{matrix['seconds']:.1f} s"))
    if matrix_seconds is not None:
        rows.append(("Template test matrix (make test)", f"{matrix_seconds / 60:.1f} min"))
    lines = ["| Figure | Value |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in rows)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh interpreters per measured module")
    parser.add_argument("--renders", type=int, default=3, help="renderings of the default project to time")
    parser.add_argument("--only", default=",".join(PROJECTS), help=f"comma-separated projects of {list(PROJECTS)}")
    parser.add_argument("--matrix-seconds", type=float, help="the recorded wall time of the template's `make test`")
    parser.add_argument("--run-matrix", action="store_true", help="run the template's whole test matrix here")
    args = parser.parse_args(argv)
    # rds_proxy assets vendor psycopg's binary wheels: the template's tests download them here.
    os.environ.setdefault("LAMBDA_WHEELHOUSE", str(TEMPLATE_ROOT / "build" / "wheelhouse"))
    print(machine(), flush=True)

    render_times = [render({}, BUILD / f"render-{index}")[1] for index in range(args.renders)]
    render_seconds = statistics.median(render_times)
    print(f"Render one project: median {render_seconds:.2f} s over {args.renders}", flush=True)

    results: dict[str, dict[str, Any]] = {}
    for name in [name.strip() for name in args.only.split(",") if name.strip()]:
        answers, sections = PROJECTS[name]
        folder = BUILD / name.replace(" ", "-")
        project, _ = render(answers, folder)
        results[name] = run_project_bench(project, sections, args.runs, folder / "figures.json")

    matrix_seconds = args.matrix_seconds
    if args.run_matrix:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "-n", "auto", "--dist", "loadgroup"], cwd=TEMPLATE_ROOT)
        matrix_seconds = time.perf_counter() - started
    (BUILD / "figures.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\n{machine()}\n{summary(results, render_seconds, matrix_seconds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
