"""A benchmark figure next to its target, and whether it meets it.

Benchmarks print numbers and exit 0 whether or not a target is met; the verdict is for the
reader: `render dev (whole process): 3.860 s  target < 3 s: MISSED`.

A figure is judged as it is printed (rounded to the digits shown), so a line never reads
`3.000 s  target < 3 s: met`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

MET = "met"
MISSED = "MISSED"
RATIO = "x"                          # a unit written without a space: 1.05x


def _with_unit(number: str, unit: str) -> str:
    return f"{number}{unit}" if unit == RATIO or not unit else f"{number} {unit}"


@dataclass(frozen=True)
class Target:
    """A limit a figure should stay under (`< limit`) or at most at (`<=`)."""
    limit: float
    unit: str = "s"
    inclusive: bool = False          # False: under the limit; True: the limit itself meets it

    def met(self, value: float, digits: int = 3) -> bool:
        shown = float(f"{value:.{digits}f}")       # the figure as the line prints it
        return shown <= self.limit if self.inclusive else shown < self.limit

    def describe(self) -> str:
        relation = "<=" if self.inclusive else "<"
        return f"target {relation} {_with_unit(f'{self.limit:g}', self.unit)}"

    def verdict(self, value: float, digits: int = 3) -> str:
        return f"{self.describe()}: {MET if self.met(value, digits) else MISSED}"


def figure(label: str, value: float, unit: str = "s", target: Optional[Target] = None,
           digits: int = 3, note: str = "") -> str:
    """One line: `label: value unit[ note]`, then the target and its verdict when there is
    one."""
    line = f"{label}: {_with_unit(f'{value:.{digits}f}', unit)}{f' {note}' if note else ''}"
    return f"{line}  {target.verdict(value, digits)}" if target else line


def no_target(what: str) -> str:
    """The closing line of a benchmark none of whose figures has a target."""
    return f"{what}: no target set (figures only)"
