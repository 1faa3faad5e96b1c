"""How render time grows with the number of tenants.

Renders the dev stack with 3, 30 and 100 tenants (one GPU each, a pool big enough
to supply them) and prints the time, the resource count and the marginal cost per
tenant. Target: 100 tenants under 10 s on a 2-core machine, flat cost per tenant.

    venv/bin/python bench/tenants.py [--counts 3 30 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.render import render  # noqa: E402
from model.source import read_stack_file, stack_file  # noqa: E402


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
            marginal = f"{(median - previous[1]) / (count - previous[0]) * 1000:10.1f}"
        print(f"{count:>8} {len(rendering.resources):>10} {median:>9.3f} {marginal:>10}")
        previous = (count, median)


if __name__ == "__main__":
    main()
