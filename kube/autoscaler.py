"""The cluster autoscaler's scale-down, ported from kubernetes/autoscaler cluster-autoscaler
(tag cluster-autoscaler-1.36.1; its semantics, not its code), for the twin's clock.

Every scan (`scan-interval`, 10 s) the autoscaler:
1. lists the pods it must account for: every pod bound to a node but those that are
   Succeeded or Failed (utils/kubernetes/listers.go, AllPodLister): a terminated pod holds
   nothing and keeps no node;
2. finds each candidate node's utilization (simulator/utilization/info.go, Calculate): on
   a node with a GPU (the cloud's GPU label, or nvidia.com/gpu allocatable) the share of
   nvidia.com/gpu requested, and 0 while the node advertises none (an "unready GPU"); on
   other nodes the larger of the CPU and memory shares. Pods being deleted past their grace
   period do not count; DaemonSet and mirror pods count unless ignored;
3. keeps the nodes at or under the threshold (core/scaledown/eligibility/eligibility.go:
   utilization > threshold is NotUnderutilized; 0.5 for CPU and GPU by default);
4. simulates draining each of them (simulator/drain.go, GetPodsToMove, with the default
   drainability rules of simulator/drainability/rules: mirror and long-terminating pods are
   skipped, DaemonSet pods, pods annotated safe-to-evict and terminal pods drain, a pod
   annotated safe-to-evict=on-completion is waited for, a pod without a controller, a
   kube-system pod without a PodDisruptionBudget, a pod annotated safe-to-evict=false and,
   with skip-nodes-with-local-storage, a pod with an emptyDir or hostPath volume block the
   node) and fitting the pods it would move on the other nodes (simulator/cluster.go,
   findPlaceFor: the scheduler's filters on every node that is not itself being removed);
5. remembers since when each node has been unneeded (core/scaledown/unneeded/nodes.go,
   Update keeps the first time) and removes it once it has been unneeded for longer than
   scale-down-unneeded-time (scale-down-unready-time for a node that is not ready, which a
   GPU node without nvidia.com/gpu is: processors/customresources/gpu_processor.go), never
   below its node group's minimum (verifyMinSize: size minus deletions in progress must stay
   above the minimum), empty nodes first, and not while scale-down-delay-after-add has not
   passed since the last scale-up (core/static_autoscaler.go, isScaleDownInCooldown).

GKE runs the autoscaler itself. Its `balanced` profile (the default, and the one gpu-lab's
clusters use) removes a node that has been under 0.5 for 10 minutes (GKE, "Troubleshoot
cluster autoscaler not scaling down": the utilization factor, 0.5 under balanced, checked
every 10 seconds, the node removed after 10 minutes under it); the other values are
upstream's defaults (config/flags/flags.go, config/const.go). Whether GKE lets local
storage block scale-down could not be settled from GKE's documentation; the twin takes
skip-nodes-with-local-storage false, the value under which the autoscaler removes more,
so what the twin promises holds under either (tests/test_twin_time.py runs both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterable, Optional

from kube.pod_resources import pod_requests

GPU_RESOURCE = "nvidia.com/gpu"
GKE_GPU_LABEL = "cloud.google.com/gke-accelerator"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
DAEMONSET_POD_ANNOTATION = "cluster-autoscaler.kubernetes.io/daemonset-pod"
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
SAFE_TO_EVICT_LOCAL_VOLUMES = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
SCALE_DOWN_DISABLED = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
LONG_TERMINATING_EXTRA = 30           # drain.PodLongTerminatingExtraThreshold
DEFAULT_GRACE_PERIOD = 30             # apiv1.DefaultTerminationGracePeriodSeconds
REPLICATED_KINDS = ("ReplicationController", "Job", "ReplicaSet", "StatefulSet")

# Drainability outcomes (simulator/drainability/status.go).
UNDEFINED, DRAIN_OK, BLOCK, SKIP, WAIT = "Undefined", "DrainOk", "BlockDrain", "SkipDrain", \
    "WaitForCompletion"
# Blocking reasons (utils/drain/drain.go, BlockingPodReason).
NOT_REPLICATED, LOCAL_STORAGE, NOT_SAFE_TO_EVICT, UNMOVABLE_KUBE_SYSTEM, NOT_ENOUGH_PDB = (
    "NotReplicated", "LocalStorageRequested", "NotSafeToEvictAnnotation",
    "UnmovableKubeSystemPod", "NotEnoughPdb")
# Unremovable reasons (simulator/cluster.go, UnremovableReason) the twin reports.
NOT_UNDERUTILIZED, BLOCKED_BY_POD, NO_PLACE, SCALE_DOWN_DISABLED_REASON = (
    "NotUnderutilized", "BlockedByPod", "NoPlaceToMovePods", "ScaleDownDisabledAnnotation")
NOT_UNNEEDED_LONG_ENOUGH, NOT_UNREADY_LONG_ENOUGH, MIN_SIZE_REACHED = (
    "NotUnneededLongEnough", "NotUnreadyLongEnough", "NodeGroupMinSizeReached")


@dataclass(frozen=True)
class Options:
    """The autoscaler's scale-down settings, in seconds and fractions."""
    scan_interval: float = 10
    unneeded_time: float = 600
    unready_time: float = 1200
    delay_after_add: float = 600
    utilization_threshold: float = 0.5
    gpu_utilization_threshold: float = 0.5
    skip_nodes_with_local_storage: bool = False
    skip_nodes_with_system_pods: bool = True
    ignore_daemonsets_utilization: bool = False
    ignore_mirror_pods_utilization: bool = False
    scale_down_unready_enabled: bool = True
    bsp_disruption_timeout: float = 3600     # blocking-system-pod-distruption-timeout
    max_drain_parallelism: int = 1


UPSTREAM = Options(skip_nodes_with_local_storage=True)
GKE_BALANCED = Options()


# -- pods ------------------------------------------------------------------------------------

def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def _annotations(pod: dict) -> dict:
    return _meta(pod).get("annotations") or {}


def phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def controller_ref(pod: dict) -> Optional[dict]:
    """metav1.GetControllerOf."""
    for ref in _meta(pod).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def is_mirror_pod(pod: dict) -> bool:
    return MIRROR_ANNOTATION in _annotations(pod)


def is_daemonset_pod(pod: dict) -> bool:
    ref = controller_ref(pod)
    if ref is not None and ref.get("kind") == "DaemonSet":
        return True
    return _annotations(pod).get(DAEMONSET_POD_ANNOTATION) == "true"


def is_pod_terminal(pod: dict) -> bool:
    """drain.IsPodTerminal."""
    policy = _spec(pod).get("restartPolicy") or "Always"
    if policy == "Never" and phase(pod) in ("Succeeded", "Failed"):
        return True
    if policy == "OnFailure" and phase(pod) == "Succeeded":
        return True
    return phase(pod) == "Failed"


def is_long_terminating(pod: dict, now: float) -> bool:
    """drain.IsPodLongTerminating: deleted longer ago than its grace period plus 30 s.
    Times are seconds on the twin's clock (metadata.deletionTimestamp as a number)."""
    deleted = _meta(pod).get("deletionTimestamp")
    if deleted is None:
        return False
    grace = _spec(pod).get("terminationGracePeriodSeconds")
    grace = DEFAULT_GRACE_PERIOD if grace is None else grace
    return float(deleted) + grace + LONG_TERMINATING_EXTRA < now


def has_blocking_local_storage(pod: dict) -> bool:
    """drain.HasBlockingLocalStorage: a hostPath, or an emptyDir not in memory, that the
    safe-to-evict-local-volumes annotation does not list."""
    listed = {v for v in (_annotations(pod).get(SAFE_TO_EVICT_LOCAL_VOLUMES) or "").split(",")
              if v}
    for volume in _spec(pod).get("volumes") or []:
        empty_dir = volume.get("emptyDir")
        local = "hostPath" in volume or (empty_dir is not None and
                                         (empty_dir or {}).get("medium") != "Memory")
        if local and volume.get("name") not in listed:
            return True
    return False


@dataclass(frozen=True)
class Pdb:
    """A PodDisruptionBudget as the drain rules read it."""
    namespace: str
    selector: dict                    # matchLabels
    disruptions_allowed: int

    def matches(self, pod: dict) -> bool:
        labels = _meta(pod).get("labels") or {}
        return (_meta(pod).get("namespace") == self.namespace and bool(self.selector) and
                all(labels.get(k) == v for k, v in self.selector.items()))


@dataclass
class Drainability:
    outcome: str
    reason: str = ""


def drainable(pod: dict, options: Options, now: float,
              pdbs: Iterable[Pdb] = ()) -> Drainability:
    """rules.Default(deleteOptions).Drainable: the first rule with an outcome decides."""
    pdbs = list(pdbs)
    annotations = _annotations(pod)
    if is_mirror_pod(pod):
        return Drainability(SKIP)
    if is_long_terminating(pod, now):
        return Drainability(SKIP)
    if is_daemonset_pod(pod):
        return Drainability(DRAIN_OK)
    if annotations.get(SAFE_TO_EVICT) == "true":
        return Drainability(DRAIN_OK)
    if is_pod_terminal(pod):
        return Drainability(DRAIN_OK)
    if annotations.get(SAFE_TO_EVICT) == "on-completion":
        return Drainability(WAIT)
    ref = controller_ref(pod)
    if ref is None or ref.get("kind") not in REPLICATED_KINDS:
        return Drainability(BLOCK, NOT_REPLICATED)
    matching = [p for p in pdbs if p.matches(pod)]
    if options.skip_nodes_with_system_pods and _meta(pod).get("namespace") == "kube-system" \
            and not matching:
        created = _meta(pod).get("creationTimestamp")
        if not (created is not None and now > float(created) + options.bsp_disruption_timeout):
            return Drainability(BLOCK, UNMOVABLE_KUBE_SYSTEM)
        return Drainability(DRAIN_OK)
    if annotations.get(SAFE_TO_EVICT) == "false":
        return Drainability(BLOCK, NOT_SAFE_TO_EVICT)
    if options.skip_nodes_with_local_storage and has_blocking_local_storage(pod):
        return Drainability(BLOCK, LOCAL_STORAGE)
    if any(p.disruptions_allowed < 1 for p in matching):
        return Drainability(BLOCK, NOT_ENOUGH_PDB)
    return Drainability(UNDEFINED)


@dataclass
class PodMoveInfo:
    pods: list[dict] = field(default_factory=list)
    daemonset_pods: list[dict] = field(default_factory=list)
    on_completion_pods: list[dict] = field(default_factory=list)
    blocking: Optional[tuple[dict, str]] = None      # (pod, reason)


def pods_to_move(pods: Iterable[dict], options: Options, now: float,
                 pdbs: Iterable[Pdb] = ()) -> PodMoveInfo:
    """simulator.GetPodsToMove for the pods of one node."""
    info = PodMoveInfo()
    for pod in pods:
        status = drainable(pod, options, now, pdbs)
        if status.outcome in (UNDEFINED, DRAIN_OK):
            (info.daemonset_pods if is_daemonset_pod(pod) else info.pods).append(pod)
        elif status.outcome == WAIT:
            info.on_completion_pods.append(pod)
        elif status.outcome == BLOCK:
            info.blocking = (pod, status.reason)
            return info
    return info


def counted(pods: Iterable[dict]) -> list[dict]:
    """AllPodLister: every pod but the Succeeded and Failed ones."""
    return [p for p in pods if phase(p) not in ("Succeeded", "Failed")]


# -- nodes -----------------------------------------------------------------------------------

def _allocatable(node: dict, resource: str) -> Optional[Decimal]:
    from model.quantity import parse_quantity
    raw = ((node.get("status") or {}).get("allocatable") or {}).get(resource)
    return None if raw is None else Decimal(parse_quantity(raw))


def has_gpu(node: dict, gpu_labels: tuple[str, ...] = (GKE_GPU_LABEL,)) -> bool:
    """The cloud provider's GetNodeGpuConfig: the GPU label, or GPUs allocatable."""
    labels = _meta(node).get("labels") or {}
    gpus = _allocatable(node, GPU_RESOURCE)
    return any(label in labels for label in gpu_labels) or bool(gpus)


def gpu_unready(node: dict, gpu_labels: tuple[str, ...] = (GKE_GPU_LABEL,)) -> bool:
    """FilterOutNodesWithUnreadyResources: a GPU label but no nvidia.com/gpu allocatable;
    the autoscaler takes such a node as not ready."""
    labels = _meta(node).get("labels") or {}
    return any(label in labels for label in gpu_labels) and not _allocatable(node, GPU_RESOURCE)


def ready(node: dict, gpu_labels: tuple[str, ...] = (GKE_GPU_LABEL,)) -> bool:
    conditions = (node.get("status") or {}).get("conditions")
    if conditions is not None:
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return False
    return not gpu_unready(node, gpu_labels)


class UtilizationError(ValueError):
    pass


def resource_utilization(node: dict, pods: Iterable[dict], resource: str,
                         options: Options, now: float) -> float:
    """CalculateUtilizationOfResource."""
    allocatable = _allocatable(node, resource)
    if allocatable is None:
        raise UtilizationError(f"failed to get {resource} from {_meta(node).get('name')}")
    if allocatable == 0:
        raise UtilizationError(f"{resource} is 0 at {_meta(node).get('name')}")
    requested = Decimal(0)
    ignored = Decimal(0)
    for pod in pods:
        value = Decimal(pod_requests(_spec(pod), api_defaulting=False).get(resource, 0))
        if options.ignore_daemonsets_utilization and is_daemonset_pod(pod):
            ignored += value
            continue
        if options.ignore_mirror_pods_utilization and is_mirror_pod(pod):
            ignored += value
            continue
        if is_long_terminating(pod, now):
            continue
        requested += value
    return float(requested / (allocatable - ignored))


def utilization(node: dict, pods: Iterable[dict], options: Options, now: float,
                gpu_labels: tuple[str, ...] = (GKE_GPU_LABEL,)) -> tuple[float, str]:
    """utilization.Calculate: (utilization, the resource it comes from)."""
    pods = list(pods)
    if has_gpu(node, gpu_labels):
        try:
            return resource_utilization(node, pods, GPU_RESOURCE, options, now), GPU_RESOURCE
        except UtilizationError:
            return 0.0, GPU_RESOURCE          # unready GPU: 0, so the node can go
    cpu = resource_utilization(node, pods, "cpu", options, now)
    memory = resource_utilization(node, pods, "memory", options, now)
    return (cpu, "cpu") if cpu > memory else (memory, "memory")


def underutilized(node: dict, pods: Iterable[dict], options: Options, now: float,
                  gpu_labels: tuple[str, ...] = (GKE_GPU_LABEL,)) -> bool:
    """isNodeAtOrBelowUtilizationThreshold."""
    value, _ = utilization(node, pods, options, now, gpu_labels)
    threshold = options.gpu_utilization_threshold if has_gpu(node, gpu_labels) \
        else options.utilization_threshold
    return value <= threshold


# -- the planner -----------------------------------------------------------------------------

def unremovable_reason(node: dict, pods: list[dict], options: Options, now: float,
                       gpu_labels: tuple[str, ...] = (GKE_GPU_LABEL,)) -> Optional[str]:
    """eligibility.Checker.unremovableReasonAndNodeUtilization: why the node is not even a
    candidate (its pods: those AllPodLister lists on it), or None."""
    if _annotations(node).get(SCALE_DOWN_DISABLED) == "true":
        return SCALE_DOWN_DISABLED_REASON
    try:
        utilization(node, pods, options, now, gpu_labels)
    except UtilizationError:
        return "UnexpectedError"
    if not options.scale_down_unready_enabled and not ready(node, gpu_labels):
        return "ScaleDownUnreadyDisabled"
    if not underutilized(node, pods, options, now, gpu_labels):
        return NOT_UNDERUTILIZED
    return None


@dataclass
class NodeToRemove:
    name: str
    pods_to_reschedule: list[dict]           # where the simulation put them: (pod, node)
    destinations: list[tuple[dict, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.pods_to_reschedule


Fits = Callable[[dict, str, list[tuple[dict, str]]], bool]


def find_unneeded(nodes: list[dict], pods: list[dict], candidates: list[str],
                  options: Options, now: float, fits: Fits,
                  gpu_labels: tuple[str, ...] = (GKE_GPU_LABEL,),
                  pdbs: Iterable[Pdb] = ()) -> tuple[list[NodeToRemove], dict[str, str]]:
    """The scale-down planner's pass over the candidates (eligibility, then the removal
    simulation, with the pods of every node already found removable moved in the snapshot):
    the unneeded nodes and, for the others, why not. `pods` carry spec.nodeName and
    status.phase; `fits(pod, node_name, placed)` is the scheduler's filters."""
    pdbs = list(pdbs)
    by_name = {_meta(n)["name"]: n for n in nodes}
    placed = [(p, _spec(p)["nodeName"]) for p in counted(pods) if _spec(p).get("nodeName")]
    removed: set[str] = set()
    unneeded: list[NodeToRemove] = []
    why: dict[str, str] = {}
    for name in candidates:
        node = by_name[name]
        on_node = [p for p, n in placed if n == name]
        reason = unremovable_reason(node, on_node, options, now, gpu_labels)
        if reason:
            why[name] = reason
            continue
        move = pods_to_move(on_node, options, now, pdbs)
        if move.blocking is not None:
            why[name] = BLOCKED_BY_POD
            continue
        rest = [(p, n) for p, n in placed if n != name]
        destinations: list[tuple[dict, str]] = []
        for pod in move.pods:
            target = next((_meta(d)["name"] for d in nodes if _meta(d)["name"] != name
                           and _meta(d)["name"] not in removed
                           and fits(pod, _meta(d)["name"], rest)), None)
            if target is None:
                break
            rest.append((pod, target))
            destinations.append((pod, target))
        else:
            removed.add(name)
            placed = rest
            unneeded.append(NodeToRemove(name, move.pods, destinations))
            continue
        why[name] = NO_PLACE
    return unneeded, why


@dataclass
class Unneeded:
    """core/scaledown/unneeded/nodes.go: since when each node has been unneeded."""
    since: dict[str, float] = field(default_factory=dict)

    def update(self, names: Iterable[str], now: float) -> None:
        self.since = {name: self.since.get(name, now) for name in names}


def removable_at(unneeded: list[NodeToRemove], since: dict[str, float],
                 threshold: Callable[[str], float], group_of: Callable[[str], Optional[str]],
                 sizes: dict[str, int], min_sizes: dict[str, int], now: float,
                 deletions_in_progress: Optional[dict[str, int]] = None
                 ) -> tuple[list[NodeToRemove], list[NodeToRemove], dict[str, str]]:
    """Nodes.RemovableAt: the empty and the to-drain nodes that may go at `now`, empty ones
    first, each one taking one off its group's size for the next (verifyMinSize)."""
    sizes = dict(sizes)
    deletions_in_progress = deletions_in_progress or {}
    empty, drain, why = [], [], {}
    for node in sorted(unneeded, key=lambda n: (not n.empty, n.name)):
        limit = threshold(node.name)
        if limit > 0 and not since[node.name] + limit < now:
            why[node.name] = NOT_UNNEEDED_LONG_ENOUGH
            continue
        group = group_of(node.name)
        if group is None:
            why[node.name] = "NotAutoscaled"
            continue
        if sizes[group] - deletions_in_progress.get(group, 0) <= min_sizes[group]:
            why[node.name] = MIN_SIZE_REACHED
            continue
        sizes[group] -= 1
        (empty if node.empty else drain).append(node)
    return empty, drain, why
