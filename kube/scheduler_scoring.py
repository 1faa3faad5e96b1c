"""Scoring the nodes that passed every filter, and picking one.

Follows the default profile's score plugins and weights (pkg/scheduler/apis/config/v1/
default_plugins.go): TaintToleration x3 (PreferNoSchedule taints the pod does not tolerate,
fewer is better), NodeAffinity x2 (weights of matched preferred terms), PodTopologySpread x2
(ScheduleAnyway constraints) and NodeResourcesFit x1 (LeastAllocated over cpu and memory,
noderesources/least_allocated.go). Each plugin's scores are normalized to 0..100 as
helper.DefaultNormalizeScore does, then weighted and summed.
"""

from __future__ import annotations

from typing import Callable

from kube.scheduler_filters import tolerations_tolerate
from kube.scheduler_framework import NodeInfo, pod_resource_units
from kube.scheduler_selectors import preferred_node_affinity_score
from kube.scheduler_spread import spread_scores

MAX_NODE_SCORE = 100
# The scheduler's stand-ins for a pod that requests no cpu or memory, so that such pods
# still spread (schedutil.DefaultMilliCPURequest and DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


def default_normalize(raw: dict[str, int], reverse: bool = False) -> dict[str, int]:
    high = max(raw.values(), default=0)
    if high == 0:
        return {name: MAX_NODE_SCORE if reverse else score for name, score in raw.items()}
    scaled = {name: MAX_NODE_SCORE * score // high for name, score in raw.items()}
    return {name: MAX_NODE_SCORE - s if reverse else s for name, s in scaled.items()}


def taint_toleration_scores(pod: dict, nodes: list[NodeInfo]) -> dict[str, int]:
    tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or []
                   if not t.get("effect") or t["effect"] == "PreferNoSchedule"]
    raw = {n.name: sum(1 for taint in n.taints if taint.get("effect") == "PreferNoSchedule"
                       and not tolerations_tolerate(tolerations, taint)) for n in nodes}
    return default_normalize(raw, reverse=True)


def node_affinity_scores(pod: dict, nodes: list[NodeInfo]) -> dict[str, int]:
    spec = pod.get("spec") or {}
    return default_normalize({n.name: preferred_node_affinity_score(spec, n.node) for n in nodes})


def _non_zero(requests: dict[str, int]) -> dict[str, int]:
    # Simplified: upstream applies the defaults per container; here per pod.
    return {"cpu": requests.get("cpu") or DEFAULT_MILLI_CPU_REQUEST,
            "memory": requests.get("memory") or DEFAULT_MEMORY_REQUEST}


def _least_requested(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated_scores(pod: dict, nodes: list[NodeInfo]) -> dict[str, int]:
    wanted = _non_zero(pod_resource_units(pod))
    scores = {}
    for node in nodes:
        used: dict[str, int] = {"cpu": 0, "memory": 0}
        for other in node.pods:
            for name, value in _non_zero(pod_resource_units(other)).items():
                used[name] += value
        parts = [_least_requested(used[r] + wanted[r], node.allocatable.get(r, 0))
                 for r in ("cpu", "memory") if node.allocatable.get(r, 0)]
        scores[node.name] = sum(parts) // len(parts) if parts else 0
    return scores


SCORE_PLUGINS: list[tuple[str, int, Callable[[dict, list[NodeInfo]], dict[str, int]]]] = [
    ("TaintToleration", 3, taint_toleration_scores),
    ("NodeAffinity", 2, node_affinity_scores),
    ("NodeResourcesFit", 1, least_allocated_scores),
    ("PodTopologySpread", 2, spread_scores),
]


def total_scores(pod: dict, nodes: list[NodeInfo]) -> dict[str, int]:
    totals = {n.name: 0 for n in nodes}
    for _, weight, plugin in SCORE_PLUGINS:
        for name, score in plugin(pod, nodes).items():
            totals[name] += weight * score
    return totals


def select_host(pod: dict, nodes: list[NodeInfo]) -> str:
    """The highest total score. Upstream picks at random among the nodes that tie for the
    top score; the lab must be deterministic, so ties go to the first name in order."""
    if len(nodes) == 1:
        return nodes[0].name         # upstream skips scoring when only one node fits
    totals = total_scores(pod, nodes)
    return min(totals, key=lambda name: (-totals[name], name))
