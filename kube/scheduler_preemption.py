"""Preemption: when no node fits, which lower-priority pods to evict, and where.

Follows pkg/scheduler/framework/preemption/preemption.go (Preempt, DryRunPreemption,
pickOneNodeForPreemption) and plugins/defaultpreemption/default_preemption.go
(PodEligibleToPreemptOthers, SelectVictimsOnNode, PostFilter's "preemption: " prefix).
Only nodes whose filter status is Unschedulable are tried; an UnschedulableAndUnresolvable
node is "Preemption is not helpful for scheduling".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Optional

from kube.scheduler_framework import Cluster, NodeInfo, Rejection, fit_error

Priority = Callable[[dict], int]
Filters = Callable[[dict, NodeInfo], Optional[Rejection]]

NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NEVER = "not eligible due to preemptionPolicy=Never."
_PRIORITY_OFFSET = 2 ** 31      # makes every priority >= 0 before summing (math.MaxInt32 + 1)
_NOT_STARTED = datetime.max     # a pod without a start time counts as started just now


@dataclass
class PreemptionResult:
    nominated_node: Optional[str] = None
    victims: list[dict] = field(default_factory=list)
    message: str = ""            # the PostFilter message, "" when a node was nominated


def start_time(pod: dict) -> datetime:
    stamp = (pod.get("status") or {}).get("startTime")
    if not stamp:
        return _NOT_STARTED
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def by_importance(pods: list[dict], priority: Priority) -> list[dict]:
    """MoreImportantPod order: higher priority first, then the longer-running pod."""
    return sorted(pods, key=lambda p: (-priority(p), start_time(p)))


def select_victims(pod: dict, cluster: Cluster, node_name: str, priority: Priority,
                   run_filters: Filters) -> tuple[list[dict], Optional[Rejection]]:
    """SelectVictimsOnNode: remove every lower-priority pod; if the pod then fits, reprieve
    them one by one, most important first, keeping each that still lets the pod fit."""
    pods = cluster.get(node_name).pods
    lower = [p for p in pods if priority(p) < priority(pod)]
    if not lower:
        return [], Rejection(NO_VICTIMS, unresolvable=True)
    kept = [p for p in pods if all(p is not v for v in lower)]
    rejection = run_filters(pod, cluster.with_pods(node_name, kept).get(node_name))
    if rejection is not None:
        return [], rejection
    victims = []
    for candidate in by_importance(lower, priority):
        trial = cluster.with_pods(node_name, kept + [candidate])
        if run_filters(pod, trial.get(node_name)) is None:
            kept.append(candidate)
        else:
            victims.append(candidate)
    return victims, None


def _latest_first(victims: list[dict], priority: Priority) -> float:
    """Sort key preferring the node whose highest-priority victims started latest."""
    top = max(priority(v) for v in victims)
    earliest = min(start_time(v) for v in victims if priority(v) == top)
    if earliest == _NOT_STARTED:
        return float("-inf")
    return -(earliest - datetime(1970, 1, 1)).total_seconds()


def pick_one_node(candidates: dict[str, list[dict]], priority: Priority) -> str:
    """pickOneNodeForPreemption's criteria, in order: the lowest highest-priority victim,
    the lowest sum of (offset) priorities, the fewest victims, the latest start of the
    highest-priority victims. (The first, fewest PDB violations, never differs here: the lab
    has no PodDisruptionBudgets.) Upstream then takes the first node of a map, i.e. any
    node; the lab takes the first name in order."""
    def rank(name: str) -> tuple:
        victims = candidates[name]
        return (max(priority(v) for v in victims),
                sum(priority(v) + _PRIORITY_OFFSET for v in victims),
                len(victims), _latest_first(victims, priority), name)
    return min(candidates, key=rank)


def preempt(pod: dict, cluster: Cluster, statuses: dict[str, Rejection], priority: Priority,
            run_filters: Filters) -> PreemptionResult:
    """The DefaultPreemption PostFilter, given each node's filter status."""
    if ((pod.get("spec") or {}).get("preemptionPolicy")) == "Never":
        return PreemptionResult(message=f"preemption: {NEVER}")
    candidates: dict[str, list[dict]] = {}
    dry_run: list[Rejection] = []
    for info in cluster.node_infos:
        status = statuses.get(info.name)
        if status is None or status.unresolvable:
            dry_run.append(Rejection(NOT_HELPFUL, unresolvable=True))
            continue
        victims, rejection = select_victims(pod, cluster, info.name, priority, run_filters)
        if victims:
            candidates[info.name] = victims
        else:
            dry_run.append(rejection or Rejection(NO_VICTIMS, unresolvable=True))
    if not candidates:
        return PreemptionResult(
            message=f"preemption: {fit_error(len(cluster.node_infos), dry_run)}")
    chosen = pick_one_node(candidates, priority)
    return PreemptionResult(chosen, candidates[chosen])
