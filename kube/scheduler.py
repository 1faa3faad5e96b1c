"""kube-scheduler placing one pod, offline: filters, scores, and preemption when no node
fits, with the FailedScheduling message worded as upstream words it.

Follows pkg/scheduler/schedule_one.go (schedulePod, findNodesThatFitPod), the default
profile's filter order (pkg/scheduler/apis/config/v1/default_plugins.go: NodeUnschedulable,
NodeName, TaintToleration, NodeAffinity, NodeResourcesFit, PodTopologySpread,
InterPodAffinity; a node's first failing filter is its status) and the DefaultPreemption
PostFilter. The offline twin of the cluster calls `schedule` for pods one at a time, in
priority order, with the pods already bound.

Not modelled: volumes, host ports, DRA, nominated pods of other preemptors, PDBs, scheduler
extenders, system-default topology spreading, and percentageOfNodesToScore (lab clusters
are small, so every node is evaluated, as upstream does below 100 nodes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from kube.scheduler_filters import (node_affinity, node_name, node_resources_fit,
                                    node_unschedulable, taint_toleration)
from kube.scheduler_framework import Cluster, NamespaceLabels, NodeInfo, Rejection, fit_error
from kube.scheduler_interpod import inter_pod_affinity
from kube.scheduler_preemption import preempt
from kube.scheduler_scoring import select_host
from kube.scheduler_spread import pod_topology_spread

NO_NODES = "no nodes available to schedule pods"
ERR_AFFINITY_CONFLICT = "pod affinity terms conflict"

FILTERS: list[tuple[str, Callable[[dict, NodeInfo], Optional[Rejection]]]] = [
    ("NodeUnschedulable", node_unschedulable),
    ("NodeName", node_name),
    ("TaintToleration", taint_toleration),
    ("NodeAffinity", node_affinity),
    ("NodeResourcesFit", node_resources_fit),
    ("PodTopologySpread", pod_topology_spread),
    ("InterPodAffinity", inter_pod_affinity),
]


@dataclass
class Placement:
    node: str | None          # chosen node name, or None (Pending)
    message: str              # "" when placed, else the FailedScheduling message
    victims: list[dict] = field(default_factory=list)   # pods to evict (preemption)
    nominated_node: str | None = None


@dataclass
class FilterOutcome:
    """What the scheduling cycle learned before PostFilter."""
    feasible: list[NodeInfo]
    statuses: dict[str, Rejection]      # node name -> its first failing filter
    pre_filter_msg: str = ""
    num_nodes: int = 0

    def fit_error(self, post_filter_msg: str = "") -> str:
        return fit_error(self.num_nodes, self.statuses.values(), self.pre_filter_msg,
                         post_filter_msg)


def run_filters(pod: dict, node_info: NodeInfo) -> Optional[Rejection]:
    """RunFilterPlugins: the node's status is the first filter that rejects it."""
    for _, plugin in FILTERS:
        rejection = plugin(pod, node_info)
        if rejection is not None:
            return rejection
    return None


def pre_filter_node_names(pod: dict) -> Optional[set[str]]:
    """NodeAffinity's PreFilter: when every required term pins metadata.name with In, only
    those nodes are worth filtering; None means every node is."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    terms = ((affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
             .get("nodeSelectorTerms") or [])
    if not terms:
        return None
    names: set[str] = set()
    for term in terms:
        pinned = [set(f.get("values") or []) for f in term.get("matchFields") or []
                  if f.get("key") == "metadata.name" and f.get("operator") == "In"]
        if not pinned:
            return None                  # this term allows any node, and terms are ORed
        names |= set.intersection(*pinned)
    return names


def find_nodes_that_fit(pod: dict, cluster: Cluster) -> FilterOutcome:
    """findNodesThatFitPod: PreFilter, then every node through the filters."""
    outcome = FilterOutcome([], {}, num_nodes=len(cluster.node_infos))
    names = pre_filter_node_names(pod)
    if names is not None and not names:
        conflict = Rejection(ERR_AFFINITY_CONFLICT, unresolvable=True)
        outcome.pre_filter_msg = conflict
        outcome.statuses = {info.name: conflict for info in cluster.node_infos}
        return outcome
    for info in cluster.node_infos:
        if names is not None and info.name not in names:
            outcome.statuses[info.name] = Rejection(
                "node(s) didn't satisfy plugin(s) [NodeAffinity]", unresolvable=True)
            continue
        rejection = run_filters(pod, info)
        if rejection is None:
            outcome.feasible.append(info)
        else:
            outcome.statuses[info.name] = rejection
    return outcome


def default_priority(pod: dict) -> int:
    """corev1helpers.PodPriority: spec.priority, 0 when unset."""
    return (pod.get("spec") or {}).get("priority") or 0


def schedule(pod: dict, nodes: list[dict], placed: list[tuple[dict, str]],
             priority: Callable[[dict], int] | None = None,
             namespace_labels: NamespaceLabels | None = None) -> Placement:
    """Place one pod: the chosen node, or Pending with the FailedScheduling message and,
    when preemption can make room, the victims to evict and the nominated node."""
    priority = priority or default_priority
    cluster = Cluster.of(nodes, placed, namespace_labels)
    if not cluster.node_infos:
        return Placement(None, NO_NODES)
    outcome = find_nodes_that_fit(pod, cluster)
    if outcome.feasible:
        return Placement(select_host(pod, outcome.feasible), "")
    result = preempt(pod, cluster, outcome.statuses, priority, run_filters)
    return Placement(None, outcome.fit_error(result.message), result.victims,
                     result.nominated_node)
