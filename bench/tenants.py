"""How render time grows with the number of tenants.

Renders the dev stack with 3, 30 and 100 tenants (one GPU each, a pool big enough
to supply them) and prints the time, the resource count and the marginal cost per
tenant. Targets, on a 2-core machine:
  - 100 tenants under 10 s (the median render);
  - a flat cost per tenant: each step's marginal cost at most 1.5x the first step's
    (the first step, 3 -> 30, is the yardstick; 1.5x leaves room for timing noise).
Each says met or MISSED; the script exits 0 either way.

    venv/bin/python bench/tenants.py [--counts 3 30 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.targets import RATIO, Target, figure  # noqa: E402
from lab.render import render  # noqa: E402
from model.source import read_stack_file, stack_file  # noqa: E402


# Render time for this many tenants (median).
TIME_TARGETS = {100: Target(10.0, "s")}
# Growth of the marginal cost per tenant over the first step's.
FLAT = Target(1.5, RATIO, inclusive=True)


def values_with(tenants: int) -> dict:
    values = read_stack_file(stack_file("dev"))
    values["gpu-lab:tenants"] = [{"name": f"tenant-{i:03d}", "gpus": 1} for i in range(tenants)]
    values["gpu-lab:gpuPools"] = [{"name": "t4", "maxNodes": tenants, "spot": True}]
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[3, 30, 100])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    render(values_with(1), stack="bench")   # warm up: provider modules load on first use
    print(f"{'tenants':>8} {'resources':>10} {'median s':>9} {'ms/tenant':>10}")
    previous = None
    marginals: list[tuple[str, float]] = []
    verdicts = []
    for count in args.counts:
        values = values_with(count)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            rendering = render(values, stack="bench")
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        marginal = ""
        if previous:
            cost = (median - previous[1]) / (count - previous[0]) * 1000
            marginals.append((f"{previous[0]}->{count}", cost))
            marginal = f"{cost:10.1f}"
        print(f"{count:>8} {len(rendering.resources):>10} {median:>9.3f} {marginal:>10}")
        if count in TIME_TARGETS:
            verdicts.append(figure(f"render {count} tenants", median, "s",
                                   TIME_TARGETS[count]))
        previous = (count, median)
    verdicts += flat_cost(marginals)
    print()
    print("\n".join(verdicts))


def flat_cost(marginals: list[tuple[str, float]]) -> list[str]:
    """Each step's cost per tenant against the first step's: the flat-cost verdicts."""
    if len(marginals) < 2:
        return []
    first, base = marginals[0]
    if base <= 0:
        return [f"cost per tenant: the first step ({first}) cost {base:.1f} ms/tenant, "
                f"nothing to compare with (timing noise?); {FLAT.describe()}: cannot tell"]
    return [figure(f"cost per tenant, {step} vs {first}", cost / base, RATIO, FLAT, digits=2,
                   note=f"({cost:.1f} vs {base:.1f} ms/tenant)")
            for step, cost in marginals[1:]]


if __name__ == "__main__":
    main()
