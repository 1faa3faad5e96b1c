"""pod_schedulable: is there a node this pod fits? The scheduler's filters, offline.

Node selector, required node affinity, taints and tolerations, and resource requests
against allocatable (extended resources such as nvidia.com/gpu count as 0 on a node that
does not advertise them). The reason reads like the scheduler's FailedScheduling event.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Iterable

from kube.answer import Answer
from kube.pod_resources import pod_requests
from kube.quantity import parse_quantity

_SCHEDULING_EFFECTS = ("NoSchedule", "NoExecute")


def _expression_matches(expr: dict, labels: dict[str, str]) -> bool:
    key, op, values = expr["key"], expr["operator"], expr.get("values") or []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt") and key in labels:
        number, bound = int(labels[key]), int(values[0])
        return number > bound if op == "Gt" else number < bound
    return False


def _affinity_matches(spec: dict, labels: dict[str, str]) -> bool:
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not required:
        return True
    return any(all(_expression_matches(e, labels) for e in term.get("matchExpressions") or [])
               for term in required.get("nodeSelectorTerms") or [])


def _tolerated(taint: dict, tolerations: list[dict]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not toleration.get("key") or toleration["key"] == taint["key"]:
                return True
        elif (toleration.get("key") == taint["key"]
              and toleration.get("value", "") == taint.get("value", "")):
            return True
    return False


def _why_not(spec: dict, node: dict) -> str | None:
    labels = node.get("metadata", {}).get("labels") or {}
    selector = spec.get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()) or not _affinity_matches(spec,
                                                                                     labels):
        return "node(s) didn't match Pod's node affinity/selector"
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in _SCHEDULING_EFFECTS and not _tolerated(
                taint, spec.get("tolerations") or []):
            return f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    for name, wanted in sorted(pod_requests(spec).items()):
        if wanted > parse_quantity(allocatable.get(name, 0)):
            return f"Insufficient {name}"
    return None


def pod_schedulable(pod: dict, nodes: Iterable[dict]) -> Answer:
    """Could the scheduler place this pod (or pod template) on one of these nodes?"""
    spec = pod.get("spec") or {}
    nodes = list(nodes)
    reasons: Counter[str] = Counter()
    for node in nodes:
        reason = _why_not(spec, node)
        if reason is None:
            return Answer(True, f"fits node {node['metadata']['name']}")
        reasons[reason] += 1
    summary = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return Answer(False, f"0/{len(nodes)} nodes are available: {summary}.")
