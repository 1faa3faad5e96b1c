"""Where add-on DaemonSets may run: node affinity that keeps them off some GPU pools."""

from __future__ import annotations

from typing import Iterable

from model.spec import POOL_LABEL


def avoid_pools(pools: Iterable[str]) -> dict:
    """Node affinity for nodes that are not in any of these pools."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": POOL_LABEL, "operator": "NotIn", "values": sorted(pools)}]}]}}}
