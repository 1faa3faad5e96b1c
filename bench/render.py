"""How long an offline render of a stack takes.

Prints three numbers for the dev stack:
  - import:        importing the program's modules (pulumi, providers, components);
  - in-process:    one render after imports, best and median of several;
  - whole process: `python -m lab render --stack dev --quiet`, as a user runs it.
Target: whole-process render of the dev stack under 3 s on a 2-core machine (the median;
the line says met or MISSED, and the script exits 0 either way).

    venv/bin/python bench/render.py [--stack dev] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.targets import Target, figure, no_target  # noqa: E402

# The stack a target is set for, and the target.
WHOLE_PROCESS = {"dev": Target(3.0, "s")}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    def import_program() -> None:
        import components.lab  # noqa: F401  (the program's imports)
        import lab.render  # noqa: F401

    print(f"import:        {timed(import_program):6.3f} s")

    from lab.render import render
    from model.source import read_stack_file, stack_file

    values = read_stack_file(stack_file(args.stack))
    runs = [timed(lambda: render(values, stack=args.stack)) for _ in range(args.repeat)]
    print(f"in-process:    {min(runs):6.3f} s best, {statistics.median(runs):.3f} s median "
          f"({args.repeat} renders of {args.stack})")
    print(no_target("import and in-process render (they explain the whole-process figure)"))

    command = [sys.executable, "-m", "lab", "render", "--stack", args.stack, "--quiet"]
    whole = [timed(lambda: subprocess.run(command, cwd=ROOT, check=True,
                                          capture_output=True))
             for _ in range(max(1, args.repeat // 2))]
    print(figure(f"render {args.stack} (whole process)", statistics.median(whole), "s",
                 WHOLE_PROCESS.get(args.stack),
                 note=f"median, {min(whole):.3f} s best of {len(whole)}"))


if __name__ == "__main__":
    main()
