"""The scheduler framework's plumbing, offline: filter statuses, the cluster snapshot a
scheduling cycle reads, and the FailedScheduling message.

Follows pkg/scheduler/framework/types.go (NodeInfo, Resource, FitError.Error) and the
status codes of k8s.io/kube-scheduler/framework (Unschedulable vs
UnschedulableAndUnresolvable, the latter telling preemption that evicting pods cannot help).
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from typing import Callable, Iterable, Optional

from kube.pod_resources import pod_requests
from model.quantity import parse_quantity
from kube.scheduler_selectors import node_labels, node_name_of

NamespaceLabels = Callable[[str], dict]
_PLAIN_RESOURCES = ("cpu", "memory", "ephemeral-storage")


class Rejection(str):
    """A filter's "no". Reads as upstream's status message (its reasons joined by ", ");
    `reasons` are counted one by one in the FitError, and `unresolvable` marks
    UnschedulableAndUnresolvable: removing pods from the node cannot make the pod fit."""

    reasons: tuple[str, ...]
    unresolvable: bool

    def __new__(cls, *reasons: str, unresolvable: bool = False) -> "Rejection":
        rejection = super().__new__(cls, ", ".join(reasons))
        rejection.reasons = reasons
        rejection.unresolvable = unresolvable
        return rejection


def is_scheduled_resource(name: str) -> bool:
    """What NodeResourcesFit accounts: cpu, memory, ephemeral-storage and the scalar
    resources (extended ones such as nvidia.com/gpu, hugepages-*, kubernetes.io/*)."""
    return (name in _PLAIN_RESOURCES or "/" in name or name.startswith("hugepages-")
            or name.startswith("attachable-volumes-"))


def resource_units(name: str, quantity: Decimal) -> int:
    """Quantities the way the scheduler stores them: millicores for cpu, whole units
    (rounded up, as resource.Quantity.Value does) for everything else."""
    return math.ceil(quantity * 1000) if name == "cpu" else math.ceil(quantity)


def pod_resource_units(pod: dict) -> dict[str, int]:
    requests = pod_requests(pod.get("spec") or {})
    return {name: resource_units(name, value) for name, value in requests.items()
            if is_scheduled_resource(name)}


def pod_namespace(pod: dict) -> str:
    return (pod.get("metadata") or {}).get("namespace") or ""


def pod_labels(pod: dict) -> dict[str, str]:
    return (pod.get("metadata") or {}).get("labels") or {}


def pod_terminating(pod: dict) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


class NodeInfo:
    """A node with the pods bound to it, and the cluster snapshot it belongs to (which the
    cluster-wide plugins, inter-pod affinity and topology spread, read)."""

    def __init__(self, node: dict, pods: list[dict], cluster: "Cluster"):
        self.node, self.pods, self.cluster = node, pods, cluster
        self.name = node_name_of(node)
        self.labels = node_labels(node)
        self.taints: list[dict] = (node.get("spec") or {}).get("taints") or []
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        self.allocatable = {name: resource_units(name, parse_quantity(value))
                            for name, value in allocatable.items()}
        self._requested: Optional[Counter] = None

    @property
    def requested(self) -> Counter:
        """The sum of the requests of the pods already on the node (NodeInfo.Requested)."""
        if self._requested is None:
            self._requested = Counter()
            for pod in self.pods:
                self._requested.update(pod_resource_units(pod))
        return self._requested


class Cluster:
    """The snapshot a scheduling cycle works on: every node, in the caller's order."""

    def __init__(self, nodes: list[dict], pods_by_node: dict[str, list[dict]],
                 namespace_labels: Optional[NamespaceLabels] = None):
        self.nodes = nodes
        self.pods_by_node = pods_by_node
        self.namespace_labels: NamespaceLabels = namespace_labels or (lambda _ns: {})
        self.node_infos = [NodeInfo(n, pods_by_node.get(node_name_of(n), []), self) for n in nodes]
        self._by_name = {info.name: info for info in self.node_infos}
        self._memo: dict = {}

    @classmethod
    def of(cls, nodes: Iterable[dict], placed: Iterable[tuple[dict, str]] = (),
           namespace_labels: Optional[NamespaceLabels] = None) -> "Cluster":
        pods_by_node: dict[str, list[dict]] = {}
        for pod, node_name in placed:
            pods_by_node.setdefault(node_name, []).append(pod)
        return cls(list(nodes), pods_by_node, namespace_labels)

    def get(self, name: str) -> NodeInfo:
        return self._by_name[name]

    def with_pods(self, node_name: str, pods: list[dict]) -> "Cluster":
        """The same cluster with one node's pods replaced (preemption's what-if)."""
        return Cluster(self.nodes, {**self.pods_by_node, node_name: pods}, self.namespace_labels)

    def memo(self, plugin: str, pod: dict, compute: Callable[[], object]):
        """PreFilter state: computed once per pod and snapshot, then read by every node.
        The pod is kept with its state so that another pod can never inherit the entry."""
        cached = self._memo.get((plugin, id(pod)))
        if cached is None or cached[0] is not pod:
            cached = self._memo[(plugin, id(pod))] = (pod, compute())
        return cached[1]


def fit_error(num_all_nodes: int, statuses: Iterable[Rejection], pre_filter_msg: str = "",
              post_filter_msg: str = "") -> str:
    """FitError.Error(): "0/N nodes are available: <pre-filter>. <reasons>. <post-filter>".

    Each reason of each node's status is counted; the "<count> <reason>" strings are sorted
    as strings (so "10 x" sorts before "2 y", as Go's sort.Strings has it). A failed
    PreFilter stands for every node, so the per-node reasons are then left out.
    """
    message = f"0/{num_all_nodes} nodes are available:"
    if pre_filter_msg:
        message += f" {pre_filter_msg}."
    else:
        counts = Counter(reason for status in statuses for reason in status.reasons)
        histogram = sorted(f"{count} {reason}" for reason, count in counts.items())
        if histogram:
            message += f" {', '.join(histogram)}."
    if post_filter_msg:
        message += f" {post_filter_msg}"
    return message
