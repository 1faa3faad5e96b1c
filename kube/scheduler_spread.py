"""PodTopologySpread: the DoNotSchedule filter and the ScheduleAnyway score.

Follows pkg/scheduler/framework/plugins/podtopologyspread/{common.go, filtering.go,
scoring.go}. A node counts towards a domain only if it carries every constraint's
topology key and passes the constraint's node inclusion policies (nodeAffinityPolicy
Honor and nodeTaintsPolicy Ignore by default). Matching pods are counted in the incoming
pod's namespace, terminating pods excluded. The filter's rule: pods in the node's domain
+ 1 if the pod matches itself - the global minimum <= maxSkew, where the global minimum is
0 while there are fewer eligible domains than minDomains.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from kube.scheduler_filters import untolerated_taint
from kube.scheduler_framework import (Cluster, NodeInfo, Rejection, pod_labels, pod_namespace,
                                      pod_terminating)
from kube.scheduler_selectors import Selector, label_selector, required_node_affinity_matches

ERR_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
ERR_MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"
HOSTNAME_LABEL = "kubernetes.io/hostname"
_NO_DOMAIN = 2 ** 31 - 1     # the critical path's "no domain seen" count (math.MaxInt32)


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: Selector
    min_domains: int
    honor_affinity: bool
    honor_taints: bool

    def includes(self, pod: dict, node_info: NodeInfo) -> bool:
        """The node inclusion policies: does this node's domain count at all?"""
        spec = pod.get("spec") or {}
        if self.honor_affinity and not required_node_affinity_matches(spec, node_info.node):
            return False
        return not (self.honor_taints and untolerated_taint(
            node_info.taints, spec.get("tolerations") or []) is not None)


def constraints(pod: dict, when_unsatisfiable: str) -> list[Constraint]:
    """The pod's constraints of one kind; matchLabelKeys adds the pod's own label values."""
    labels = pod_labels(pod)
    found = []
    for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []:
        if c.get("whenUnsatisfiable", "DoNotSchedule") != when_unsatisfiable:
            continue
        selector = label_selector(c.get("labelSelector")).with_labels(
            {k: labels[k] for k in c.get("matchLabelKeys") or [] if k in labels})
        found.append(Constraint(int(c.get("maxSkew", 1)), c.get("topologyKey", ""), selector,
                                int(c.get("minDomains") or 1),
                                c.get("nodeAffinityPolicy", "Honor") == "Honor",
                                c.get("nodeTaintsPolicy", "Ignore") == "Honor"))
    return found


def _has_all_keys(node_info: NodeInfo, found: list[Constraint]) -> bool:
    return all(c.topology_key in node_info.labels for c in found)


def count_matching(pods: list[dict], selector: Selector, namespace: str) -> int:
    """countPodsMatchSelector; note that the everything-selector ({}) counts nothing."""
    if selector.empty:
        return 0
    return sum(1 for p in pods if not pod_terminating(p) and pod_namespace(p) == namespace
               and selector.matches(pod_labels(p)))


@dataclass
class _State:
    constraints: list[Constraint]
    counts: Counter            # (topology key, value) -> matching pods; 0 entries kept

    def domains(self, key: str) -> list[int]:
        return [n for (k, _), n in self.counts.items() if k == key]

    def global_minimum(self, c: Constraint) -> int:
        domains = self.domains(c.topology_key)
        if len(domains) < c.min_domains:
            return 0
        return min(domains, default=_NO_DOMAIN)


def _pre_filter(pod: dict, cluster: Cluster) -> _State:
    found = constraints(pod, "DoNotSchedule")
    state = _State(found, Counter())
    for info in cluster.node_infos:
        if not found or not _has_all_keys(info, found):
            continue
        for c in found:
            if c.includes(pod, info):
                pair = (c.topology_key, info.labels[c.topology_key])
                state.counts[pair] += count_matching(info.pods, c.selector, pod_namespace(pod))
    return state


def pod_topology_spread(pod: dict, node_info: NodeInfo) -> Optional[Rejection]:
    state = node_info.cluster.memo("PodTopologySpread", pod,
                                   lambda: _pre_filter(pod, node_info.cluster))
    for c in state.constraints:
        value = node_info.labels.get(c.topology_key)
        if value is None:
            return Rejection(ERR_MISSING_LABEL, unresolvable=True)
        self_match = 1 if c.selector.matches(pod_labels(pod)) else 0
        skew = state.counts.get((c.topology_key, value), 0) + self_match - state.global_minimum(c)
        if skew > c.max_skew:
            return Rejection(ERR_CONSTRAINTS)
    return None


def spread_scores(pod: dict, feasible: list[NodeInfo]) -> dict[str, int]:
    """Scoring for ScheduleAnyway constraints, normalized to 0..100 (fewer matching pods in
    the node's domains scores higher). Empty when the pod has no such constraints."""
    soft = constraints(pod, "ScheduleAnyway")
    if not soft or not feasible:
        return {}
    scored = [n for n in feasible if _has_all_keys(n, soft)]
    domains = [{n.labels[c.topology_key] for n in scored} for c in soft]
    weights = [math.log((len(scored) if c.topology_key == HOSTNAME_LABEL else len(d)) + 2)
               for c, d in zip(soft, domains)]
    counts = _soft_counts(pod, soft, domains, feasible[0].cluster)
    raw = {}
    for node in scored:
        total = 0.0
        for i, c in enumerate(soft):
            if c.topology_key == HOSTNAME_LABEL:
                count = count_matching(node.pods, c.selector, pod_namespace(pod))
            else:
                count = counts[i][node.labels[c.topology_key]]
            total += count * weights[i] + (c.max_skew - 1)
        raw[node.name] = _round_half_away(total)
    return _normalize_spread(raw, [n.name for n in feasible])


def _soft_counts(pod: dict, soft: list[Constraint], domains: list[set],
                 cluster: Cluster) -> list[Counter]:
    counts = [Counter() for _ in soft]
    for info in cluster.node_infos:
        if not _has_all_keys(info, soft):
            continue
        for i, c in enumerate(soft):
            value = info.labels[c.topology_key]
            if c.topology_key != HOSTNAME_LABEL and value in domains[i] and c.includes(pod, info):
                counts[i][value] += count_matching(info.pods, c.selector, pod_namespace(pod))
    return counts


def _round_half_away(x: float) -> int:
    """Go's math.Round rounds halves away from zero (Python's round() goes to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def _normalize_spread(raw: dict[str, int], names: list[str]) -> dict[str, int]:
    if not raw:
        return {name: 0 for name in names}
    low, high = min(raw.values()), max(raw.values())
    scores = {}
    for name in names:
        if name not in raw:
            scores[name] = 0        # a node missing a topology key is not scored
        elif high == 0:
            scores[name] = 100
        else:
            scores[name] = 100 * (high + low - raw[name]) // high
    return scores
