"""How long the twin takes to settle a stack, apart from rendering it.

Prints, for each stack: pods simulated, the render time and the twin's time (best of
several runs). The twin runs once per test of every stack, scenario, fault and fault pair,
so its cost decides how long `make test` takes. No figure has a target.

    venv/bin/python bench/simulate.py [--stacks dev all-faults] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.targets import no_target  # noqa: E402


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", nargs="+", default=["dev", "pairing", "all-faults"])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from faults import build_spec
    from lab.render import render
    from lab.simulate import simulate_rendering
    from tests.helpers import stack_values

    for stack in args.stacks:
        values = stack_values(stack)
        spec = build_spec(values, stack=stack)
        render_s, rendering = best(lambda: render(values, stack=stack), args.repeat)
        twin_s, views = best(lambda: simulate_rendering(spec, rendering), args.repeat)
        print(f"{stack:12} {len(views):3} pods   render {render_s * 1000:7.1f} ms   "
              f"twin {twin_s * 1000:7.1f} ms")
    print(no_target("render and twin times"))


if __name__ == "__main__":
    main()
