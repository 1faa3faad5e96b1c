"""Looks up the faults a stack asks for and applies them to the spec, in order."""

from __future__ import annotations

from model.errors import ConfigError, Problem, did_you_mean
from model.spec import LabSpec

# id -> fault module; the catalog fills this in.
FAULTS: dict = {}


def apply_faults(spec: LabSpec) -> LabSpec:
    problems = []
    for i, ref in enumerate(spec.faults):
        if ref.id not in FAULTS:
            known = ", ".join(sorted(FAULTS)) or "none yet"
            problems.append(Problem(f"gpu-lab:faults[{i}]", ref.id,
                                    "unknown fault id" + did_you_mean(ref.id, FAULTS)
                                    + f"; known faults: {known}"))
    if problems:
        raise ConfigError(problems)
    for ref in spec.faults:
        spec = FAULTS[ref.id].inject(spec, **dict(ref.params))
    return spec
