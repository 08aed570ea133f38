"""How long one offline saga execution takes, and how many state transitions each path costs.

    python -m devtools.bench_saga [--runs 20]

Standard workflows are billed per state transition, so the counts are what one saga costs
in AWS; the times are moto's interpreter on this machine with the real handlers.
"""

import argparse
import statistics
import sys
import uuid
from collections.abc import Sequence

from devtools.local_run import quiet_handlers
from devtools.saga_harness import EffectLedger, SagaHarness
from infra.config import STEPS

COMPENSATIONS = {str(service.compensation) for service in STEPS if service.compensation}
PATHS = {
    "happy path": ({}, set()),
    "first step rejected": ({STEPS[0].name: "rejected"}, set()),
    "last step crashes": ({STEPS[-1].name: "crash"}, set()),
    "last step crashes, every compensation fails": ({STEPS[-1].name: "crash"}, COMPENSATIONS),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="executions of the happy path to time")
    args = parser.parse_args(argv)
    with quiet_handlers(), SagaHarness(EffectLedger()) as harness:
        harness.run()  # imports and first-call set-up stay out of the figures
        seconds = [harness.run().seconds for _ in range(args.runs)]
        transitions = {
            path: harness.run(
                {"saga_id": f"bench-{uuid.uuid4().hex[:12]}", "payload": {}},
                failures=failures,
                fail_compensations=compensations,
            ).state_transitions
            for path, (failures, compensations) in PATHS.items()
        }
    print(f"{len(STEPS)} services, {len(COMPENSATIONS)} compensations")
    print(f"one saga, happy path: median {statistics.median(seconds) * 1000:.0f} ms over {args.runs} runs")
    for path, count in transitions.items():
        print(f"state transitions, {path}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
