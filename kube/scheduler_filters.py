"""kube-scheduler's per-node filter plugins: each is `(pod, node_info) -> None | Rejection`,
worded as upstream's status messages.

Follows pkg/scheduler/framework/plugins/{nodeunschedulable, nodename, tainttoleration,
nodeaffinity, noderesources/fit.go} and k8s.io/api/core/v1/toleration.go (ToleratesTaint).
"""

from __future__ import annotations

from typing import Iterable, Optional

from kube.scheduler_framework import NodeInfo, Rejection, pod_resource_units
from kube.scheduler_selectors import required_node_affinity_matches

ERR_UNSCHEDULABLE = "node(s) were unschedulable"
ERR_NODE_NAME = "node(s) didn't match the requested node name"
ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
ERR_TOO_MANY_PODS = "Too many pods"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
# Only these taint effects keep a pod off a node; PreferNoSchedule only lowers the score.
DO_NOT_SCHEDULE_EFFECTS = ("NoSchedule", "NoExecute")


def _spec(pod: dict) -> dict:
    return pod.get("spec") or {}


def tolerates_taint(toleration: dict, taint: dict) -> bool:
    """Toleration.ToleratesTaint: an empty effect matches every effect, an empty key with
    Exists matches every key, Exists matches every value, Equal (or no operator) needs the
    same value."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return operator == "Exists"


def tolerations_tolerate(tolerations: Iterable[dict], taint: dict) -> bool:
    return any(tolerates_taint(t, taint) for t in tolerations)


def untolerated_taint(taints: Iterable[dict], tolerations: list[dict],
                      effects: tuple[str, ...] = DO_NOT_SCHEDULE_EFFECTS) -> Optional[dict]:
    """The first taint with one of these effects that no toleration tolerates."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerations_tolerate(tolerations, taint):
            return taint
    return None


def node_unschedulable(pod: dict, node_info: NodeInfo) -> Optional[Rejection]:
    """spec.unschedulable (kubectl cordon), unless the pod tolerates the matching taint."""
    if not (node_info.node.get("spec") or {}).get("unschedulable"):
        return None
    cordon = {"key": TAINT_NODE_UNSCHEDULABLE, "effect": "NoSchedule"}
    if tolerations_tolerate(_spec(pod).get("tolerations") or [], cordon):
        return None
    return Rejection(ERR_UNSCHEDULABLE, unresolvable=True)


def node_name(pod: dict, node_info: NodeInfo) -> Optional[Rejection]:
    wanted = _spec(pod).get("nodeName")
    if not wanted or wanted == node_info.name:
        return None
    return Rejection(ERR_NODE_NAME, unresolvable=True)


def taint_toleration(pod: dict, node_info: NodeInfo) -> Optional[Rejection]:
    taint = untolerated_taint(node_info.taints, _spec(pod).get("tolerations") or [])
    if taint is None:
        return None
    return Rejection(f"node(s) had untolerated taint {{{taint.get('key', '')}: "
                     f"{taint.get('value', '')}}}", unresolvable=True)


def node_affinity(pod: dict, node_info: NodeInfo) -> Optional[Rejection]:
    if required_node_affinity_matches(_spec(pod), node_info.node):
        return None
    return Rejection(ERR_NODE_AFFINITY, unresolvable=True)


def insufficient_resources(pod: dict, node_info: NodeInfo) -> list[tuple[str, bool]]:
    """fitsRequest: (reason, unresolvable) for each resource the node cannot give. A
    resource the node does not advertise counts as 0 allocatable; a request larger than
    the node's whole allocatable cannot be fixed by preemption."""
    found: list[tuple[str, bool]] = []
    if len(node_info.pods) + 1 > node_info.allocatable.get("pods", 0):
        found.append((ERR_TOO_MANY_PODS, False))
    for name, wanted in sorted(pod_resource_units(pod).items()):
        if wanted <= 0:
            continue
        allocatable = node_info.allocatable.get(name, 0)
        if wanted > allocatable - node_info.requested.get(name, 0):
            found.append((f"Insufficient {name}", wanted > allocatable))
    return found


def node_resources_fit(pod: dict, node_info: NodeInfo) -> Optional[Rejection]:
    found = insufficient_resources(pod, node_info)
    if not found:
        return None
    return Rejection(*(reason for reason, _ in found),
                     unresolvable=any(unresolvable for _, unresolvable in found))
