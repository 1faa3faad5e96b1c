"""Shared test helpers: stack values, renders and small lookups on rendered resources."""

from __future__ import annotations

import copy
from typing import Any

from lab.render import Rendering, render
from model.source import read_stack_file, stack_file

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"


def stack_values(stack: str = "dev", **overrides: Any) -> dict[str, Any]:
    """A stack file's config, with a test project and some full keys replaced:
    stack_values("dev", **{"gpu-lab:cluster": {...}})."""
    values = copy.deepcopy(read_stack_file(stack_file(stack)))
    values.setdefault("gcp:project", "gpu-lab-test")
    values.update(overrides)
    return values


def catalog_refs() -> list:
    """Every fault of the catalog, each on its all-faults target: the faults the all-faults
    stack lists and, by id alone, those left out of it because they hide another's evidence
    (see the stack file)."""
    from faults import FAULTS
    refs = list(stack_values("all-faults")["gpu-lab:faults"])
    listed = {ref if isinstance(ref, str) else ref["id"] for ref in refs}
    return refs + [fault_id for fault_id in FAULTS if fault_id not in listed]


def render_with(**overrides: Any) -> Rendering:
    return render(stack_values("dev", **overrides), stack="test")


def one(rendering: Rendering, type_token: str, **where: Any):
    """The single resource of this type whose inputs match `where` (top-level keys)."""
    found = [r for r in rendering.of_type(type_token)
             if all(r.inputs.get(k) == v for k, v in where.items())]
    assert len(found) == 1, f"expected one {type_token} with {where}, found {len(found)}"
    return found[0]
