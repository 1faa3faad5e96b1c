"""The twin: what `kubectl get pods -A` would show once the cluster settles, computed from
the rendered objects and the nodes of the stack's pools.

In the order the cluster does it:
1. controllers create pods from their templates, one at a time (a ReplicaSet its
   replicas, a Job its parallelism), and every create goes through admission: the API
   server's defaulting and LimitRanger (kube/limitrange.py), Priority (priorityClassName
   to a priority), PodSecurity (the namespace's enforce level, kube/pod_security.py), then
   ResourceQuota (kube/resourcequota.py). A refused create is a FailedCreate event on the
   controller, and no pod (a bare pod's create fails: `Twin.create`);
2. the scheduler binds pods in priority order (kube/scheduler.py); a pod that fits no
   node stays Pending with the scheduler's FailedScheduling message;
3. the kubelet pulls, starts and runs the containers (kube/kubelet.py);
4. the controllers react: a Job whose pods fail with restartPolicy Never creates new
   ones until its backoffLimit, keeping the failed pods (a new pod is created after the Job
   controller's back-off, so once every first pod is bound); with OnFailure the kubelet
   restarts in place;
5. time passes (kube/timeline.py): the kubelet's restarts, a Job with OnFailure deleting
   its pods once their restarts reach its backoffLimit, the cluster autoscaler's scale-down
   (kube/autoscaler.py) and PodGC (kube/podgc.py). `simulate` shows the cluster settled
   (timeline.SETTLED after the pods were created) unless asked for another time.

Only the tenants' workloads are simulated, and the GPU Operator's validator on each GPU node
(kube/operator_validator.py): the add-ons' other pods come from Helm charts that are not
rendered offline.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional

from kube import limitrange, pod_security, resourcequota
from kube.kubelet import NodeNetwork, PodResult, run_pod
from kube.netpol import Endpoint, egress_allowed
from kube.nodes import nodes_from_spec, pool_network
from kube.objects import ObjectSet
from kube.scheduler import schedule
from model.spec import POOL_LABEL, LabSpec

TERMINAL = ("Succeeded", "Failed")


@dataclass
class PodView:
    """One line of `kubectl get pods -A -o wide`, with what describe and events add."""
    namespace: str
    pod: Optional[str]                   # None: the controller could not create it
    owner: str                           # Deployment/<name> or Job/<name>
    status: str
    node: Optional[str] = None
    reason: str = ""
    message: str = ""
    events: list[str] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    restarts: int = 0
    phase: str = ""
    stored: Optional[dict] = field(default=None, repr=False, compare=False)  # the Pod

    def to_json(self) -> dict:
        return {"namespace": self.namespace, "pod": self.pod, "owner": self.owner,
                "status": self.status, "node": self.node, "reason": self.reason,
                "message": self.message, "events": self.events}


def _suffix(*parts: object, length: int = 5) -> str:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"     # the characters Kubernetes' names use
    return "".join(alphabet[int(digest[i:i + 2], 16) % len(alphabet)]
                   for i in range(0, length * 2, 2))


@dataclass
class _Controller:
    obj: dict
    kind: str
    name: str
    namespace: str
    template: dict
    count: int
    backoff_limit: int = 6

    @property
    def owner(self) -> str:
        return f"{self.kind}/{self.name}"

    def pod_name(self, index: int) -> str:
        if self.kind == "Deployment":
            return f"{self.name}-{_suffix(self.namespace, self.name, 'rs', length=10)}-" \
                   f"{_suffix(self.namespace, self.name, index)}"
        return f"{self.name}-{_suffix(self.namespace, self.name, index)}"

    def new_pod(self, index: int) -> dict:
        template = copy.deepcopy(self.template)
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {**(template.get("metadata") or {}), "name": self.pod_name(index),
                             "namespace": self.namespace},
                "spec": template.get("spec") or {}}


def _controllers(objects: ObjectSet) -> list[_Controller]:
    found = []
    for obj in objects.objects:
        kind = obj.get("kind")
        if kind not in ("Deployment", "Job"):
            continue
        spec = obj.get("spec") or {}
        meta = obj["metadata"]
        count = int(spec.get("replicas", 1)) if kind == "Deployment" \
            else int(spec.get("parallelism", 1))
        found.append(_Controller(obj, kind, meta["name"], meta.get("namespace", "default"),
                                 spec.get("template") or {}, count,
                                 int(spec.get("backoffLimit", 6))))
    return found


class Twin:
    def __init__(self, spec: LabSpec, objects: ObjectSet, nodes: Optional[list[dict]] = None):
        self.spec, self.objects = spec, objects
        self.nodes = nodes if nodes is not None else nodes_from_spec(spec, objects)
        self.priorities = {pc["metadata"]["name"]: int(pc.get("value", 0))
                           for pc in objects.of_kind("PriorityClass")}
        self.used: dict[tuple[str, str], dict[str, Decimal]] = {}   # (ns, quota) -> usage
        self.views: list[PodView] = []
        self.placed: list[tuple[dict, str]] = []          # pods holding a node, with it
        self.order: dict[str, int] = {}                   # owner + namespace -> rank
        self._retries: list[_Controller] = []

    # -- admission ---------------------------------------------------------------------

    def admit(self, pod: dict) -> tuple[Optional[dict], str]:
        """The pod as stored, or None and the API server's refusal."""
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        pod, errors = limitrange.admit_pod(pod, self.objects.of_kind("LimitRange", namespace))
        if errors:
            return None, limitrange.forbidden_message(name, errors)
        class_name = pod["spec"].get("priorityClassName")
        if class_name:
            if class_name not in self.priorities:
                return None, (f'pods "{name}" is forbidden: no PriorityClass with name '
                              f"{class_name} was found")
            pod["spec"]["priority"] = self.priorities[class_name]
        refusal = pod_security.admission_error(pod, self.objects.namespace_labels(namespace))
        if refusal:
            return None, f'pods "{name}" is forbidden: {refusal}'
        quotas = self.objects.of_kind("ResourceQuota", namespace)
        used = {q["metadata"]["name"]: self.used.setdefault(
            (namespace, q["metadata"]["name"]), {}) for q in quotas}
        admitted, message = resourcequota.admit(pod, quotas, used)
        if not admitted:
            return None, f'pods "{name}" is forbidden: {message}'
        return pod, ""

    def create(self, pod: dict) -> tuple[Optional[dict], str]:
        """A bare pod's create (`kubectl run`, `kubectl create -f`): the pod as stored and
        what kubectl prints, or None and the API server's refusal as kubectl prints it (every
        admission refusal here is a 403: `Error from server (Forbidden): ...`)."""
        stored, refusal = self.admit(pod)
        if stored is None:
            return None, f"Error from server (Forbidden): {refusal}"
        return stored, f"pod/{stored['metadata']['name']} created"

    def release(self, pod: dict, deleted: bool = False) -> None:
        """A pod that ended gives its quota back; a terminal pod that still exists keeps
        charging count/pods (the pod evaluator's usage of a terminal pod)."""
        namespace = pod["metadata"]["namespace"]
        ended = {**pod, "status": {"phase": "Failed"}}
        for quota in self.objects.of_kind("ResourceQuota", namespace):
            usage = self.used.setdefault((namespace, quota["metadata"]["name"]), {})
            if resourcequota.quota_matches(quota, pod):
                still = {} if deleted else resourcequota.pod_usage(ended)
                for key, amount in resourcequota.pod_usage(pod).items():
                    if key in usage:
                        usage[key] -= amount - still.get(key, 0)

    # -- the whole cluster ------------------------------------------------------------

    def network(self, node: dict) -> NodeNetwork:
        pool_name = node["metadata"]["labels"].get(POOL_LABEL)
        for pool in self.spec.gpu_pools:
            if pool.name == pool_name:
                return pool_network(pool, self.objects)
        return NodeNetwork()

    def pod_internet(self, pod: dict) -> bool:
        return bool(egress_allowed(self.objects, pod["metadata"]["namespace"],
                                   Endpoint.internet(),
                                   pod["metadata"].get("labels") or {}))

    def run(self) -> list[PodView]:
        controllers = _controllers(self.objects)
        created: list[tuple[_Controller, dict]] = []
        for controller in controllers:
            created += self._create(controller, range(controller.count))
        placed = self.placed
        by_priority = sorted(created, key=lambda c: -c[1]["spec"].get("priority", 0))
        for controller, pod in by_priority:
            self._bind_and_run(controller, pod, placed)
        # A Job replaces a failed pod after its back-off (10 s and more): by then the
        # scheduler has bound every first pod.
        while self._retries:
            self._retry_job(self._retries.pop(0), placed)
        self.order = {c.owner + c.namespace: i for i, c in enumerate(controllers)}
        return self.sorted(self.views)

    def sorted(self, views: list[PodView]) -> list[PodView]:
        return sorted(views, key=lambda v: (v.namespace, self.order.get(
            v.owner + v.namespace, len(self.order)), v.owner, v.pod or ""))

    def _create(self, controller: _Controller, indexes) -> list[tuple[_Controller, dict]]:
        created = []
        for index in indexes:
            pod, refusal = self.admit(controller.new_pod(index))
            if pod is None:
                kind = "ReplicaSet" if controller.kind == "Deployment" else "Job"
                self.views.append(PodView(
                    controller.namespace, None, controller.owner, "FailedCreate",
                    reason="FailedCreate", message=f"Error creating: {refusal}",
                    events=[f"Warning FailedCreate {kind.lower()}-controller Error creating: "
                            f"{refusal}"]))
                continue
            created.append((controller, pod))
        return created

    def _bind_and_run(self, controller: _Controller, pod: dict,
                      placed: list[tuple[dict, str]]) -> None:
        placement = schedule(pod, self.nodes, placed,
                             namespace_labels=self.objects.namespace_labels)
        meta = pod["metadata"]
        if placement.node is None:
            self.views.append(PodView(
                meta["namespace"], meta["name"], controller.owner, "Pending",
                reason="Unschedulable", message=placement.message,
                events=[f"Warning FailedScheduling default-scheduler {placement.message}"],
                phase="Pending", stored=pod))
            return
        node = next(n for n in self.nodes if n["metadata"]["name"] == placement.node)
        placed.append((pod, placement.node))
        result = run_pod(pod, node, self.network(node), self.pod_internet)
        # restartPolicy OnFailure: the kubelet restarts in place (CrashLoopBackOff) and the
        # restarts count against the Job's backoffLimit: kube/timeline.py deletes the pods
        # once they reach it.
        self._record(controller, pod, placement.node, result)
        if result.phase in TERMINAL:
            placed.remove((pod, placement.node))
            self.release(pod)
        if result.phase == "Failed" and controller.kind == "Job":
            self._retries.append(controller)

    def _record(self, controller: _Controller, pod: dict, node: str,
                result: PodResult) -> None:
        meta = pod["metadata"]
        self.views.append(PodView(meta["namespace"], meta["name"], controller.owner,
                                  result.status, node, result.reason, result.message,
                                  result.events, result.logs, result.restarts, result.phase,
                                  stored=pod))

    def _retry_job(self, controller: _Controller, placed: list[tuple[dict, str]]) -> None:
        """restartPolicy Never: the Job makes a new pod for each failure until more pods
        have failed than its backoffLimit allows; the failed pods stay."""
        failures = sum(1 for v in self.views if v.owner == controller.owner
                       and v.namespace == controller.namespace and v.phase == "Failed")
        if failures > controller.backoff_limit:
            exceeded = ("Warning BackoffLimitExceeded job-controller Job has reached the "
                        "specified backoff limit")
            for view in self.views:
                if view.owner == controller.owner and view.namespace == controller.namespace \
                        and exceeded not in view.events:
                    view.events.append(exceeded)
            return
        index = controller.count + failures - 1
        for _, pod in self._create(controller, [index]):
            self._bind_and_run(controller, pod, placed)


def simulate(spec: LabSpec, objects: ObjectSet, nodes: Optional[list[dict]] = None,
             after: Optional[float] = None, operator_pods: bool = False) -> list[PodView]:
    """What `kubectl get pods -A` shows `after` seconds after the pods were created
    (default: once the cluster settles, kube/timeline.py SETTLED). operator_pods: the GPU
    Operator's validator pods too (`lab simulate` shows them; lab/snapshot.py makes Pods
    from the tenants' Deployment and Job templates only)."""
    return simulate_cluster(spec, objects, nodes, after, operator_pods)[0]


def simulate_cluster(spec: LabSpec, objects: ObjectSet, nodes: Optional[list[dict]] = None,
                     after: Optional[float] = None, operator_pods: bool = False
                     ) -> tuple[list[PodView], list[dict]]:
    """As simulate, with the nodes there at that time (the autoscaler removes empty ones)."""
    from kube.timeline import SETTLED, Timeline
    twin = Twin(spec, objects, nodes)
    timeline = Timeline(twin, twin.run())
    views = timeline.at(SETTLED if after is None else after, operator_pods)
    return views, list(timeline.nodes)
