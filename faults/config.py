"""The interviewer's keys of a stack file: the faults to bake in (gpu-lab:faults), the
scenario they come from (gpu-lab:scenario), the switch that allows them
(gpu-lab:allowFaults) and whether the stack is dressed with benign differences
(gpu-lab:variation, faults/variation.py; on by default where faults are allowed). The model never sees these keys: the program a candidate gets has no
notion of them, and its model refuses them like any unknown key."""

from __future__ import annotations

import json
from typing import Any, Mapping

from model.errors import Problem
from model.reader import check_bool, check_str
from model.spec import FaultRef

FAULTS, SCENARIO, ALLOW = "gpu-lab:faults", "gpu-lab:scenario", "gpu-lab:allowFaults"
VARIATION = "gpu-lab:variation"
KEYS = (FAULTS, SCENARIO, ALLOW, VARIATION)


def split(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the interviewer's keys, everything else)."""
    return ({k: v for k, v in values.items() if k in KEYS},
            {k: v for k, v in values.items() if k not in KEYS})


def parse(values: Mapping[str, Any], problems: list[Problem]
          ) -> tuple[tuple[FaultRef, ...], bool, str | None, bool]:
    """(fault references, allowFaults, scenario, variation), problems appended with their
    keys."""
    allow = check_bool(problems, ALLOW, values.get(ALLOW, False), False)
    scenario = values.get(SCENARIO)
    if scenario is not None:
        scenario = check_str(problems, SCENARIO, scenario)
    variation = check_bool(problems, VARIATION, values.get(VARIATION, allow), allow)
    return _refs(values.get(FAULTS), problems), allow, scenario, variation


def _refs(raw: Any, problems: list[Problem]) -> tuple[FaultRef, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):                # as the Pulumi engine hands it over
        try:
            raw = json.loads(raw)
        except ValueError:
            pass
    if not isinstance(raw, list):
        problems.append(Problem(FAULTS, raw, "must be a list of fault ids, such as "
                                "[cpu-fallback] (pulumi config set --path 'gpu-lab:faults[0]' "
                                "cpu-fallback); `venv/bin/gpu-lab scenarios` lists them"))
        return ()
    refs = []
    for i, item in enumerate(raw):
        fault_id = item.get("id") if isinstance(item, dict) else item
        if not isinstance(fault_id, str):
            problems.append(Problem(f"{FAULTS}[{i}]", item, "must be a fault id or {id: ...}"))
            continue
        params = tuple(sorted((k, v) for k, v in item.items() if k != "id")) \
            if isinstance(item, dict) else ()
        refs.append(FaultRef(id=fault_id, params=params))
    return tuple(refs)
