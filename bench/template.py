"""Render projects into build/bench, measure them, and print the figures the template's README gives.

    python -m bench.template [--runs 10] [--python python3.13] [--only PROJECTS] [--sections SECTIONS]
                             [--matrix-seconds S | --run-matrix]

Per project (the default answers in both database modes; sagas of 1 and 8 steps for the local loop):

- cold: each function's cold start next to the baseline (``bench.cold``), and the packages each
  imports beyond the baseline;
- size: each function's zipped asset, as ``infra.packaging`` builds it;
- database: 1,000 invocations of a step's database work at the same moment;
- loop: one offline saga, happy path (``devtools.harness``);
- matrix: ``pytest tests/saga``, every failure of every step, on one worker.

Projects are rendered for this machine's architecture and the measured Python's version, so that
their assets run here. Everything runs on 127.0.0.1 and stops by itself. The template's own test
matrix takes long: its time comes from ``--matrix-seconds`` (a recorded ``make test``) unless
``--run-matrix`` runs it here.
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

from bench.cold import ColdStarts
from bench.project import (
    BUILD,
    LAMBDA_PYTHONS,
    TEMPLATE_ROOT,
    LocalServices,
    MotoServer,
    Project,
    Runtime,
    host_architecture,
    lambda_runtime,
    render,
    zipped_size,
)

GOAL = 1.25
EIGHT_STEPS = "payment, inventory, shipping, invoicing, loyalty, packing, delivery, survey"
SECTIONS = ("cold", "size", "database", "loop", "matrix")
PROJECTS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "data_api": ({"database_mode": "data_api"}, SECTIONS),
    "rds_proxy": (
        {"database_mode": "rds_proxy", "project_slug": "proxy-saga", "package_name": "proxy_saga"},
        SECTIONS,
    ),
    "1 step": ({"services": "payment", "compensations": "payment=refund_payment"}, ("loop", "matrix")),
    "8 steps": (
        {
            "services": EIGHT_STEPS,
            "compensations": "payment=refund_payment, inventory=release_inventory, shipping=cancel_shipping, "
            "invoicing=void_invoice, loyalty=revoke_points, packing=unpack",
        },
        ("loop", "matrix"),
    ),
}


def machine(runtime: Runtime) -> dict[str, str]:
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
        node = ""
    return {
        "cpu": f"{os.cpu_count()} x {model}",
        "system": f"{platform.system()} {platform.machine()}",
        "python": f"{platform.python_version()} (tools), {runtime.version} measured ({runtime.note})",
        "node": node or "not installed",
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
    }


def bench_project(name: str, runtime: Runtime, sections: tuple[str, ...], runs: int) -> dict[str, Any]:
    answers, wanted = PROJECTS[name]
    answers = {**answers, "lambda_architecture": host_architecture()}
    if runtime.version in LAMBDA_PYTHONS:
        answers["python_version"] = runtime.version
    folder, _ = render(answers, BUILD / name.replace(" ", "-"))
    project = Project(folder, runtime)
    print(f"\n== {name}: {folder.relative_to(TEMPLATE_ROOT)}", flush=True)
    project.prepare()
    figures: dict[str, Any] = {"answers": answers, "steps": len(project.description["steps"])}
    chosen = [section for section in wanted if section in sections]
    if {"cold", "size"} & set(chosen):
        assets: dict[str, str] = project.call("assets")
        if "size" in chosen:
            figures["asset_bytes"] = {function: zipped_size(Path(folder)) for function, folder in assets.items()}
            print_table("Zipped asset", {key: f"{size / 1000:.1f} kB" for key, size in figures["asset_bytes"].items()})
    if "cold" in chosen:
        with MotoServer(project.description["region"]) as moto, LocalServices(project) as database:
            cold = ColdStarts(runtime, project.description, assets, database.environment, moto)
            print(f"Cold starts, {runs} rounds:", flush=True)
            figures["cold"] = cold.measure(runs)
            print(cold_table(figures["cold"]))
            figures["imports"] = cold.import_costs()
            print_table(
                "Largest imports beyond the baseline (-X importtime, one run)",
                {
                    key: ", ".join(f"{group} {ms:.1f} ms" for group, ms in costs[:4])
                    for key, costs in figures["imports"].items()
                },
            )
    if "database" in chosen:
        figures["database"] = project.call("database-load")
        print_table("1,000 concurrent invocations of a step's database work", figures["database"])
    if "loop" in chosen:
        figures["loop"] = project.call("saga-loop", "--runs", str(max(runs, 10)))
        print_table("One offline saga, happy path", figures["loop"])
    if "matrix" in chosen:
        started = time.perf_counter()
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/saga"]
        result = project.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        figures["matrix"] = {
            "seconds": time.perf_counter() - started,
            "passed": result.returncode == 0,
            "summary": result.stdout.strip().splitlines()[-1],
        }
        print_table("Failure matrix, pytest tests/saga, one worker", figures["matrix"])
    return figures


def print_table(title: str, rows: dict[str, Any]) -> None:
    print(f"{title}:")
    width = max((len(key) for key in rows), default=0)
    for key, value in rows.items():
        print(f"  {key:<{width}}  {f'{value:.1f}' if isinstance(value, float) else value}")


def cold_table(figures: dict[str, Any]) -> str:
    """The cold starts of one project as the Markdown table of the template's README."""
    lines = [
        "| Function | Cold start | import + first invocation | Baseline next to it | Ratio |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, figure in figures.items():
        if name == "baseline":
            continue
        over = "" if figure["ratio"] <= GOAL else " (over the goal)"
        lines.append(
            f"| {name} | {figure['ms']:.0f} ms | {figure['import_ms']:.0f} + {figure['first_invocation_ms']:.0f} ms "
            f"| {figure['baseline_ms']:.0f} ms | {figure['ratio']:.2f}x{over} |"
        )
    base = figures["baseline"]
    lines.append(
        f"| baseline (boto3 + Logger, one client, one call) | {base['ms']:.0f} ms "
        f"| {base['import_ms']:.0f} + {base['first_invocation_ms']:.0f} ms | | |"
    )
    return "\n".join(lines)


def summary(results: dict[str, dict[str, Any]], render_seconds: float, matrix_seconds: float | None) -> str:
    """The other figures as one Markdown table."""
    rows = [("Render one project (hooks included, default answers)", f"{render_seconds:.1f} s")]
    for name, figures in results.items():
        if "asset_bytes" in figures:
            sizes = figures["asset_bytes"]
            largest = max(sizes, key=sizes.get)
            rows.append((f"Largest zipped asset, {name}", f"{sizes[largest] / 1000:.1f} kB ({largest})"))
        if "database" in figures:
            load = figures["database"]
            rows.append(
                (
                    f"1,000 concurrent step invocations, {name} ({load['access']})",
                    f"{load['succeeded']} succeeded in {load['seconds']:.1f} s, p99 {load['p99_ms']:.0f} ms, "
                    f"at most {load['peak_server_connections']} server connections",
                )
            )
        shape = name if "step" in name else f"{name}, {figures['steps']} steps"
        if "loop" in figures:
            rows.append((f"One offline saga, happy path ({shape})", f"{figures['loop']['median_ms']:.0f} ms"))
        if "matrix" in figures:
            matrix = figures["matrix"]
            outcome = "" if matrix["passed"] else f" (failed: {matrix['summary']})"
            rows.append((f"Failure matrix, pytest tests/saga ({shape})", f"{matrix['seconds']:.1f} s{outcome}"))
    if matrix_seconds is not None:
        rows.append(("Template test matrix (make test)", f"{matrix_seconds / 60:.1f} min"))
    return "\n".join(["| Figure | Value |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="cold starts of each function (and of the baseline)")
    parser.add_argument("--python", help=f"the Python to measure as Lambda's, one of {LAMBDA_PYTHONS}")
    parser.add_argument("--renders", type=int, default=3, help="renderings of the default project to time")
    parser.add_argument("--only", default=",".join(PROJECTS), help=f"comma-separated projects of {list(PROJECTS)}")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--matrix-seconds", type=float, help="the recorded wall time of the template's `make test`")
    parser.add_argument("--run-matrix", action="store_true", help="run the template's whole test matrix here")
    args = parser.parse_args(argv)
    projects = [name.strip() for name in args.only.split(",") if name.strip()]
    sections = tuple(section.strip() for section in args.sections.split(",") if section.strip())
    if unknown := (set(projects) - set(PROJECTS)) | (set(sections) - set(SECTIONS)):
        parser.error(f"unknown projects or sections: {sorted(unknown)}")
    # Shared with the template's tests: the target platform's wheels, downloaded once.
    os.environ.setdefault("LAMBDA_WHEELHOUSE", str(TEMPLATE_ROOT / "build" / "wheelhouse"))
    BUILD.mkdir(parents=True, exist_ok=True)
    runtime = lambda_runtime(args.python)
    about = machine(runtime)
    print("\n".join(f"{key}: {value}" for key, value in about.items()), flush=True)

    render_times = [render({}, BUILD / f"render-{index}")[1] for index in range(args.renders)]
    render_seconds = statistics.median(render_times)
    print(f"Render one project: median {render_seconds:.2f} s over {args.renders}", flush=True)

    results = {name: bench_project(name, runtime, sections, args.runs) for name in projects}
    matrix_seconds = args.matrix_seconds
    if args.run_matrix:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-n", "auto", "--dist", "loadgroup"], cwd=TEMPLATE_ROOT, check=False
        )
        matrix_seconds = time.perf_counter() - started
    (BUILD / "figures.json").write_text(json.dumps({"machine": about, **results}, indent=2) + "\n", encoding="utf-8")
    print("\n" + "\n".join(f"{key}: {value}" for key, value in about.items()))
    for name, figures in results.items():
        if "cold" in figures:
            print(f"\nCold starts, {name} (median of {args.runs}; goal: at most {GOAL}x the baseline)\n")
            print(cold_table(figures["cold"]))
    print(f"\n{summary(results, render_seconds, matrix_seconds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
