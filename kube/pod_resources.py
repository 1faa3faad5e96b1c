"""What a pod asks of a node and of a quota: its containers' requests combined the way
Kubernetes combines them."""

from __future__ import annotations

from decimal import Decimal

from kube.quantity import parse_quantity


def pod_requests(spec: dict) -> dict[str, Decimal]:
    """What the scheduler reserves: containers summed, or the largest init container."""
    totals: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        for name, value in ((resources.get("requests") or resources.get("limits")) or {}).items():
            totals[name] = totals.get(name, Decimal(0)) + parse_quantity(value)
    for container in spec.get("initContainers") or []:
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            totals[name] = max(totals.get(name, Decimal(0)), parse_quantity(value))
    return totals
