"""kube/scheduler*.py against kube-scheduler's own test tables.

Every case is ported from an upstream test table (kubernetes/kubernetes) and carries its
case name as the pytest id; each table names its upstream file and test function. Upstream
builds pods and nodes with pkg/scheduler/testing wrappers (st.MakePod, st.MakeNode); the
helpers below build the same objects as plain dicts. Where upstream asserts a status code,
"U" is Unschedulable, "X" UnschedulableAndUnresolvable and None success.
"""

from __future__ import annotations

import pytest

from kube.scheduler import (Placement, default_priority, find_nodes_that_fit,
                            pre_filter_node_names, run_filters, schedule)
from kube.scheduler_filters import (node_affinity, node_name, node_resources_fit,
                                    node_unschedulable, taint_toleration, tolerates_taint)
from kube.scheduler_framework import Cluster, Rejection, fit_error
from kube.scheduler_interpod import (ERR_AFFINITY, ERR_ANTI_AFFINITY,
                                     ERR_EXISTING_ANTI_AFFINITY, inter_pod_affinity)
from kube.scheduler_preemption import preempt, select_victims
from kube.scheduler_scoring import node_affinity_scores, taint_toleration_scores
from kube.scheduler_spread import pod_topology_spread
from kube.scheduling import pod_schedulable

GPU = "nvidia.com/gpu"

# --- builders (the st.MakePod / st.MakeNode of these tests) ------------------------------


def make_node(name: str = "", labels: dict | None = None, taints: list | None = None,
              allocatable: dict | None = None, unschedulable: bool = False) -> dict:
    """st.MakeNode(): allocatable pods defaults to 32, as st.MakeNode().Capacity does."""
    return {"metadata": {"name": name, "labels": dict(labels or {})},
            "spec": {"taints": list(taints or []), "unschedulable": unschedulable},
            "status": {"allocatable": {"pods": "32", **(allocatable or {})}}}


def make_pod(name: str = "p", namespace: str = "", labels: dict | None = None, *,
             node: str | None = None, priority: int | None = None, requests=None,
             init_requests=(), tolerations=None, node_selector=None, affinity=None,
             spread=(), start: int | None = None, terminating: bool = False,
             preemption_policy: str | None = None) -> dict:
    """requests: one container's requests dict, or a list of them (one per container)."""
    containers = requests if isinstance(requests, list) else [requests] if requests else []
    spec: dict = {"containers": [{"name": f"c{i}", "resources": {"requests": r}}
                                 for i, r in enumerate(containers)],
                  "initContainers": [{"name": f"i{i}", "resources": {"requests": r}}
                                     for i, r in enumerate(init_requests)]}
    for key, value in (("nodeName", node), ("priority", priority), ("tolerations", tolerations),
                       ("nodeSelector", node_selector), ("affinity", affinity),
                       ("preemptionPolicy", preemption_policy)):
        if value is not None:
            spec[key] = value
    if spread:
        spec["topologySpreadConstraints"] = list(spread)
    metadata = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if terminating:
        metadata["deletionTimestamp"] = "1970-01-01T00:00:00Z"
    pod = {"metadata": metadata, "spec": spec}
    if start is not None:
        # Upstream's epochTimeN is time.Unix(0, N) (nanoseconds); seconds keep the order.
        pod["status"] = {"startTime": f"1970-01-01T00:00:{start:02d}Z"}
    return pod


def bound(pods: list[dict]) -> list[tuple[dict, str]]:
    return [(p, p["spec"]["nodeName"]) for p in pods]


def cluster_of(nodes: list[dict], pods: list[dict] = (), namespace_labels=None) -> Cluster:
    return Cluster.of(nodes, bound(list(pods)), namespace_labels)


def expect(rejection, want) -> None:
    """want: None (passes), or (message, code) with code "U" or "X"."""
    if want is None:
        assert rejection is None, rejection
        return
    message, code = want
    assert rejection == message
    assert rejection.unresolvable is (code == "X")


def code_of(rejection) -> str | None:
    return None if rejection is None else "X" if rejection.unresolvable else "U"


def names(pods: list[dict]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


# --- k8s.io/api/core/v1/toleration_test.go :: TestTolerationToleratesTaint ---------------

TOLERATION_CASES = [
    ("toleration and taint have the same key and effect, and operator is Exists, and taint has "
     "no value, expect tolerated",
     {"key": "foo", "operator": "Exists", "effect": "NoSchedule"},
     {"key": "foo", "effect": "NoSchedule"}, True),
    ("toleration and taint have the same key and effect, and operator is Exists, and taint has "
     "some value, expect tolerated",
     {"key": "foo", "operator": "Exists", "effect": "NoSchedule"},
     {"key": "foo", "value": "bar", "effect": "NoSchedule"}, True),
    ("toleration and taint have the same effect, toleration has empty key and operator is "
     "Exists, means match all taints, expect tolerated",
     {"key": "", "operator": "Exists", "effect": "NoSchedule"},
     {"key": "foo", "value": "bar", "effect": "NoSchedule"}, True),
    ("toleration and taint have the same key, effect and value, and operator is Equal, "
     "expect tolerated",
     {"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"},
     {"key": "foo", "value": "bar", "effect": "NoSchedule"}, True),
    ("toleration and taint have the same key and effect, but different values, and operator "
     "is Equal, expect not tolerated",
     {"key": "foo", "operator": "Equal", "value": "value1", "effect": "NoSchedule"},
     {"key": "foo", "value": "value2", "effect": "NoSchedule"}, False),
    ("toleration and taint have the same key and value, but different effects, and operator "
     "is Equal, expect not tolerated",
     {"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"},
     {"key": "foo", "value": "bar", "effect": "NoExecute"}, False),
]


@pytest.mark.parametrize("toleration, taint, tolerated",
                         [pytest.param(*c[1:], id=c[0]) for c in TOLERATION_CASES])
def test_toleration_tolerates_taint(toleration, taint, tolerated):
    assert tolerates_taint(toleration, taint) is tolerated


# --- pkg/scheduler/framework/plugins/tainttoleration/taint_toleration_test.go ------------
# TestTaintTolerationFilter

DEDICATED_USER1 = [{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}]
TAINT_FILTER_CASES = [
    ("A pod having no tolerations can't be scheduled onto a node with nonempty taints",
     [], DEDICATED_USER1, ("node(s) had untolerated taint {dedicated: user1}", "X")),
    ("A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule",
     [{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}], DEDICATED_USER1, None),
    ("A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule",
     [{"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"}],
     DEDICATED_USER1, ("node(s) had untolerated taint {dedicated: user1}", "X")),
    ("A pod can be scheduled onto the node, with a toleration uses operator Exists that "
     "tolerates the taints on the node",
     [{"key": "foo", "operator": "Exists", "effect": "NoSchedule"}],
     [{"key": "foo", "value": "bar", "effect": "NoSchedule"}], None),
    ("A pod has multiple tolerations, node has multiple taints, all the taints are tolerated, "
     "pod can be scheduled onto the node",
     [{"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"},
      {"key": "foo", "operator": "Exists", "effect": "NoSchedule"}],
     [{"key": "dedicated", "value": "user2", "effect": "NoSchedule"},
      {"key": "foo", "value": "bar", "effect": "NoSchedule"}], None),
    ("A pod has a toleration that keys and values match the taint on the node, but (non-empty) "
     "effect doesn't match, can't be scheduled onto the node",
     [{"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}],
     [{"key": "foo", "value": "bar", "effect": "NoSchedule"}],
     ("node(s) had untolerated taint {foo: bar}", "X")),
    ("The pod has a toleration that keys and values match the taint on the node, the effect of "
     "toleration is empty, and the effect of taint is NoSchedule. Pod can be scheduled onto "
     "the node",
     [{"key": "foo", "operator": "Equal", "value": "bar"}],
     [{"key": "foo", "value": "bar", "effect": "NoSchedule"}], None),
    ("The pod has a toleration that key and value don't match the taint on the node, but the "
     "effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node",
     [{"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"}],
     [{"key": "dedicated", "value": "user1", "effect": "PreferNoSchedule"}], None),
    ("The pod has no toleration, but the effect of taint on node is PreferNoSchedule. Pod can "
     "be scheduled onto the node",
     [], [{"key": "dedicated", "value": "user1", "effect": "PreferNoSchedule"}], None),
]


@pytest.mark.parametrize("tolerations, taints, want",
                         [pytest.param(*c[1:], id=c[0]) for c in TAINT_FILTER_CASES])
def test_taint_toleration_filter(tolerations, taints, want):
    info = cluster_of([make_node("nodeA", taints=taints)]).get("nodeA")
    expect(taint_toleration(make_pod(tolerations=tolerations), info), want)


# --- pkg/scheduler/framework/plugins/nodeaffinity/node_affinity_test.go :: TestNodeAffinity


def required(*terms: dict) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                             {"nodeSelectorTerms": list(terms)}}}


def expr(key: str, op: str, *values: str) -> dict:
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


def fields_term(*names_in: str) -> dict:
    return {"matchFields": [expr("metadata.name", "In", n) for n in names_in]}


NA = ("node(s) didn't match Pod's node affinity/selector", "X")
NODE_AFFINITY_CASES = [
    # name, nodeSelector, affinity, node name, node labels, want, PreFilter node names
    ("missing labels", {"foo": "bar"}, None, "", {}, NA, None),
    ("same labels", {"foo": "bar"}, None, "", {"foo": "bar"}, None, None),
    ("node labels are superset", {"foo": "bar"}, None, "", {"foo": "bar", "baz": "blah"}, None,
     None),
    ("node labels are subset", {"foo": "bar", "baz": "blah"}, None, "", {"foo": "bar"}, NA, None),
    ("Pod with matchExpressions using In operator that matches the existing node", None,
     required({"matchExpressions": [expr("foo", "In", "bar", "value2")]}), "", {"foo": "bar"},
     None, None),
    ("Pod with matchExpressions using Gt operator that matches the existing node", None,
     required({"matchExpressions": [expr("kernel-version", "Gt", "0204")]}), "",
     {"kernel-version": "0206"}, None, None),
    ("Pod with matchExpressions using NotIn operator that matches the existing node", None,
     required({"matchExpressions": [expr("mem-type", "NotIn", "DDR", "DDR2")]}), "",
     {"mem-type": "DDR3"}, None, None),
    ("Pod with matchExpressions using Exists operator that matches the existing node", None,
     required({"matchExpressions": [expr("GPU", "Exists")]}), "", {"GPU": "NVIDIA-GRID-K1"},
     None, None),
    ("Pod with affinity that don't match node's labels won't schedule onto the node", None,
     required({"matchExpressions": [expr("foo", "In", "value1", "value2")]}), "",
     {"foo": "bar"}, NA, None),
    ("Pod with empty MatchExpressions is not a valid value will match no objects and won't "
     "schedule onto the node", None, required({"matchExpressions": []}), "", {"foo": "bar"},
     NA, None),
    ("Pod with no Affinity will schedule onto a node", None, None, "", {"foo": "bar"}, None, None),
    ("Pod with Affinity but nil NodeSelector will schedule onto a node", None,
     {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": None}}, "",
     {"foo": "bar"}, None, None),
    ("Pod with multiple matchExpressions ANDed that matches the existing node", None,
     required({"matchExpressions": [expr("GPU", "Exists"), expr("GPU", "NotIn", "AMD", "INTER")]}),
     "", {"GPU": "NVIDIA-GRID-K1"}, None, None),
    ("Pod with multiple matchExpressions ANDed that doesn't match the existing node", None,
     required({"matchExpressions": [expr("GPU", "Exists"), expr("GPU", "In", "AMD", "INTER")]}),
     "", {"GPU": "NVIDIA-GRID-K1"}, NA, None),
    ("Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels and will "
     "schedule onto the node", None,
     required({"matchExpressions": [expr("foo", "In", "bar", "value2")]},
              {"matchExpressions": [expr("diffkey", "In", "wrong", "value2")]}), "",
     {"foo": "bar"}, None, None),
    ("Pod with an Affinity and a PodSpec.NodeSelector(the old thing that we are deprecating) "
     "both are satisfied, will schedule onto the node", {"foo": "bar"},
     required({"matchExpressions": [expr("foo", "Exists")]}), "", {"foo": "bar"}, None, None),
    ("Pod with an Affinity matches node's labels but the PodSpec.NodeSelector(the old thing "
     "that we are deprecating) is not satisfied, won't schedule onto the node", {"foo": "bar"},
     required({"matchExpressions": [expr("foo", "Exists")]}), "", {"foo": "barrrrrr"}, NA, None),
    ("Pod with an invalid value in Affinity term won't be scheduled onto the node", None,
     required({"matchExpressions": [expr("foo", "NotIn", "invalid value: ___@#$%^")]}), "",
     {"foo": "bar"}, NA, None),
    ("Pod with matchFields using In operator that matches the existing node", None,
     required(fields_term("node1")), "node1", {}, None, {"node1"}),
    ("Pod with matchFields using In operator that does not match the existing node", None,
     required(fields_term("node1")), "node2", {}, NA, {"node1"}),
    ("Pod with two terms: matchFields does not match, but matchExpressions matches", None,
     required({"matchFields": [expr("metadata.name", "In", "node1"),
                               expr("metadata.name", "In", "node2")]},
              {"matchExpressions": [expr("foo", "In", "bar")]}), "node2", {"foo": "bar"},
     None, None),
    ("Pod with one term: matchFields does not match, but matchExpressions matches", None,
     required({**fields_term("node1"), "matchExpressions": [expr("foo", "In", "bar")]}),
     "node2", {"foo": "bar"}, NA, {"node1"}),
    ("Pod with one term: both matchFields and matchExpressions match", None,
     required({**fields_term("node1"), "matchExpressions": [expr("foo", "In", "bar")]}),
     "node1", {"foo": "bar"}, None, {"node1"}),
    ("Pod with two terms: both matchFields and matchExpressions do not match", None,
     required(fields_term("node1"), {"matchExpressions": [expr("foo", "In", "not-match-to-bar")]}),
     "node2", {"foo": "bar"}, NA, None),
    ("Pod with two terms of node.Name affinity", None,
     required(fields_term("node1"), fields_term("node2")), "node2", {}, None, {"node1", "node2"}),
    ("Pod with two conflicting mach field requirements", None,
     required(fields_term("node1", "node2")), "node2", {"foo": "bar"}, NA, set()),
]


@pytest.mark.parametrize("selector, affinity, node_name, labels, want, pre_filter",
                         [pytest.param(*c[1:], id=c[0]) for c in NODE_AFFINITY_CASES])
def test_node_affinity(selector, affinity, node_name, labels, want, pre_filter):
    pod = make_pod(node_selector=selector, affinity=affinity)
    info = cluster_of([make_node(node_name, labels)]).get(node_name)
    expect(node_affinity(pod, info), want)
    assert pre_filter_node_names(pod) == pre_filter


def test_node_affinity_conflicting_names_fail_pre_filter():
    """node_affinity_test.go TestNodeAffinity "Pod with two conflicting mach field
    requirements": PreFilter's UnschedulableAndUnresolvable "pod affinity terms conflict"
    stands for every node in the FitError."""
    pod = make_pod(affinity=required(fields_term("node1", "node2")))
    placement = schedule(pod, [make_node("node1"), make_node("node2")], [])
    assert placement == Placement(
        None, "0/2 nodes are available: pod affinity terms conflict. preemption: 0/2 nodes are "
              "available: 2 Preemption is not helpful for scheduling.", [], None)


# --- pkg/scheduler/framework/plugins/noderesources/fit_test.go --------------------------
# TestEnoughRequests, TestNotEnoughRequests, TestStorageRequests. The node's allocatable is
# makeAllocatableResources(10, 20, 32, 5, 20, 5): cpu 10m, memory 20, pods 32,
# example.com/aaa 5, ephemeral-storage 20, hugepages-2Mi 5. newResourcePod's containers also
# request pods: 0, which the scheduler does not count against the node.

AAA, BBB, HP = "example.com/aaa", "example.com/bbb", "hugepages-2Mi"
KIO_A, KIO_B = "kubernetes.io/something", "subdomain.kubernetes.io/something"


def res(cpu: int = 0, memory: int = 0, storage: int = 0, **scalars: int) -> dict:
    """framework.Resource{MilliCPU, Memory, EphemeralStorage, ScalarResources} as requests."""
    names = {"aaa": AAA, "bbb": BBB, "hp": HP, "kio_a": KIO_A, "kio_b": KIO_B}
    return {"cpu": f"{cpu}m", "memory": str(memory), "pods": "0",
            "ephemeral-storage": str(storage),
            **{names[k]: str(v) for k, v in scalars.items()}}


ENOUGH_ALLOCATABLE = {"cpu": "10m", "memory": "20", "pods": "32", AAA: "5",
                      "ephemeral-storage": "20", HP: "5"}
CPU, MEM, STORAGE = "Insufficient cpu", "Insufficient memory", "Insufficient ephemeral-storage"
ENOUGH_CASES = [
    # name, containers, init containers, the pod already on the node, (reasons, code)
    ("no resources requested always fits", None, (), res(10, 20), None),
    ("too many resources fails", res(1, 1), (), res(10, 20), ((CPU, MEM), "U")),
    ("too many resources fails due to init container cpu", res(1, 1), [res(3, 1)], res(8, 19),
     ((CPU,), "U")),
    ("too many resources fails due to highest init container cpu", res(1, 1),
     [res(3, 1), res(2, 1)], res(8, 19), ((CPU,), "U")),
    ("too many resources fails due to init container memory", res(1, 1), [res(1, 3)],
     res(9, 19), ((MEM,), "U")),
    ("too many resources fails due to highest init container memory", res(1, 1),
     [res(1, 3), res(1, 2)], res(9, 19), ((MEM,), "U")),
    ("init container fits because it's the max, not sum, of containers and init containers",
     res(1, 1), [res(1, 1)], res(9, 19), None),
    ("multiple init containers fit because it's the max, not sum, of containers and init "
     "containers", res(1, 1), [res(1, 1), res(1, 1)], res(9, 19), None),
    ("both resources fit", res(1, 1), (), res(5, 5), None),
    ("one resource memory fits", res(2, 1), (), res(9, 5), ((CPU,), "U")),
    ("one resource cpu fits", res(1, 2), (), res(5, 19), ((MEM,), "U")),
    ("equal edge case", res(5, 1), (), res(5, 19), None),
    ("equal edge case for init container", res(4, 1), [res(5, 1)], res(5, 19), None),
    ("extended resource fits", res(aaa=1), (), res(), None),
    ("extended resource fits for init container", res(), [res(aaa=1)], res(), None),
    ("extended resource capacity enforced", res(1, 1, aaa=10), (), res(aaa=0),
     ((f"Insufficient {AAA}",), "X")),
    ("extended resource capacity enforced for init container", res(), [res(1, 1, aaa=10)],
     res(aaa=0), ((f"Insufficient {AAA}",), "X")),
    ("extended resource allocatable enforced", res(1, 1, aaa=1), (), res(aaa=5),
     ((f"Insufficient {AAA}",), "U")),
    ("extended resource allocatable enforced for init container", res(), [res(1, 1, aaa=1)],
     res(aaa=5), ((f"Insufficient {AAA}",), "U")),
    ("extended resource allocatable enforced for multiple containers",
     [res(1, 1, aaa=3), res(1, 1, aaa=3)], (), res(aaa=2), ((f"Insufficient {AAA}",), "X")),
    ("extended resource allocatable admits multiple init containers", res(),
     [res(1, 1, aaa=3), res(1, 1, aaa=3)], res(aaa=2), None),
    ("extended resource allocatable enforced for multiple init containers", res(),
     [res(1, 1, aaa=6), res(1, 1, aaa=3)], res(aaa=2), ((f"Insufficient {AAA}",), "X")),
    ("extended resource allocatable enforced for unknown resource", res(1, 1, bbb=1), (), res(),
     ((f"Insufficient {BBB}",), "X")),
    ("extended resource allocatable enforced for unknown resource for init container", res(),
     [res(1, 1, bbb=1)], res(), ((f"Insufficient {BBB}",), "X")),
    ("kubernetes.io resource capacity enforced", res(1, 1, kio_a=10), (), res(),
     ((f"Insufficient {KIO_A}",), "X")),
    ("kubernetes.io resource capacity enforced for init container", res(), [res(1, 1, kio_b=10)],
     res(), ((f"Insufficient {KIO_B}",), "X")),
    ("hugepages resource capacity enforced", res(1, 1, hp=10), (), res(hp=0),
     ((f"Insufficient {HP}",), "X")),
    ("hugepages resource capacity enforced for init container", res(), [res(1, 1, hp=10)],
     res(hp=0), ((f"Insufficient {HP}",), "X")),
    ("hugepages resource allocatable enforced for multiple containers",
     [res(1, 1, hp=3), res(1, 1, hp=3)], (), res(hp=2), ((f"Insufficient {HP}",), "X")),
    ("skip checking extended resource request with quantity zero via resource groups",
     res(1, 1, aaa=0), (), res(aaa=6), None),
    ("skip checking resource request with quantity zero", res(aaa=1), (), res(20, 30, aaa=1),
     None),
]
NOT_ENOUGH_CASES = [  # allocatable makeAllocatableResources(10, 20, 1, 0, 0, 0)
    ("even without specified resources, predicate fails when there's no space for additional "
     "pod", None, (), res(10, 20)),
    ("even if both resources fit, predicate fails when there's no space for additional pod",
     res(1, 1), (), res(5, 5)),
    ("even for equal edge case, predicate fails when there's no space for additional pod",
     res(5, 1), (), res(5, 19)),
    ("even for equal edge case, predicate fails when there's no space for additional pod due "
     "to init container", res(5, 1), [res(5, 1)], res(5, 19)),
]
STORAGE_CASES = [  # allocatable as in TestEnoughRequests
    ("empty storage requested, and pod fits", res(1, 1), res(2, 10), None),
    ("storage ephemeral local storage request exceeds allocatable", res(storage=25), res(2, 2),
     ((STORAGE,), "X")),
    ("ephemeral local storage is sufficient", res(storage=5), res(2, 2, storage=10), None),
    ("pod fits", res(storage=10), res(2, 2), None),
]


def fit_status(pod: dict, existing: dict, allocatable: dict):
    node = make_node("n", allocatable=allocatable)
    cluster = cluster_of([node], [make_pod("existing", node="n", requests=existing)])
    return node_resources_fit(pod, cluster.get("n"))


@pytest.mark.parametrize("requests, init, existing, want",
                         [pytest.param(*c[1:], id=c[0]) for c in ENOUGH_CASES])
def test_enough_requests(requests, init, existing, want):
    rejection = fit_status(make_pod(requests=requests, init_requests=init), existing,
                           ENOUGH_ALLOCATABLE)
    if want is None:
        assert rejection is None, rejection
    else:
        assert sorted(rejection.reasons) == sorted(want[0])
        assert code_of(rejection) == want[1]


@pytest.mark.parametrize("requests, init, existing",
                         [pytest.param(*c[1:], id=c[0]) for c in NOT_ENOUGH_CASES])
def test_not_enough_requests(requests, init, existing):
    allocatable = {"cpu": "10m", "memory": "20", "pods": "1", AAA: "0",
                   "ephemeral-storage": "0", HP: "0"}
    rejection = fit_status(make_pod(requests=requests, init_requests=init), existing, allocatable)
    expect(rejection, ("Too many pods", "U"))


@pytest.mark.parametrize("requests, existing, want",
                         [pytest.param(*c[1:], id=c[0]) for c in STORAGE_CASES])
def test_storage_requests(requests, existing, want):
    rejection = fit_status(make_pod(requests=requests), existing, ENOUGH_ALLOCATABLE)
    if want is None:
        assert rejection is None, rejection
    else:
        assert rejection.reasons == want[0] and code_of(rejection) == want[1]


# --- pkg/scheduler/framework/plugins/interpodaffinity/filtering_test.go ------------------
# TestRequiredAffinitySingleNode, TestRequiredAffinityMultipleNodes. st.MakePod()'s
# PodAffinityIn(key, topologyKey, values) etc. make one term each; namespaces are labelled
# team=team1 / team=team2 as the test's namespace objects are.


def term(key: str, topology: str, op: str = "In", *values: str, **extra) -> dict:
    return {"labelSelector": {"matchExpressions": [expr(key, op, *values)]},
            "topologyKey": topology, **extra}


def pod_affinity(affinity=(), anti=()) -> dict:
    rules = {}
    if affinity:
        rules["podAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": list(affinity)}
    if anti:
        rules["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": list(anti)}
    return rules


NAMESPACE_LABELS = {"subteam1.team1": {"team": "team1"}, "subteam2.team1": {"team": "team1"},
                    "subteam1.team2": {"team": "team2"}}
TEAM1 = {"matchExpressions": [expr("team", "In", "team1")]}
SCAN = {"service": "securityscan"}
S1 = {"security": "S1"}
EXISTING_SCAN = make_pod("existing", labels=SCAN, node="node1")
AFF = (ERR_AFFINITY, "X")
ANTI = (ERR_ANTI_AFFINITY, "U")
EXISTING_ANTI = (ERR_EXISTING_ANTI_AFFINITY, "U")

SINGLE_NODE_CASES = [
    # name, incoming pod, existing pods, want
    ("A pod that has no required pod affinity scheduling rules can schedule onto a node with "
     "no existing pods", make_pod(), [], None),
    ("satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using In "
     "operator that matches the existing pod",
     make_pod(labels=S1, affinity=pod_affinity(
         [term("service", "region", "In", "securityscan", "value2")])), [EXISTING_SCAN], None),
    ("satisfies the pod with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity "
     "using not in operator in labelSelector that matches the existing pod",
     make_pod(labels=S1, affinity=pod_affinity(
         [term("service", "region", "NotIn", "securityscan3", "value3")])), [EXISTING_SCAN], None),
    ("Does not satisfy the PodAffinity with labelSelector because of diff Namespace",
     make_pod(labels=S1, affinity=pod_affinity(
         [term("service", "", "In", "securityscan", "value2", namespaces=["DiffNameSpace"])])),
     [make_pod("e", "ns", SCAN, node="node1")], AFF),
    ("Doesn't satisfy the PodAffinity because of unmatching labelSelector with the existing pod",
     make_pod(labels=SCAN, affinity=pod_affinity(
         [term("service", "", "In", "antivirusscan", "value2")])), [EXISTING_SCAN], AFF),
    ("satisfies the PodAffinity with different label Operators in multiple "
     "RequiredDuringSchedulingIgnoredDuringExecution ",
     make_pod(labels=S1, affinity=pod_affinity([
         {"labelSelector": {"matchExpressions": [expr("service", "Exists"),
                                                 expr("wrongkey", "DoesNotExist")]},
          "topologyKey": "region"},
         {"labelSelector": {"matchExpressions": [expr("service", "In", "securityscan"),
                                                 expr("service", "NotIn", "WrongValue")]},
          "topologyKey": "region"}])), [EXISTING_SCAN], None),
    ("The labelSelector requirements(items of matchExpressions) are ANDed, the pod cannot "
     "schedule onto the node because one of the matchExpression item don't match.",
     make_pod(labels=S1, affinity=pod_affinity([
         {"labelSelector": {"matchExpressions": [expr("service", "Exists"),
                                                 expr("wrongkey", "DoesNotExist")]},
          "topologyKey": "region"},
         {"labelSelector": {"matchExpressions": [expr("service", "In", "securityscan2"),
                                                 expr("service", "NotIn", "WrongValue")]},
          "topologyKey": "region"}])), [EXISTING_SCAN], AFF),
    ("satisfies the PodAffinity and PodAntiAffinity with the existing pod",
     make_pod(labels=S1, affinity=pod_affinity(
         [term("service", "region", "In", "securityscan", "value2")],
         [term("service", "node", "In", "antivirusscan", "value2")])), [EXISTING_SCAN], None),
    ("satisfies the PodAffinity and PodAntiAffinity and PodAntiAffinity symmetry with the "
     "existing pod",
     make_pod(labels=S1, affinity=pod_affinity(
         [term("service", "region", "In", "securityscan", "value2")],
         [term("service", "node", "In", "antivirusscan", "value2")])),
     [make_pod("e", labels=SCAN, node="node1", affinity=pod_affinity(
         anti=[term("service", "node", "In", "antivirusscan", "value2")]))], None),
    ("satisfies the PodAffinity but doesn't satisfy the PodAntiAffinity with the existing pod",
     make_pod(labels=S1, affinity=pod_affinity(
         [term("service", "region", "In", "securityscan", "value2")],
         [term("service", "zone", "In", "securityscan", "value2")])), [EXISTING_SCAN], ANTI),
    ("satisfies the PodAffinity and PodAntiAffinity but doesn't satisfy PodAntiAffinity "
     "symmetry with the existing pod",
     make_pod(labels=SCAN, affinity=pod_affinity(
         [term("service", "region", "In", "securityscan", "value2")],
         [term("service", "node", "In", "antivirusscan", "value2")])),
     [make_pod("e", labels=SCAN, node="node1", affinity=pod_affinity(
         anti=[term("service", "zone", "In", "securityscan", "value2")]))], EXISTING_ANTI),
    ("pod matches its own Label in PodAffinity and that matches the existing pod Labels",
     make_pod(labels=SCAN, affinity=pod_affinity(
         [term("service", "region", "NotIn", "securityscan", "value2")])),
     [make_pod("e", labels=SCAN, node="node2")], AFF),
    ("verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity "
     "constraints. doesn't satisfy PodAntiAffinity symmetry with the existing pod",
     make_pod(labels=SCAN), [make_pod("e", labels=SCAN, node="node1", affinity=pod_affinity(
         anti=[term("service", "zone", "In", "securityscan", "value2")]))], EXISTING_ANTI),
    ("verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity "
     "constraints. satisfy PodAntiAffinity symmetry with the existing pod",
     make_pod(labels=SCAN), [make_pod("e", labels=SCAN, node="node1", affinity=pod_affinity(
         anti=[term("service", "zone", "NotIn", "securityscan", "value2")]))], None),
    ("satisfies the PodAntiAffinity with existing pod but doesn't satisfy PodAntiAffinity "
     "symmetry with incoming pod",
     make_pod(labels=SCAN, affinity=pod_affinity(anti=[term("service", "region", "Exists"),
                                                       term("security", "region", "Exists")])),
     [make_pod("e", labels=S1, node="node1", affinity=pod_affinity(
         anti=[term("security", "zone", "Exists")]))], ANTI),
    ("PodAntiAffinity symmetry check a1: incoming pod and existing pod partially match each "
     "other on AffinityTerms",
     make_pod(labels=SCAN, affinity=pod_affinity(anti=[term("service", "zone", "Exists"),
                                                       term("security", "zone", "Exists")])),
     [make_pod("e", labels=S1, node="node1", affinity=pod_affinity(
         anti=[term("security", "zone", "Exists")]))], ANTI),
    ("PodAntiAffinity symmetry check a2: incoming pod and existing pod partially match each "
     "other on AffinityTerms",
     make_pod(labels=S1, affinity=pod_affinity(anti=[term("security", "zone", "Exists")])),
     [make_pod("e", labels=SCAN, node="node1", affinity=pod_affinity(
         anti=[term("service", "zone", "Exists"), term("security", "zone", "Exists")]))],
     EXISTING_ANTI),
    ("PodAntiAffinity symmetry check b1: incoming pod and existing pod partially match each "
     "other on AffinityTerms",
     make_pod(labels={"abc": "", "xyz": ""}, affinity=pod_affinity(
         anti=[term("abc", "zone", "Exists"), term("def", "zone", "Exists")])),
     [make_pod("e", labels={"def": "", "xyz": ""}, node="node1", affinity=pod_affinity(
         anti=[term("abc", "zone", "Exists"), term("def", "zone", "Exists")]))], ANTI),
    ("PodAntiAffinity symmetry check b2: incoming pod and existing pod partially match each "
     "other on AffinityTerms",
     make_pod(labels={"def": "", "xyz": ""}, affinity=pod_affinity(
         anti=[term("abc", "zone", "Exists"), term("def", "zone", "Exists")])),
     [make_pod("e", labels={"abc": "", "xyz": ""}, node="node1", affinity=pod_affinity(
         anti=[term("abc", "zone", "Exists"), term("def", "zone", "Exists")]))], ANTI),
    ("affinity with NamespaceSelector",
     make_pod(labels=S1, affinity=pod_affinity([term(
         "service", "region", "In", "securityscan", "value2", namespaceSelector=TEAM1)])),
     [make_pod("e", "subteam1.team1", SCAN, node="node1")], None),
    ("affinity with non-matching NamespaceSelector",
     make_pod(labels=S1, affinity=pod_affinity([term(
         "service", "region", "In", "securityscan", "value2", namespaceSelector=TEAM1)])),
     [make_pod("e", "subteam1.team2", SCAN, node="node1")], AFF),
    ("anti-affinity with matching NamespaceSelector",
     make_pod(namespace="subteam1.team1", labels=S1, affinity=pod_affinity(anti=[term(
         "service", "zone", "In", "securityscan", "value2", namespaceSelector=TEAM1)])),
     [make_pod("e", "subteam2.team1", SCAN, node="node1")], ANTI),
    ("anti-affinity with matching all NamespaceSelector",
     make_pod(namespace="subteam1.team1", labels=S1, affinity=pod_affinity(anti=[term(
         "service", "zone", "In", "securityscan", "value2", namespaceSelector={})])),
     [make_pod("e", "subteam2.team1", SCAN, node="node1")], ANTI),
    ("anti-affinity with non-matching NamespaceSelector",
     make_pod(namespace="subteam1.team1", labels=S1, affinity=pod_affinity(anti=[term(
         "service", "zone", "In", "securityscan", "value2", namespaceSelector=TEAM1)])),
     [make_pod("e", "subteam1.team2", SCAN, node="node1")], None),
]


@pytest.mark.parametrize("pod, existing, want",
                         [pytest.param(*c[1:], id=c[0]) for c in SINGLE_NODE_CASES])
def test_required_affinity_single_node(pod, existing, want):
    node = make_node("node1", {"region": "r1", "zone": "z11"})
    cluster = cluster_of([node], existing, lambda ns: NAMESPACE_LABELS.get(ns, {}))
    expect(inter_pod_affinity(pod, cluster.get("node1")), want)


CHINA, CHINA_AZ1, INDIA = {"region": "China"}, {"region": "China", "az": "az1"}, {"region": "India"}
FOO_BAR_SCAN = {"foo": "bar", "service": "securityscan"}
MULTIPLE_NODES_CASES = [
    # name, incoming pod, existing pods, nodes (name, labels), wants per node
    ("A pod can be scheduled onto all the nodes that have the same topology key & label value "
     "with one of them has an existing pod that matches the affinity rules",
     make_pod(affinity=pod_affinity([term("foo", "region", "In", "bar")])),
     [make_pod("p1", labels={"foo": "bar"}, node="node1")],
     [("node1", CHINA), ("node2", CHINA_AZ1), ("node3", INDIA)], [None, None, AFF]),
    ("The affinity rule is to schedule all of the pods of this collection to the same zone. The "
     "first pod of the collection should not be blocked from being scheduled onto any node, "
     "even there's no existing pod that matches the rule anywhere.",
     make_pod(labels=FOO_BAR_SCAN, affinity=pod_affinity(
         [term("foo", "zone", "In", "bar"), term("service", "zone", "In", "securityscan")])),
     [make_pod("p1", labels={"foo": "bar"}, node="nodeA")],
     [("nodeA", {"zone": "az1", "hostname": "h1"}), ("nodeB", {"zone": "az2", "hostname": "h2"})],
     [None, None]),
    ("The first pod of the collection can only be scheduled on nodes labelled with the "
     "requested topology keys",
     make_pod(labels=FOO_BAR_SCAN, affinity=pod_affinity(
         [term("foo", "zone", "In", "bar"), term("service", "zone", "In", "securityscan")])),
     [make_pod("p1", labels={"foo": "bar"}, node="nodeA")],
     [("nodeA", {"zoneLabel": "az1", "hostname": "h1"}),
      ("nodeB", {"zoneLabel": "az2", "hostname": "h2"})], [AFF, AFF]),
    ("NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that "
     "matches the inter pod affinity rule. The pod can not be scheduled onto nodeA and nodeB.",
     make_pod(affinity=pod_affinity(anti=[term("foo", "region", "In", "abc")])),
     [make_pod("e", labels={"foo": "abc"}, node="nodeA")],
     [("nodeA", {"region": "r1", "hostname": "nodeA"}),
      ("nodeB", {"region": "r1", "hostname": "nodeB"})], [ANTI, ANTI]),
    ("This test ensures that anti-affinity matches a pod when any term of the anti-affinity "
     "rule matches a pod.",
     make_pod(affinity=pod_affinity(anti=[term("foo", "region", "In", "abc"),
                                          term("service", "zone", "In", "securityscan")])),
     [make_pod("e", labels={"foo": "abc", "service": "securityscan"}, node="nodeA")],
     [("nodeA", {"region": "r1", "zone": "z1", "hostname": "nodeA"}),
      ("nodeB", {"region": "r1", "zone": "z2", "hostname": "nodeB"})], [ANTI, ANTI]),
    ("NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that "
     "matches the inter pod affinity rule. The pod can not be scheduled onto nodeA and nodeB "
     "but can be scheduled onto nodeC",
     make_pod(affinity=pod_affinity(anti=[term("foo", "region", "In", "abc")])),
     [make_pod("e", labels={"foo": "abc"}, node="nodeA")],
     [("nodeA", CHINA), ("nodeB", CHINA_AZ1), ("nodeC", INDIA)], [ANTI, ANTI, None]),
    ("NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that "
     "matches the inter pod affinity rule. The pod can not be scheduled onto nodeA, nodeB, but "
     "can be scheduled onto nodeC (NodeC has an existing pod that match the inter pod affinity "
     "rule but in different namespace)",
     make_pod(namespace="NS1", labels={"foo": "123"},
              affinity=pod_affinity(anti=[term("foo", "region", "In", "bar")])),
     [make_pod("e1", "NS1", {"foo": "bar"}, node="nodeA"),
      make_pod("e2", "NS2", node="nodeC",
               affinity=pod_affinity(anti=[term("foo", "region", "In", "123")]))],
     [("nodeA", CHINA), ("nodeB", CHINA_AZ1), ("nodeC", INDIA)], [ANTI, ANTI, None]),
    ("Test existing pod's anti-affinity: if an existing pod has a term with invalid "
     "topologyKey, labelSelector of the term is firstly checked, and then topologyKey of the "
     "term is also checked",
     make_pod(labels={"foo": ""}),
     [make_pod("e", node="nodeA", affinity=pod_affinity(
         anti=[term("foo", "invalid-node-label", "Exists")]))],
     [("nodeA", {"region": "r1", "zone": "z1", "hostname": "nodeA"}),
      ("nodeB", {"region": "r1", "zone": "z1", "hostname": "nodeB"})], [None, None]),
    ("Test incoming pod's anti-affinity: even if labelSelector matches, we still check if "
     "topologyKey matches",
     make_pod(affinity=pod_affinity(anti=[term("foo", "invalid-node-label", "Exists")])),
     [make_pod("e", labels={"foo": ""}, node="nodeA")],
     [("nodeA", {"region": "r1", "zone": "z1", "hostname": "nodeA"}),
      ("nodeB", {"region": "r1", "zone": "z1", "hostname": "nodeB"})], [None, None]),
]


@pytest.mark.parametrize("pod, existing, nodes, wants",
                         [pytest.param(*c[1:], id=c[0]) for c in MULTIPLE_NODES_CASES])
def test_required_affinity_multiple_nodes(pod, existing, nodes, wants):
    cluster = cluster_of([make_node(n, labels) for n, labels in nodes], existing)
    for (name, _), want in zip(nodes, wants):
        expect(inter_pod_affinity(pod, cluster.get(name)), want)


# --- pkg/scheduler/framework/plugins/podtopologyspread/filtering_test.go -----------------
# TestSingleConstraint, TestMultipleConstraints. st.MakePod().SpreadConstraint(maxSkew, key,
# DoNotSchedule, selector, minDomains, nodeAffinityPolicy, nodeTaintsPolicy, matchLabelKeys);
# fooSelector is Exists(foo). Nodes are "name:zone" ("name:" for no zone label) and carry
# node=<name>; existing pods are "name@node", labelled foo unless noted.

FOO = {"matchExpressions": [expr("foo", "Exists")]}
BAR = {"matchExpressions": [expr("bar", "Exists")]}


def spread(key: str, max_skew: int = 1, selector: dict | None = FOO, **extra) -> dict:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": selector, **extra}


def spread_nodes(*specs: str, **extra_labels: dict) -> list[dict]:
    nodes = []
    for spec in specs:
        name, _, zone = spec.partition(":")
        labels = {"zone": zone} if zone else {}
        nodes.append(make_node(name, {**labels, "node": name, **extra_labels.get(name, {})}))
    return nodes


def spread_pods(*specs: str, labels: dict | None = None, **by_name: dict) -> list[dict]:
    pods = []
    for spec in specs:
        name, _, node = spec.partition("@")
        options = by_name.get(name.replace("-", "_"), {})
        pods.append(make_pod(name, labels=options.pop("labels", labels or {"foo": ""}),
                             node=node, **options))
    return pods


FOUR_NODES = ("node-a:zone1", "node-b:zone1", "node-x:zone2", "node-y:zone2")
SPREAD_2_1_0_3 = ("p-a1@node-a", "p-a2@node-a", "p-b1@node-b", "p-y1@node-y", "p-y2@node-y",
                  "p-y3@node-y")
ONLY_X = {"node-a": "U", "node-b": "U", "node-x": None, "node-y": "U"}
ALL_FIT = {"node-a": None, "node-b": None, "node-x": None, "node-y": None}
NO_ZONE_Y = {"node-a": {"foo": ""}, "node-b": {"foo": ""}, "node-x": {"foo": ""}}
TAINTED_Y = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
SPREAD_A1_B1_Y1 = ("p-b1@node-a", "p-b2@node-b", "p-y1@node-y")


def policy_nodes() -> list[dict]:
    return spread_nodes("node-a:", "node-b:", "node-x:", "node-y:", **NO_ZONE_Y)


def tainted_y_nodes() -> list[dict]:
    nodes = policy_nodes()
    nodes[3]["spec"]["taints"] = TAINTED_Y
    return nodes


SINGLE_CONSTRAINT_CASES = [
    # name, pod labels, constraints, pod extras, nodes, existing pods, wants per node
    ("no existing pods", {"foo": ""}, [spread("zone")], {}, spread_nodes(*FOUR_NODES), [], ALL_FIT),
    ("no existing pods, incoming pod doesn't match itself", {"foo": ""},
     [spread("zone", selector=BAR)], {}, spread_nodes(*FOUR_NODES), [], ALL_FIT),
    ("existing pods in a different namespace do not count", {"foo": ""}, [spread("zone")], {},
     spread_nodes(*FOUR_NODES),
     spread_pods("p-a1@node-a", "p-b1@node-a", "p-x1@node-x", "p-y1@node-y",
                 p_a1={"namespace": "ns1"}, p_b1={"namespace": "ns2"}),
     {"node-a": None, "node-b": None, "node-x": "U", "node-y": "U"}),
    ("existing pods do not match null selector", {"foo": ""}, [spread("zone", selector=None)], {},
     spread_nodes(*FOUR_NODES), spread_pods("p-x1@node-x", "p-y1@node-y"), ALL_FIT),
    ("pods spread across zones as 3/3, all nodes fit", {"foo": ""}, [spread("zone")], {},
     spread_nodes(*FOUR_NODES), spread_pods(*SPREAD_2_1_0_3), ALL_FIT),
    ("pods spread across zones as 1/2 due to absence of label 'zone' on node-b", {"foo": ""},
     [spread("zone")], {}, spread_nodes("node-a:zone1", "node-b:", "node-x:zone2", "node-y:zone2"),
     spread_pods("p-a1@node-a", "p-b1@node-b", "p-x1@node-x", "p-y1@node-y"),
     {"node-a": None, "node-b": "X", "node-x": "U", "node-y": "U"}),
    ("pod cannot be scheduled as all nodes don't have label 'rack'", {"foo": ""},
     [spread("rack")], {}, spread_nodes("node-a:zone1", "node-x:zone2"), [],
     {"node-a": "X", "node-x": "X"}),
    ("pods spread across nodes as 2/1/0/3, only node-x fits", {"foo": ""}, [spread("node")], {},
     spread_nodes(*FOUR_NODES), spread_pods(*SPREAD_2_1_0_3), ONLY_X),
    ("pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit", {"foo": ""},
     [spread("node", 2)], {}, spread_nodes(*FOUR_NODES), spread_pods(*SPREAD_2_1_0_3),
     {"node-a": "U", "node-b": None, "node-x": None, "node-y": "U"}),
    ("pods spread across nodes as 2/1/0/3, but pod doesn't match itself", {"bar": ""},
     [spread("node")], {}, spread_nodes(*FOUR_NODES), spread_pods(*SPREAD_2_1_0_3),
     {"node-a": "U", "node-b": None, "node-x": None, "node-y": "U"}),
    ("incoming pod has nodeAffinity, pods spread as 2/~1~/~0~/3, hence node-a fits", {"foo": ""},
     [spread("node")],
     {"affinity": required({"matchExpressions": [expr("node", "In", "node-a", "node-y")]})},
     spread_nodes(*FOUR_NODES), spread_pods(*SPREAD_2_1_0_3),
     {"node-a": None, "node-b": None, "node-x": None, "node-y": "U"}),
    ("terminating Pods should be excluded", {"foo": ""}, [spread("node")], {},
     spread_nodes("node-a:", "node-b:"),
     spread_pods("p-a@node-a", "p-b@node-b", p_a={"terminating": True}),
     {"node-a": None, "node-b": "U"}),
    ("incoming pod has nodeAffinity, pods spread as 0/~2~/0/1, hence node-a fits", {"foo": ""},
     [spread("zone")],
     {"affinity": required({"matchExpressions": [expr("node", "NotIn", "node-b")]})},
     spread_nodes(*FOUR_NODES), spread_pods("p-b1@node-b", "p-b2@node-b", "p-y1@node-y"),
     {"node-a": None, "node-b": None, "node-x": "U", "node-y": "U"}),
    ("pods spread across nodes as 2/2/1, maxSkew is 2, and the number of domains < minDomains, "
     "then the third node fits", {"foo": ""}, [spread("node", 2, minDomains=4)], {},
     spread_nodes("node-a:", "node-b:", "node-c:"),
     spread_pods("p-a1@node-a", "p-a2@node-a", "p-b1@node-b", "p-b2@node-b", "p-c1@node-c"),
     {"node-a": "U", "node-b": "U", "node-c": None}),
    ("pods spread across nodes as 2/2/1, maxSkew is 2, and the number of domains > minDomains, "
     "then the all nodes fit", {"foo": ""}, [spread("node", 2, minDomains=2)], {},
     spread_nodes("node-a:", "node-b:", "node-c:"),
     spread_pods("p-a1@node-a", "p-a2@node-a", "p-b1@node-b", "p-b2@node-b", "p-c1@node-c"),
     {"node-a": None, "node-b": None, "node-c": None}),
    ("pods spread across zone as 2/1, maxSkew is 2 and the number of domains < minDomains, "
     "then the third and fourth nodes fit", {"foo": ""}, [spread("zone", 2, minDomains=3)], {},
     spread_nodes(*FOUR_NODES), spread_pods(*SPREAD_A1_B1_Y1),
     {"node-a": "U", "node-b": "U", "node-x": None, "node-y": None}),
    ("pods spread across zone as 2/1, maxSkew is 2 and the number of domains > minDomains, "
     "then the all nodes fit", {"foo": ""}, [spread("zone", 2, minDomains=1)], {},
     spread_nodes(*FOUR_NODES), spread_pods(*SPREAD_A1_B1_Y1), ALL_FIT),
    ("NodeAffinityPolicy honored with labelSelectors", {"foo": ""}, [spread("node")],
     {"node_selector": {"foo": ""}}, policy_nodes(), spread_pods(*SPREAD_A1_B1_Y1),
     {"node-a": "U", "node-b": "U", "node-x": None, "node-y": None}),
    ("NodeAffinityPolicy ignored with labelSelectors", {"foo": ""},
     [spread("node", nodeAffinityPolicy="Ignore")], {"node_selector": {"foo": ""}},
     policy_nodes(), spread_pods(*SPREAD_A1_B1_Y1), ONLY_X),
    ("NodeAffinityPolicy honored with nodeAffinity", {"foo": ""}, [spread("node")],
     {"affinity": required({"matchExpressions": [expr("foo", "In", "")]})}, policy_nodes(),
     spread_pods(*SPREAD_A1_B1_Y1), {"node-a": "U", "node-b": "U", "node-x": None, "node-y": None}),
    ("NodeAffinityPolicy ignored with labelSelectors (the nodeAffinity case)", {"foo": ""},
     [spread("node", nodeAffinityPolicy="Ignore")],
     {"affinity": required({"matchExpressions": [expr("foo", "In", "")]})}, policy_nodes(),
     spread_pods(*SPREAD_A1_B1_Y1), ONLY_X),
    ("NodeTaintsPolicy honored", {"foo": ""}, [spread("node", nodeTaintsPolicy="Honor")], {},
     tainted_y_nodes(), spread_pods(*SPREAD_A1_B1_Y1),
     {"node-a": "U", "node-b": "U", "node-x": None, "node-y": None}),
    ("NodeTaintsPolicy ignored", {"foo": ""}, [spread("node")], {}, tainted_y_nodes(),
     spread_pods(*SPREAD_A1_B1_Y1), ONLY_X),
]

MULTIPLE_CONSTRAINTS_CASES = [
    ("two Constraints on zone and node, spreads = [3/3, 2/1/0/3]", {"foo": ""},
     [spread("zone"), spread("node")], {}, spread_nodes(*FOUR_NODES),
     spread_pods(*SPREAD_2_1_0_3), ONLY_X),
    ("two Constraints on zone and node, spreads = [3/4, 2/1/0/4]", {"foo": ""},
     [spread("zone"), spread("node")], {}, spread_nodes(*FOUR_NODES),
     spread_pods(*SPREAD_2_1_0_3, "p-y4@node-y"), dict.fromkeys(ALL_FIT, "U")),
    ("Constraints hold different labelSelectors, spreads = [1/0, 1/0/0/1]", {"foo": "", "bar": ""},
     [spread("zone"), spread("node", selector=BAR)], {}, spread_nodes(*FOUR_NODES),
     spread_pods("p-a1@node-a", "p-y1@node-y", p_y1={"labels": {"bar": ""}}), ONLY_X),
    ("Constraints hold different labelSelectors, spreads = [1/0, 0/0/1/1]", {"foo": "", "bar": ""},
     [spread("zone"), spread("node", selector=BAR)], {}, spread_nodes(*FOUR_NODES),
     spread_pods("p-a1@node-a", "p-x1@node-x", "p-y1@node-y",
                 p_x1={"labels": {"bar": ""}}, p_y1={"labels": {"bar": ""}}),
     dict.fromkeys(ALL_FIT, "U")),
    ("Constraints hold different labelSelectors, spreads = [2/3, 1/0/0/1]", {"foo": "", "bar": ""},
     [spread("zone"), spread("node", selector=BAR)], {}, spread_nodes(*FOUR_NODES),
     spread_pods("p-a1@node-a", "p-a2@node-a", "p-y1@node-y", "p-y2@node-y", "p-y3@node-y",
                 p_a2={"labels": {"foo": "", "bar": ""}}, p_y2={"labels": {"foo": "", "bar": ""}}),
     {"node-a": "U", "node-b": None, "node-x": "U", "node-y": "U"}),
]


@pytest.mark.parametrize("labels, constraints, extras, nodes, existing, wants",
                         [pytest.param(*c[1:], id=c[0])
                          for c in SINGLE_CONSTRAINT_CASES + MULTIPLE_CONSTRAINTS_CASES])
def test_topology_spread_filter(labels, constraints, extras, nodes, existing, wants):
    pod = make_pod(labels=labels, spread=constraints, **extras)
    cluster = cluster_of(nodes, existing)
    got = {name: code_of(pod_topology_spread(pod, cluster.get(name))) for name in wants}
    assert got == wants


def test_topology_spread_messages():
    """filtering.go's reasons: ErrReasonConstraintsNotMatch and ErrReasonNodeLabelNotMatch."""
    pod = make_pod(labels={"foo": ""}, spread=[spread("zone")])
    cluster = cluster_of(spread_nodes("node-a:zone1", "node-b:", "node-x:zone2"),
                         spread_pods("p-a1@node-a", "p-a2@node-a"))
    assert pod_topology_spread(pod, cluster.get("node-a")) == (
        "node(s) didn't match pod topology spread constraints")
    assert pod_topology_spread(pod, cluster.get("node-b")) == (
        "node(s) didn't match pod topology spread constraints (missing required label)")


# --- pkg/scheduler/framework/types_test.go :: TestFitError_Error -------------------------

FALSE_PRE_FILTER = "Node(s) failed PreFilter plugin FalsePreFilter"
FILTER_1 = "Node(s) failed Filter plugin FalseFilter-1"
FILTER_2 = "Node(s) failed Filter plugin FalseFilter-2"
POST_FILTER = "Error running PostFilter plugin FailedPostFilter"
FIT_ERROR_CASES = [
    # name, number of nodes, node statuses, PreFilter message, PostFilter message, want
    ("nodes failed Prefilter plugin", 3, [FALSE_PRE_FILTER] * 3, FALSE_PRE_FILTER, "",
     "0/3 nodes are available: Node(s) failed PreFilter plugin FalsePreFilter."),
    ("nodes failed Prefilter plugin and the preemption also failed", 3, [FALSE_PRE_FILTER] * 3,
     FALSE_PRE_FILTER, POST_FILTER,
     "0/3 nodes are available: Node(s) failed PreFilter plugin FalsePreFilter. "
     "Error running PostFilter plugin FailedPostFilter"),
    ("nodes failed one Filter plugin with an empty PostFilterMsg", 3, [FILTER_1] * 3, "", "",
     "0/3 nodes are available: 3 Node(s) failed Filter plugin FalseFilter-1."),
    ("nodes failed one Filter plugin with a non-empty PostFilterMsg", 3, [FILTER_1] * 3, "",
     POST_FILTER, "0/3 nodes are available: 3 Node(s) failed Filter plugin FalseFilter-1. "
                  "Error running PostFilter plugin FailedPostFilter"),
    ("nodes failed two Filter plugins with an empty PostFilterMsg", 3,
     [FILTER_1, FILTER_1, FILTER_2], "", "",
     "0/3 nodes are available: 1 Node(s) failed Filter plugin FalseFilter-2, "
     "2 Node(s) failed Filter plugin FalseFilter-1."),
    ("nodes failed two Filter plugins with a non-empty PostFilterMsg", 3,
     [FILTER_1, FILTER_1, FILTER_2], "", POST_FILTER,
     "0/3 nodes are available: 1 Node(s) failed Filter plugin FalseFilter-2, "
     "2 Node(s) failed Filter plugin FalseFilter-1. Error running PostFilter plugin "
     "FailedPostFilter"),
    ("failed to Permit on node", 1, ["Node failed Permit plugin Permit-1"], "", "",
     "0/1 nodes are available: 1 Node failed Permit plugin Permit-1."),
    ("failed to Reserve on node", 1, ["Node failed Reserve plugin Reserve-1"], "", "",
     "0/1 nodes are available: 1 Node failed Reserve plugin Reserve-1."),
]


@pytest.mark.parametrize("num_nodes, statuses, pre_filter, post_filter, want",
                         [pytest.param(*c[1:], id=c[0]) for c in FIT_ERROR_CASES])
def test_fit_error_message(num_nodes, statuses, pre_filter, post_filter, want):
    assert fit_error(num_nodes, [Rejection(s) for s in statuses], pre_filter, post_filter) == want


def test_fit_error_counts_every_reason_of_a_status():
    """fit_test.go TestEnoughRequests "too many resources fails": one node, two reasons,
    each counted (FitError iterates status.Reasons())."""
    assert fit_error(2, [Rejection("Insufficient cpu", "Insufficient memory"),
                         Rejection("Insufficient cpu")]) == (
        "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.")


# --- pkg/scheduler/framework/plugins/defaultpreemption/default_preemption_test.go --------
# Priorities negPriority, lowPriority, midPriority, highPriority, veryHighPriority =
# -100, 0, 100, 1000, 10000; smallRes/mediumRes/largeRes/veryLargeRes are 100m/100,
# 200m/200, 300m/300 and 500m/500 of cpu/memory.

NEG, LOW, MID, HIGH, VERY_HIGH = -100, 0, 100, 1000, 10000
SMALL, MEDIUM = {"cpu": "100m", "memory": "100"}, {"cpu": "200m", "memory": "200"}
LARGE, VERY_LARGE = {"cpu": "300m", "memory": "300"}, {"cpu": "500m", "memory": "500"}
ONE_POD = {"pods": "1"}
NODE_RES = {"cpu": "200m", "memory": "400"}
UNSCHEDULABLE, UNRESOLVABLE = Rejection(), Rejection(unresolvable=True)


def victim(name: str, node: str, priority: int, requests=None, start: int | None = None,
           **extra) -> dict:
    return make_pod(name, node=node, priority=priority, requests=requests, start=start, **extra)


POST_FILTER_CASES = [
    # name, preemptor, pods, nodes (name, allocatable), filter statuses, (node, victims), message
    ("pod with higher priority can be made schedulable", make_pod(priority=HIGH),
     [victim("p1", "node1", 0)], [("node1", ONE_POD)], {"node1": UNSCHEDULABLE},
     ("node1", ["p1"]), ""),
    ("pod with tied priority is still unschedulable", make_pod(),
     [victim("p1", "node1", 0)], [("node1", ONE_POD)], {"node1": UNSCHEDULABLE}, (None, []),
     "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."),
    ("preemption should respect filteredNodesStatuses", make_pod(priority=HIGH),
     [victim("p1", "node1", 0)], [("node1", ONE_POD)], {"node1": UNRESOLVABLE}, (None, []),
     "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."),
    ("pod can be made schedulable on one node", make_pod(priority=MID),
     [victim("p1", "node1", HIGH), victim("p2", "node2", LOW)],
     [("node1", ONE_POD), ("node2", ONE_POD)],
     {"node1": UNSCHEDULABLE, "node2": UNSCHEDULABLE}, ("node2", ["p2"]), ""),
    ("no candidate nodes found, no enough resource after removing low priority pods",
     make_pod(priority=HIGH, requests=LARGE), [victim("p1", "node1", 0), victim("p2", "node2", 0)],
     [("node1", NODE_RES), ("node2", NODE_RES)],
     {"node1": UNSCHEDULABLE, "node2": UNSCHEDULABLE}, (None, []),
     "preemption: 0/2 nodes are available: 2 Insufficient cpu."),
    ("no candidate nodes found with mixed reasons, no lower priority pod and no enough CPU "
     "resource", make_pod(priority=HIGH, requests=LARGE),
     [victim("p1", "node1", HIGH), victim("p2", "node2", 0), victim("p3", "node3", HIGH)],
     [("node1", ONE_POD), ("node2", NODE_RES), ("node3", ONE_POD)],
     dict.fromkeys(("node1", "node2", "node3"), UNSCHEDULABLE), (None, []),
     "preemption: 0/3 nodes are available: 1 Insufficient cpu, 2 No preemption victims found "
     "for incoming pod."),
    ("no candidate nodes found with mixed reason, 2 UnschedulableAndUnresolvable nodes and 2 "
     "nodes don't have enough CPU resource", make_pod(priority=HIGH, requests=LARGE),
     [victim("p1", "node1", 0), victim("p2", "node2", 0)],
     [(f"node{i}", NODE_RES) for i in range(1, 5)],
     {"node1": UNSCHEDULABLE, "node2": UNSCHEDULABLE, "node4": UNRESOLVABLE}, (None, []),
     "preemption: 0/4 nodes are available: 2 Insufficient cpu, 2 Preemption is not helpful for "
     "scheduling."),
]


@pytest.mark.parametrize("pod, pods, nodes, statuses, want, message",
                         [pytest.param(*c[1:], id=c[0]) for c in POST_FILTER_CASES])
def test_post_filter(pod, pods, nodes, statuses, want, message):
    """TestPostFilter: the PostFilter given the filters' per-node statuses."""
    cluster = cluster_of([make_node(n, allocatable=a) for n, a in nodes], pods)
    result = preempt(pod, cluster, statuses, default_priority, run_filters)
    assert (result.nominated_node, names(result.victims), result.message) == (*want, message)


def very_large_nodes(*specs: str) -> list[dict]:
    """TestDryRunPreemption's nodes: "name/zone" gives labels hostname=name, zone=zone."""
    nodes = []
    for spec in specs:
        parts = spec.split("/")
        labels = dict(zip(("hostname", "zone", "region"), parts))
        nodes.append(make_node(parts[0], labels, allocatable=VERY_LARGE))
    return nodes


FOO_SPREAD = [spread("zone"), spread("hostname")]
DRY_RUN_CASES = [
    # name, preemptor, node specs, pods, victims by candidate node
    ("a pod that fits on both nodes when lower priority pods are preempted",
     make_pod(priority=HIGH, requests=LARGE), ("node1", "node2"),
     [victim("p1", "node1", MID, LARGE), victim("p2", "node2", MID, LARGE)],
     {"node1": ["p1"], "node2": ["p2"]}),
    ("a pod that would fit on the nodes, but other pods running are higher priority, no "
     "preemption would happen", make_pod(priority=LOW, requests=LARGE), ("node1", "node2"),
     [victim("p1", "node1", MID, LARGE), victim("p2", "node2", MID, LARGE)], {}),
    ("medium priority pod is preempted, but lower priority one stays as it is small",
     make_pod(priority=HIGH, requests=LARGE), ("node1", "node2"),
     [victim("p1.1", "node1", LOW, SMALL), victim("p1.2", "node1", MID, LARGE),
      victim("p2", "node2", MID, LARGE)], {"node1": ["p1.2"], "node2": ["p2"]}),
    ("mixed priority pods are preempted", make_pod(priority=HIGH, requests=LARGE),
     ("node1", "node2"),
     [victim("p1.1", "node1", MID, SMALL), victim("p1.2", "node1", LOW, SMALL),
      victim("p1.3", "node1", MID, MEDIUM), victim("p1.4", "node1", HIGH, SMALL),
      victim("p2", "node2", HIGH, LARGE)], {"node1": ["p1.2", "p1.3"]}),
    ("mixed priority pods are preempted, pick later StartTime one when priorities are equal",
     make_pod(priority=HIGH, requests=LARGE), ("node1", "node2"),
     [victim("p1.1", "node1", LOW, SMALL, 5), victim("p1.2", "node1", LOW, SMALL, 4),
      victim("p1.3", "node1", MID, MEDIUM, 3), victim("p1.4", "node1", HIGH, SMALL, 2),
      victim("p2", "node2", HIGH, LARGE, 1)], {"node1": ["p1.1", "p1.3"]}),
    ("pod with anti-affinity is preempted",
     make_pod(labels={"foo": ""}, priority=HIGH, requests=SMALL), ("node1", "node2"),
     [victim("p1.1", "node1", LOW, SMALL, labels={"foo": ""},
             affinity=pod_affinity(anti=[term("foo", "hostname", "Exists")])),
      victim("p1.2", "node1", MID, SMALL), victim("p1.3", "node1", HIGH, SMALL),
      victim("p2", "node2", HIGH, SMALL)], {"node1": ["p1.1"]}),
    ("preemption to resolve pod topology spread filter failure",
     make_pod(labels={"foo": ""}, priority=HIGH, spread=FOO_SPREAD),
     ("node-a/zone1", "node-b/zone1", "node-x/zone2"),
     [make_pod("pod-a1", node="node-a", labels={"foo": ""}, priority=MID),
      make_pod("pod-a2", node="node-a", labels={"foo": ""}, priority=LOW),
      make_pod("pod-b1", node="node-b", labels={"foo": ""}, priority=LOW),
      make_pod("pod-x1", node="node-x", labels={"foo": ""}, priority=HIGH),
      make_pod("pod-x2", node="node-x", labels={"foo": ""}, priority=HIGH)],
     {"node-a": ["pod-a2"], "node-b": ["pod-b1"]}),
]


@pytest.mark.parametrize("pod, node_specs, pods, want",
                         [pytest.param(*c[1:], id=c[0]) for c in DRY_RUN_CASES])
def test_dry_run_preemption(pod, node_specs, pods, want):
    """TestDryRunPreemption: SelectVictimsOnNode on every node."""
    cluster = cluster_of(very_large_nodes(*node_specs), pods)
    got = {}
    for info in cluster.node_infos:
        victims, _ = select_victims(pod, cluster, info.name, default_priority, run_filters)
        if victims:
            got[info.name] = names(victims)
    assert got == want


SELECT_BEST_CASES = [
    # name, preemptor (priority, requests), pods (name, node, priority, requests, start),
    # acceptable nodes
    ("a pod that fits on both nodes when lower priority pods are preempted", (HIGH, LARGE),
     [("p1", "node1", MID, LARGE, 0), ("p2", "node2", MID, LARGE, 0)], {"node1", "node2"}),
    ("node with min highest priority pod is picked", (HIGH, VERY_LARGE),
     [("p1.1", "node1", MID, MEDIUM, 0), ("p1.2", "node1", MID, LARGE, 0),
      ("p2.1", "node2", MID, MEDIUM, 0), ("p2.2", "node2", LOW, MEDIUM, 0),
      ("p3.1", "node3", LOW, MEDIUM, 0), ("p3.2", "node3", LOW, MEDIUM, 0)], {"node3"}),
    ("when highest priorities are the same, minimum sum of priorities is picked",
     (HIGH, VERY_LARGE),
     [("p1.1", "node1", MID, MEDIUM, 0), ("p1.2", "node1", MID, LARGE, 0),
      ("p2.1", "node2", MID, LARGE, 0), ("p2.2", "node2", LOW, MEDIUM, 0),
      ("p3.1", "node3", MID, MEDIUM, 0), ("p3.2", "node3", MID, MEDIUM, 0)], {"node2"}),
    ("when highest priority and sum are the same, minimum number of pods is picked",
     (HIGH, VERY_LARGE),
     [("p1.1", "node1", MID, SMALL, 0), ("p1.2", "node1", NEG, SMALL, 0),
      ("p1.3", "node1", MID, SMALL, 0), ("p1.4", "node1", NEG, SMALL, 0),
      ("p2.1", "node2", MID, LARGE, 0), ("p2.2", "node2", NEG, MEDIUM, 0),
      ("p3.1", "node3", MID, MEDIUM, 0), ("p3.2", "node3", NEG, SMALL, 0),
      ("p3.3", "node3", LOW, SMALL, 0)], {"node2"}),
    ("sum of adjusted priorities is considered", (HIGH, VERY_LARGE),
     [("p1.1", "node1", MID, SMALL, 0), ("p1.2", "node1", NEG, SMALL, 0),
      ("p1.3", "node1", NEG, SMALL, 0), ("p2.1", "node2", MID, LARGE, 0),
      ("p2.2", "node2", NEG, MEDIUM, 0), ("p3.1", "node3", MID, MEDIUM, 0),
      ("p3.2", "node3", NEG, SMALL, 0), ("p3.3", "node3", LOW, SMALL, 0)], {"node2"}),
    ("non-overlapping lowest high priority, sum priorities, and number of pods",
     (VERY_HIGH, VERY_LARGE),
     [("p1.1", "node1", MID, SMALL, 0), ("p1.2", "node1", LOW, SMALL, 0),
      ("p1.3", "node1", LOW, SMALL, 0), ("p2.1", "node2", HIGH, LARGE, 0),
      ("p3.1", "node3", MID, MEDIUM, 0), ("p3.2", "node3", LOW, SMALL, 0),
      ("p3.3", "node3", LOW, SMALL, 0), ("p3.4", "node3", LOW, MEDIUM, 0),
      ("p4.1", "node4", MID, MEDIUM, 0), ("p4.2", "node4", MID, SMALL, 0),
      ("p4.3", "node4", MID, SMALL, 0), ("p4.4", "node4", NEG, SMALL, 0)], {"node1"}),
    ("same priority, same number of victims, different start time for each node's pod",
     (HIGH, VERY_LARGE),
     [("p1.1", "node1", MID, MEDIUM, 2), ("p1.2", "node1", MID, MEDIUM, 2),
      ("p2.1", "node2", MID, MEDIUM, 3), ("p2.2", "node2", MID, MEDIUM, 3),
      ("p3.1", "node3", MID, MEDIUM, 1), ("p3.2", "node3", MID, MEDIUM, 1)], {"node2"}),
    ("same priority, same number of victims, different start time for all pods", (HIGH, VERY_LARGE),
     [("p1.1", "node1", MID, MEDIUM, 4), ("p1.2", "node1", MID, MEDIUM, 2),
      ("p2.1", "node2", MID, MEDIUM, 5), ("p2.2", "node2", MID, MEDIUM, 1),
      ("p3.1", "node3", MID, MEDIUM, 3), ("p3.2", "node3", MID, MEDIUM, 6)], {"node3"}),
    ("different priority, same number of victims, different start time for all pods",
     (HIGH, VERY_LARGE),
     [("p1.1", "node1", LOW, MEDIUM, 4), ("p1.2", "node1", MID, MEDIUM, 2),
      ("p2.1", "node2", MID, MEDIUM, 6), ("p2.2", "node2", LOW, MEDIUM, 1),
      ("p3.1", "node3", LOW, MEDIUM, 3), ("p3.2", "node3", MID, MEDIUM, 5)], {"node2"}),
]


@pytest.mark.parametrize("preemptor, pods, acceptable",
                         [pytest.param(*c[1:], id=c[0]) for c in SELECT_BEST_CASES])
def test_select_best_candidate(preemptor, pods, acceptable):
    """TestSelectBestCandidate, end to end: no node fits, preemption nominates one."""
    placed = [victim(n, node, prio, req, start) for n, node, prio, req, start in pods]
    nodes = very_large_nodes(*sorted({p[1] for p in pods}))
    priority, requests = preemptor
    placement = schedule(make_pod(priority=priority, requests=requests), nodes, bound(placed))
    assert placement.node is None and placement.nominated_node in acceptable
    assert placement.victims and all(v["spec"]["nodeName"] == placement.nominated_node
                                     for v in placement.victims)


# --- pkg/scheduler/framework/plugins/defaultpreemption/default_preemption_test.go --------
# TestPreempt, TestPodEligibleToPreemptOthers: the whole cycle, through schedule().

def test_preempt_basic_preemption_logic():
    """TestPreempt "basic preemption logic"."""
    pods = [victim("p1.1", "node1", LOW, SMALL), victim("p1.2", "node1", LOW, SMALL),
            victim("p2.1", "node2", HIGH, LARGE), victim("p3.1", "node3", MID, MEDIUM)]
    pod = make_pod(priority=HIGH, requests=VERY_LARGE, preemption_policy="PreemptLowerPriority")
    placement = schedule(pod, very_large_nodes("node1", "node2", "node3"), bound(pods))
    assert (placement.nominated_node, names(placement.victims)) == ("node1", ["p1.1", "p1.2"])
    assert placement.message == ("0/3 nodes are available: 3 Insufficient cpu, "
                                 "3 Insufficient memory.")


def test_preempt_for_topology_spread_constraints():
    """TestPreempt "preemption for topology spread constraints"."""
    pods = [make_pod(n, "default", {"foo": ""}, node=node, priority=prio)
            for n, node, prio in (("p-a1", "node-a", HIGH), ("p-a2", "node-a", HIGH),
                                  ("p-b1", "node-b", LOW), ("p-x1", "node-x", HIGH),
                                  ("p-x2", "node-x", HIGH))]
    pod = make_pod(namespace="default", labels={"foo": ""}, priority=HIGH, spread=FOO_SPREAD)
    nodes = very_large_nodes("node-a/zone1", "node-b/zone1", "node-x/zone2")
    placement = schedule(pod, nodes, bound(pods))
    assert (placement.nominated_node, names(placement.victims)) == ("node-b", ["p-b1"])
    assert placement.message == (
        "0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints.")


def test_pod_with_preempt_never_policy_is_not_eligible():
    """TestPodEligibleToPreemptOthers "Pod with 'PreemptNever' preemption policy"; the
    PostFilter status is "preemption: not eligible due to preemptionPolicy=Never."."""
    pod = make_pod(priority=HIGH, preemption_policy="Never")
    placement = schedule(pod, [make_node("node1", allocatable=ONE_POD)],
                         bound([victim("p1", "node1", LOW)]))
    assert placement == Placement(None, "0/1 nodes are available: 1 Too many pods. preemption: "
                                        "not eligible due to preemptionPolicy=Never.", [], None)


# --- pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable_test.go --------
# TestNodeUnschedulable; and plugins/nodename/node_name_test.go TestNodeName.

@pytest.mark.parametrize("unschedulable, tolerations, want", [
    pytest.param(True, None, ("node(s) were unschedulable", "X"),
                 id="Does not schedule pod to unschedulable node (node.Spec.Unschedulable==true)"),
    pytest.param(False, None, None, id="Schedule pod to normal node"),
    pytest.param(True, [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}],
                 None, id="Schedule pod with toleration to unschedulable node "
                         "(node.Spec.Unschedulable==true)"),
])
def test_node_unschedulable(unschedulable, tolerations, want):
    info = cluster_of([make_node("n", unschedulable=unschedulable)]).get("n")
    expect(node_unschedulable(make_pod(tolerations=tolerations), info), want)


@pytest.mark.parametrize("pod_node, node, want", [
    pytest.param(None, "", None, id="no host specified"),
    pytest.param("foo", "foo", None, id="host matches"),
    pytest.param("bar", "foo", ("node(s) didn't match the requested node name", "X"),
                 id="host doesn't match"),
])
def test_node_name(pod_node, node, want):
    expect(node_name(make_pod(node=pod_node), cluster_of([make_node(node)]).get(node)), want)


# --- scoring: tainttoleration/taint_toleration_test.go TestTaintTolerationScore ----------


def prefer(key: str, value: str) -> dict:
    return {"key": key, "value": value, "effect": "PreferNoSchedule"}


ARM, SSD = prefer("cpu-type", "arm64"), prefer("disk-type", "ssd")
TAINT_SCORE_CASES = [
    ("node with taints tolerated by the pod, gets a higher score than those node with "
     "intolerable taints",
     [{"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}],
     {"nodeA": [prefer("foo", "bar")], "nodeB": [prefer("foo", "blah")]},
     {"nodeA": 100, "nodeB": 0}),
    ("the nodes that all of their taints are tolerated by the pod, get the same score, no "
     "matter how many tolerable taints a node has",
     [{"key": "cpu-type", "operator": "Equal", "value": "arm64", "effect": "PreferNoSchedule"},
      {"key": "disk-type", "operator": "Equal", "value": "ssd", "effect": "PreferNoSchedule"}],
     {"nodeA": [], "nodeB": [ARM], "nodeC": [ARM, SSD]},
     {"nodeA": 100, "nodeB": 100, "nodeC": 100}),
    ("the more intolerable taints a node has, the lower score it gets.",
     [{"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}],
     {"nodeA": [], "nodeB": [ARM], "nodeC": [ARM, SSD]}, {"nodeA": 100, "nodeB": 50, "nodeC": 0}),
    ("only taints and tolerations that have effect PreferNoSchedule are checked by "
     "taints-tolerations priority function",
     [{"key": "cpu-type", "operator": "Equal", "value": "arm64", "effect": "NoSchedule"},
      {"key": "disk-type", "operator": "Equal", "value": "ssd", "effect": "NoSchedule"}],
     {"nodeA": [], "nodeB": [{"key": "cpu-type", "value": "arm64", "effect": "NoSchedule"}],
      "nodeC": [ARM, SSD]}, {"nodeA": 100, "nodeB": 100, "nodeC": 0}),
    ("Default behaviour No taints and tolerations, lands on node with no taints", [],
     {"nodeA": [], "nodeB": [ARM]}, {"nodeA": 100, "nodeB": 0}),
]


@pytest.mark.parametrize("tolerations, taints, want",
                         [pytest.param(*c[1:], id=c[0]) for c in TAINT_SCORE_CASES])
def test_taint_toleration_score(tolerations, taints, want):
    cluster = cluster_of([make_node(n, taints=t) for n, t in taints.items()])
    assert taint_toleration_scores(make_pod(tolerations=tolerations), cluster.node_infos) == want


# --- scoring: nodeaffinity/node_affinity_test.go TestNodeAffinityPriority ----------------


def preferred(*terms: tuple[int, list[dict]]) -> dict:
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": w, "preference": {"matchExpressions": exprs}} for w, exprs in terms]}}


AFFINITY1 = preferred((2, [expr("foo", "In", "bar")]))
AFFINITY2 = preferred((2, [expr("foo", "In", "bar")]), (4, [expr("key", "In", "value")]),
                      (5, [expr("foo", "In", "bar"), expr("key", "In", "value"),
                           expr("az", "In", "az1")]))
LABEL1, LABEL2, LABEL3 = {"foo": "bar"}, {"key": "value"}, {"az": "az1"}
LABEL4, LABEL5 = {"abc": "az11", "def": "az22"}, {"foo": "bar", "key": "value", "az": "az1"}
NODE_AFFINITY_SCORE_CASES = [
    ("all nodes are same priority as NodeAffinity is nil", None,
     [("node1", LABEL1), ("node2", LABEL2), ("node3", LABEL3)],
     {"node1": 0, "node2": 0, "node3": 0}),
    ("no node matches preferred scheduling requirements in NodeAffinity of pod so all nodes' "
     "priority is zero", AFFINITY1, [("node1", LABEL4), ("node2", LABEL2), ("node3", LABEL3)],
     {"node1": 0, "node2": 0, "node3": 0}),
    ("only node1 matches the preferred scheduling requirements of pod", AFFINITY1,
     [("node1", LABEL1), ("node2", LABEL2), ("node3", LABEL3)],
     {"node1": 100, "node2": 0, "node3": 0}),
    ("all nodes matches the preferred scheduling requirements of pod but with different "
     "priorities ", AFFINITY2, [("node1", LABEL1), ("node5", LABEL5), ("node2", LABEL2)],
     {"node1": 18, "node5": 100, "node2": 36}),
]


@pytest.mark.parametrize("affinity, nodes, want",
                         [pytest.param(*c[1:], id=c[0]) for c in NODE_AFFINITY_SCORE_CASES])
def test_node_affinity_priority(affinity, nodes, want):
    cluster = cluster_of([make_node(n, labels) for n, labels in nodes])
    assert node_affinity_scores(make_pod(affinity=affinity), cluster.node_infos) == want


# --- gpu-lab: GPUs on the lab's nodes ---------------------------------------------------


def gpu_node(name: str, gpus: int, labels: dict | None = None) -> dict:
    return make_node(name, labels, allocatable={"cpu": "4", "memory": "16Gi", GPU: str(gpus)})


def gpu_pod(name: str = "train", gpus: int = 1, **extra) -> dict:
    return make_pod(name, "tenant-a", requests={"cpu": "1", GPU: str(gpus)}, **extra)


def test_two_gpus_on_one_gpu_nodes_is_pending_and_preemption_cannot_help():
    """A request larger than a node's whole allocatable is UnschedulableAndUnresolvable
    (fit.go's Unresolvable), so preemption is not even tried."""
    nodes = [gpu_node(f"t4-{i}", 1) for i in range(3)]
    placement = schedule(gpu_pod(gpus=2, priority=HIGH), nodes,
                         bound([gpu_pod("low", node="t4-0", priority=LOW)]))
    assert placement == Placement(
        None, f"0/3 nodes are available: 3 Insufficient {GPU}. preemption: 0/3 nodes are "
              "available: 3 Preemption is not helpful for scheduling.", [], None)


def test_gpu_held_by_an_equal_priority_pod_has_no_victims():
    """The FailedScheduling message of a GPU pod pinned to the GPU pool while the one GPU
    node is busy: upstream's sorted reasons and the preemption postfix."""
    nodes = [make_node("system-0"), make_node("system-1"),
             gpu_node("t4-0", 1, {"pool": "t4"})]
    nodes[0]["status"]["allocatable"].update(cpu="4", memory="16Gi")
    nodes[1]["status"]["allocatable"].update(cpu="4", memory="16Gi")
    busy = gpu_pod("busy", node="t4-0")
    placement = schedule(gpu_pod(node_selector={"pool": "t4"}), nodes, bound([busy]))
    assert placement.node is None and placement.victims == []
    assert placement.message == (
        f"0/3 nodes are available: 1 Insufficient {GPU}, 2 node(s) didn't match Pod's node "
        "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found "
        "for incoming pod, 2 Preemption is not helpful for scheduling.")


def test_higher_priority_gpu_pod_preempts_the_lower_one():
    nodes = [gpu_node("t4-0", 1), gpu_node("t4-1", 1)]
    holders = [gpu_pod("batch", node="t4-0", priority=LOW, start=1),
               gpu_pod("infer", node="t4-1", priority=MID, start=2)]
    placement = schedule(gpu_pod("urgent", priority=HIGH), nodes, bound(holders))
    assert (placement.node, placement.nominated_node) == (None, "t4-0")
    assert placement.victims == [holders[0]]
    assert placement.message == f"0/2 nodes are available: 2 Insufficient {GPU}."


def test_a_gpu_pod_goes_to_the_least_allocated_node_ties_by_name():
    """LeastAllocated prefers the emptier node; equal scores go to the first name (upstream
    picks at random among ties)."""
    nodes = [gpu_node("t4-1", 2), gpu_node("t4-0", 2), gpu_node("t4-2", 2)]
    assert schedule(gpu_pod(), nodes, []).node == "t4-0"
    busy = [make_pod("web", node="t4-0", requests={"cpu": "2", "memory": "8Gi"})]
    assert schedule(gpu_pod(), nodes, bound(busy)).node == "t4-1"


def test_priority_callable_overrides_spec_priority():
    nodes = [gpu_node("t4-0", 1)]
    holder = gpu_pod("batch", node="t4-0")
    tiers = {"urgent": 10, "batch": 1}
    placement = schedule(gpu_pod("urgent"), nodes, bound([holder]),
                         priority=lambda p: tiers[p["metadata"]["name"]])
    assert (placement.nominated_node, placement.victims) == ("t4-0", [holder])


def test_no_nodes():
    assert schedule(gpu_pod(), [], []) == Placement(None, "no nodes available to schedule pods")


def test_pod_schedulable_reports_the_fit_error_without_preemption():
    nodes = [gpu_node("t4-0", 1), make_node("system-0")]
    answer = pod_schedulable(gpu_pod(gpus=2), nodes)
    assert not answer
    assert answer.reason == (f"0/2 nodes are available: 1 Insufficient cpu, "
                             f"2 Insufficient {GPU}.")
    assert pod_schedulable(gpu_pod(), nodes).reason == "fits node t4-0"


def test_find_nodes_that_fit_narrows_to_pinned_node_names():
    """NodeAffinity's PreFilter result: the other nodes are "didn't satisfy plugin(s)"."""
    pod = make_pod(affinity=required(fields_term("b")))
    outcome = find_nodes_that_fit(pod, cluster_of([make_node("a"), make_node("b"), make_node("c")]))
    assert [n.name for n in outcome.feasible] == ["b"]
    assert outcome.statuses == {"a": "node(s) didn't satisfy plugin(s) [NodeAffinity]",
                                "c": "node(s) didn't satisfy plugin(s) [NodeAffinity]"}
