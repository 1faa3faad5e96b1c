"""InterPodAffinity's filter: required pod affinity and anti-affinity, against the pods
already bound in the cluster.

Follows pkg/scheduler/framework/plugins/interpodaffinity/filtering.go: PreFilter counts,
per topology pair (key, value), the existing pods that match the incoming pod's affinity
terms (a pod counts only if it matches all of them), those that match its anti-affinity
terms, and the existing pods whose own anti-affinity terms match the incoming pod. A
namespaceSelector is evaluated on the namespace's labels (the `namespace_labels` callable).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Optional

from kube.scheduler_framework import (Cluster, NodeInfo, Rejection, pod_labels,
                                      pod_namespace)
from kube.scheduler_selectors import NOTHING, Selector, label_selector

ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"


@dataclass(frozen=True)
class AffinityTerm:
    namespaces: frozenset[str]
    namespace_selector: Selector
    selector: Selector
    topology_key: str

    def matches(self, pod: dict, cluster: Cluster) -> bool:
        namespace = pod_namespace(pod)
        in_scope = (namespace in self.namespaces
                    or self.namespace_selector.matches(cluster.namespace_labels(namespace)))
        return in_scope and self.selector.matches(pod_labels(pod))


def _term(owner: dict, term: dict) -> AffinityTerm:
    namespaces = frozenset(term.get("namespaces") or ())
    ns_selector = term.get("namespaceSelector")
    if not namespaces and ns_selector is None:
        namespaces = frozenset({pod_namespace(owner)})   # the owner's own namespace
    return AffinityTerm(namespaces, label_selector(ns_selector) if ns_selector is not None
                        else NOTHING, label_selector(term.get("labelSelector")),
                        term.get("topologyKey") or "")


def required_terms(pod: dict, kind: str) -> list[AffinityTerm]:
    """kind is "podAffinity" or "podAntiAffinity"."""
    rules = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    terms = rules.get("requiredDuringSchedulingIgnoredDuringExecution") or []
    return [_term(pod, t) for t in terms]


def _matches_all(pod: dict, terms: list[AffinityTerm], cluster: Cluster) -> bool:
    return bool(terms) and all(t.matches(pod, cluster) for t in terms)


@dataclass
class _State:
    affinity: list[AffinityTerm]
    anti_affinity: list[AffinityTerm]
    affinity_counts: Counter
    anti_affinity_counts: Counter
    existing_anti_affinity_counts: Counter


def _pre_filter(pod: dict, cluster: Cluster) -> _State:
    state = _State(required_terms(pod, "podAffinity"), required_terms(pod, "podAntiAffinity"),
                   Counter(), Counter(), Counter())
    for info in cluster.node_infos:
        for existing in info.pods:
            _count_existing(pod, existing, info, cluster, state)
    return state


def _count_existing(pod: dict, existing: dict, info: NodeInfo, cluster: Cluster,
                    state: _State) -> None:
    labels = info.labels
    if _matches_all(existing, state.affinity, cluster):
        for term in state.affinity:
            if term.topology_key in labels:
                state.affinity_counts[(term.topology_key, labels[term.topology_key])] += 1
    for term in state.anti_affinity:
        if term.topology_key in labels and term.matches(existing, cluster):
            state.anti_affinity_counts[(term.topology_key, labels[term.topology_key])] += 1
    for term in required_terms(existing, "podAntiAffinity"):
        if term.topology_key in labels and term.matches(pod, cluster):
            state.existing_anti_affinity_counts[(term.topology_key, labels[term.topology_key])] += 1


def _satisfies_affinity(pod: dict, state: _State, node_info: NodeInfo) -> bool:
    pods_exist = True
    for term in state.affinity:
        if term.topology_key not in node_info.labels:
            return False                 # every topology label must exist on the node
        if state.affinity_counts[(term.topology_key, node_info.labels[term.topology_key])] <= 0:
            pods_exist = False
    if pods_exist:
        return True
    # The first pod of a group with affinity to itself: no pod anywhere matches yet, and
    # the pod matches its own terms, so it may go to any node with the topology labels.
    return not state.affinity_counts and _matches_all(pod, state.affinity, node_info.cluster)


def _violates_anti_affinity(state: _State, node_info: NodeInfo) -> bool:
    return any(term.topology_key in node_info.labels
               and state.anti_affinity_counts[(term.topology_key,
                                               node_info.labels[term.topology_key])] > 0
               for term in state.anti_affinity)


def _violates_existing_anti_affinity(state: _State, node_info: NodeInfo) -> bool:
    return any(state.existing_anti_affinity_counts[pair] > 0 for pair in node_info.labels.items())


def inter_pod_affinity(pod: dict, node_info: NodeInfo) -> Optional[Rejection]:
    state = node_info.cluster.memo("InterPodAffinity", pod,
                                   lambda: _pre_filter(pod, node_info.cluster))
    if not _satisfies_affinity(pod, state, node_info):
        return Rejection(ERR_AFFINITY, unresolvable=True)
    if _violates_anti_affinity(state, node_info):
        return Rejection(ERR_ANTI_AFFINITY)
    if _violates_existing_anti_affinity(state, node_info):
        return Rejection(ERR_EXISTING_ANTI_AFFINITY)
    return None
