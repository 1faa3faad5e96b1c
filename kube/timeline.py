"""The twin over time: what `kubectl get pods -A` shows a while after the pods were
created, once the kubelet, the Job controller, the cluster autoscaler and PodGC have acted
on what the twin settled (kube/twin.py).

The clock starts when the pods are created (`pulumi up`); pods fail at once or run (the
twin's programs take no time to fail), so:
- a crashing container's RESTARTS follow the kubelet's back-off (kube/kubelet.py,
  restarts_by: 0, 10, 30, 70, 150, 310 s, then every 5 minutes);
- a Job whose pods restart in place (restartPolicy OnFailure) fails once their restarts
  add up to its backoffLimit (pkg/controller/job/job_controller.go,
  pastBackoffLimitOnFailure: the restart counts of its running and pending pods' init and
  regular containers, >= backoffLimit, > 0 for a backoffLimit of 0) and deletes them, logs
  and all;
- the cluster autoscaler (kube/autoscaler.py, GKE's balanced profile) removes GPU nodes
  unneeded for long enough, down to each pool's minimum, evicting what it moves (the
  controllers recreate those pods, the scheduler binds them); the system pool's nodes
  stay (its kube-system pods, which have no PodDisruptionBudget, block their removal);
  nothing is added after the start (the twin starts every pool at the size its pending
  pods push it to, kube/nodes.py);
- PodGC (kube/podgc.py) deletes the pods bound to a removed node once its quarantine is
  over, Failed and Completed pods included, and terminated pods beyond its threshold;
- a pod that could not be placed is tried again whenever a pod is deleted.
On platform existing the nodes are the cluster's: nothing removes them.

`simulate` (kube/twin.py) shows the cluster at SETTLED unless asked for another time.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Optional

from kube import autoscaler, operator_validator, podgc, resourcequota
from kube.autoscaler import GKE_BALANCED, GKE_GPU_LABEL, Options
from kube.kubelet import restart_time, restarts_by, run_pod
from kube.scheduler import run_filters, schedule
from kube.scheduler_framework import Cluster
from model.spec import ACCELERATOR_LABEL, POOL_LABEL

SETTLED = 300            # seconds: every first pod bound, pulled, run and failed at least once
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)([smhd]))+")
CRASHING = ("CrashLoopBackOff", "Init:CrashLoopBackOff")
TERMINAL = ("Succeeded", "Failed")
GPU_LABELS = (ACCELERATOR_LABEL, GKE_GPU_LABEL)
EXCEEDED = "Warning BackoffLimitExceeded job-controller Job has reached the specified backoff limit"


def past_backoff_limit_on_failure(restart_counts: list[int], backoff_limit: int) -> bool:
    """pastBackoffLimitOnFailure (pkg/controller/job/job_controller.go): the restart counts
    of the Job's running and pending pods (init and regular containers) add up to its
    backoffLimit; with a backoffLimit of 0, any restart."""
    total = sum(restart_counts)
    return total > 0 if backoff_limit == 0 else total >= backoff_limit


def parse_duration(text: str) -> float:
    """Seconds in a duration such as 30m, 2h, 1h30m, 90s or 1d (Prometheus' units)."""
    spoken = text.strip()
    if not DURATION.fullmatch(spoken):
        raise ValueError(f"{text!r}: give a duration such as 30m, 2h, 1h30m or 90s "
                         "(units s, m, h, d)")
    return sum(float(amount) * UNITS[unit]
               for amount, unit in re.findall(r"(\d+(?:\.\d+)?)([smhd])", spoken))


def spoken(seconds: float) -> str:
    """A duration as parse_duration reads it: 1800 -> 30m, 5400 -> 1h30m."""
    whole = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size or (unit == "s" and not parts):
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts)


@dataclass
class Tracked:
    """One pod the twin shows (or a controller's refused create, pod None)."""
    view: object                         # PodView
    pod: Optional[dict]
    start: float = 0.0                   # when its containers first ran
    alive: bool = True

    @property
    def node(self) -> Optional[str]:
        return self.view.node

    @property
    def holds_node(self) -> bool:
        return self.alive and self.pod is not None and bool(self.view.node) and \
            self.view.phase not in TERMINAL


def _tick(at: float, step: float) -> float:
    """The first multiple of `step` at or after `at`."""
    return math.ceil(round(at / step, 9)) * step


@dataclass
class Timeline:
    twin: object                                    # kube.twin.Twin, after run()
    views: list
    options: Options = GKE_BALANCED
    gc_threshold: int = podgc.GKE_THRESHOLD
    now: float = 0.0
    tracked: list[Tracked] = field(default_factory=list)
    nodes: list[dict] = field(default_factory=list)
    node_up: dict[str, float] = field(default_factory=dict)
    node_deleted: dict[str, float] = field(default_factory=dict)
    removed_views: list = field(default_factory=list)
    unneeded: autoscaler.Unneeded = field(default_factory=autoscaler.Unneeded)
    found: list = field(default_factory=list)      # the last pass's NodeToRemove
    evaluated_at: Optional[float] = None
    dirty: bool = True
    _recreated: int = 0

    def __post_init__(self) -> None:
        self.gc = podgc.PodGC(self.gc_threshold)
        self.tracked = [Tracked(v, v.stored) for v in self.views]
        self.nodes = list(self.twin.nodes)
        self.node_up = {n["metadata"]["name"]: 0.0 for n in self.nodes}
        self.pools = {p.name: p for p in self.twin.spec.gpu_pools}

    # -- the clock -------------------------------------------------------------------------

    def at(self, after: float, operator_pods: bool = True) -> list:
        """The pods `after` seconds after they were created (operator_pods: with the GPU
        Operator's validator pods)."""
        if after < 0:
            raise ValueError(f"after {after}: the clock starts when the pods are created")
        scaling = self._scaling(after)
        while True:
            due = self._next_event(scaling)
            if due is None or due > after:
                break
            self.now = due
            self._step(due, scaling)
        return self._views(after, operator_pods)

    def _scaling(self, after: float) -> bool:
        """Does the autoscaler act here? Not on platform existing: its nodes are the
        cluster's."""
        return self.twin.spec.platform == "gke"

    def _next_event(self, scaling: bool) -> Optional[float]:
        times = [t for t in (self._next_job_failure(), self._next_gc(),
                             self._next_scan(scaling) if scaling else None)
                 if t is not None and t >= self.now]
        return min(times) if times else None

    def _step(self, now: float, scaling: bool) -> None:
        """Everything due at `now`; what it brings about at the same instant waits for the
        controller's next pass."""
        self._fail_jobs(now)
        if now % podgc.GC_PERIOD == 0:
            self._gc(now)
        if scaling and now % self.options.scan_interval == 0:
            self._scan(now)
        self.now = now + 1e-6

    # -- Jobs with restartPolicy OnFailure -------------------------------------------------

    def _job_pods(self) -> dict[tuple[str, str], list[Tracked]]:
        jobs: dict[tuple[str, str], list[Tracked]] = {}
        for t in self.tracked:
            if t.alive and t.pod is not None and t.view.owner.startswith("Job/") and \
                    t.view.phase in ("Running", "Pending") and \
                    t.pod["spec"].get("restartPolicy") == "OnFailure":
                jobs.setdefault((t.view.namespace, t.view.owner.split("/", 1)[1]), []).append(t)
        return jobs

    def _backoff_limit(self, namespace: str, name: str) -> int:
        job = self.twin.objects.get("Job", name, namespace) or {}
        return int((job.get("spec") or {}).get("backoffLimit", 6))

    def _failure_time(self, namespace: str, name: str, pods: list[Tracked]) -> Optional[float]:
        """When the restarts of the Job's crashing pods first pass its backoffLimit."""
        limit = self._backoff_limit(namespace, name)
        crashing = [t for t in pods if t.view.status in CRASHING]
        if not crashing:
            return None
        enough = max(1, limit)            # no more restarts than this can be needed
        times = sorted(t.start + restart_time(n) for t in crashing
                       for n in range(1, enough + 1))
        for count, at in enumerate(times, start=1):
            if past_backoff_limit_on_failure([count], limit):
                return at
        return None

    def _next_job_failure(self) -> Optional[float]:
        due = [self._failure_time(ns, name, pods) for (ns, name), pods in
               self._job_pods().items()]
        due = [t for t in due if t is not None]
        return max(min(due), self.now) if due else None

    def _fail_jobs(self, now: float) -> None:
        for (namespace, name), pods in self._job_pods().items():
            due = self._failure_time(namespace, name, pods)
            if due is None or due > now:
                continue
            for t in pods:
                self._delete(t)
                meta = t.pod["metadata"]
                self.removed_views.append(type(t.view)(
                    namespace, None, t.view.owner, "BackoffLimitExceeded",
                    reason="BackoffLimitExceeded",
                    message=f"Job has reached the specified backoff limit; pod {meta['name']} "
                            f"was deleted ({t.view.message})",
                    events=[EXCEEDED]))
            self._place_pending(now)

    # -- PodGC -----------------------------------------------------------------------------

    def _gc_pods(self) -> list[tuple[Tracked, podgc.GcPod]]:
        pairs = []
        for t in self.tracked:
            if t.alive and t.pod is not None:
                pairs.append((t, podgc.GcPod(t.pod["metadata"]["name"], t.view.phase or
                                             "Pending", t.view.node or "", t.start)))
        return pairs

    def _next_gc(self) -> Optional[float]:
        """PodGC's next pass that has work: one that queues a removed node, or the first
        once its quarantine is over."""
        pairs = self._gc_pods()
        orphaned = {t.view.node for t, _ in pairs if t.view.node in self.node_deleted}
        due = [_tick(max(self.gc.queue.get(node, self.now), self.now), podgc.GC_PERIOD)
               for node in orphaned]
        terminated = sum(podgc.terminated(g) for _, g in pairs)
        if self.gc_threshold > 0 and terminated > self.gc_threshold:
            due.append(_tick(self.now, podgc.GC_PERIOD))
        return min(due) if due else None

    def _gc(self, now: float) -> None:
        pairs = self._gc_pods()
        names = {n["metadata"]["name"] for n in self.nodes}
        gone = self.gc.gc(now, [g for _, g in pairs], names, lambda name: name in names)
        doomed = {id(g) for g in gone}
        freed = False
        for t, g in pairs:
            if id(g) in doomed:
                freed = freed or t.holds_node
                self._delete(t)
        if freed:
            self._place_pending(now)

    # -- the cluster autoscaler --------------------------------------------------------------

    def _candidates(self) -> list[str]:
        return [n["metadata"]["name"] for n in self.nodes
                if (n["metadata"].get("labels") or {}).get(POOL_LABEL) in self.pools]

    def _ca_pods(self) -> list[dict]:
        pods = []
        for t in self.tracked:
            if not (t.alive and t.pod is not None and t.view.node):
                continue
            pod = copy.copy(t.pod)
            kind = t.view.owner.split("/", 1)[0]
            owner = {"Deployment": "ReplicaSet"}.get(kind, kind)
            pod["metadata"] = {**t.pod["metadata"], "ownerReferences": [
                {"kind": owner, "name": t.view.owner.split("/", 1)[1], "controller": True}]}
            pod["spec"] = {**t.pod["spec"], "nodeName": t.view.node}
            pod["status"] = {"phase": t.view.phase or "Pending"}
            pods.append(pod)
        return pods

    def _fits(self, pod: dict, node_name: str, placed: list[tuple[dict, str]]) -> bool:
        cluster = Cluster.of(self.nodes, placed, self.twin.objects.namespace_labels)
        moving = {**pod, "spec": {k: v for k, v in pod["spec"].items() if k != "nodeName"}}
        return run_filters(moving, cluster.get(node_name)) is None

    def _threshold(self, name: str) -> float:
        node = next(n for n in self.nodes if n["metadata"]["name"] == name)
        return self.options.unneeded_time if autoscaler.ready(node, GPU_LABELS) \
            else self.options.unready_time

    def _evaluate(self, now: float) -> None:
        self.found, _ = autoscaler.find_unneeded(
            self.nodes, self._ca_pods(), self._candidates(), self.options, now, self._fits,
            GPU_LABELS)
        self.unneeded.update([n.name for n in self.found], now)
        self.evaluated_at, self.dirty = now, False

    def _removal_time(self, name: str) -> float:
        step = self.options.scan_interval
        earliest = self.unneeded.since[name] + self._threshold(name)
        return max(_tick(earliest + step / 2, step), _tick(self.options.delay_after_add, step))

    def _next_scan(self, scaling: bool) -> Optional[float]:
        """The next scan that has work: the next one after a change, else the first at which
        an unneeded node may go."""
        if not scaling:
            return None
        step = self.options.scan_interval
        if self.dirty:
            return _tick(self.now, step)
        for due in sorted({max(self._removal_time(n.name), _tick(self.now, step))
                           for n in self.found}):
            if self._removable(due):
                return due
        return None

    def _removable(self, now: float) -> list[autoscaler.NodeToRemove]:
        """The nodes the autoscaler deletes at `now`: the empty ones and as many to drain as
        its drain parallelism allows, none before scale-down-delay-after-add."""
        if now < self.options.delay_after_add:
            return []
        group = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(POOL_LABEL)
                 for n in self.nodes}
        sizes: dict[str, int] = {}
        for name in self._candidates():
            sizes[group[name]] = sizes.get(group[name], 0) + 1
        empty, drain, _ = autoscaler.removable_at(
            self.found, self.unneeded.since, self._threshold, group.get, sizes,
            {name: pool.min_nodes for name, pool in self.pools.items()}, now)
        return empty + drain[:self.options.max_drain_parallelism]

    def _scan(self, now: float) -> None:
        if self.dirty or self.evaluated_at is None:
            self._evaluate(now)
        chosen = self._removable(now)
        if not chosen:
            return
        for node in chosen:
            self._remove_node(node, now)
        self.dirty = True
        self._place_pending(now)

    def _remove_node(self, node: autoscaler.NodeToRemove, now: float) -> None:
        """The node is tainted ToBeDeleted (nothing new lands there), drained (the evicted
        pods' controllers make new ones, which the scheduler binds elsewhere) and deleted."""
        self.nodes = [n for n in self.nodes if n["metadata"]["name"] != node.name]
        self.node_deleted[node.name] = now
        evicted = {p["metadata"]["name"] for p in node.pods_to_reschedule}
        for t in list(self.tracked):
            if t.alive and t.view.node == node.name and t.pod is not None and \
                    t.pod["metadata"]["name"] in evicted:
                self._delete(t)
                self._recreate(t, now)

    # -- pods ------------------------------------------------------------------------------

    def _delete(self, t: Tracked) -> None:
        if not t.alive:
            return
        t.alive = False
        self.dirty = True
        if t.pod is None:
            return
        if t.view.phase in TERMINAL:
            _forget_terminated(self.twin, t.pod)
        else:
            self.twin.release(t.pod, deleted=True)

    def _placed(self) -> list[tuple[dict, str]]:
        return [(t.pod, t.view.node) for t in self.tracked if t.holds_node]

    def _bind(self, t: Tracked, now: float) -> None:
        """Schedule and run a pod that has none (a recreated or a pending one)."""
        from kube.twin import PodView
        pod = t.pod
        placement = schedule(pod, self.nodes, self._placed(),
                             namespace_labels=self.twin.objects.namespace_labels)
        meta = pod["metadata"]
        if placement.node is None:
            t.view = PodView(meta["namespace"], meta["name"], t.view.owner, "Pending",
                             reason="Unschedulable", message=placement.message,
                             events=[f"Warning FailedScheduling default-scheduler "
                                     f"{placement.message}"], phase="Pending", stored=pod)
            return
        node = next(n for n in self.nodes if n["metadata"]["name"] == placement.node)
        result = run_pod(pod, node, self.twin.network(node), self.twin.pod_internet)
        t.view = PodView(meta["namespace"], meta["name"], t.view.owner, result.status,
                         placement.node, result.reason, result.message, result.events,
                         result.logs, result.restarts, result.phase, stored=pod)
        t.start = now
        self.dirty = True
        if result.phase in TERMINAL:
            self.twin.release(pod)

    def _recreate(self, gone: Tracked, now: float) -> None:
        """The controller replaces an evicted pod: a new pod through admission."""
        from kube.twin import PodView, _controllers
        owner = gone.view.owner
        controller = next((c for c in _controllers(self.twin.objects)
                           if c.owner == owner and c.namespace == gone.view.namespace), None)
        if controller is None:
            return
        self._recreated += 1
        pod, refusal = self.twin.admit(controller.new_pod(1000 + self._recreated))
        if pod is None:
            self.tracked.append(Tracked(PodView(
                controller.namespace, None, owner, "FailedCreate", reason="FailedCreate",
                message=f"Error creating: {refusal}"), None, now))
            return
        fresh = Tracked(PodView(controller.namespace, pod["metadata"]["name"], owner,
                                "Pending", phase="Pending", stored=pod), pod, now)
        self.tracked.append(fresh)
        self._bind(fresh, now)

    def _place_pending(self, now: float) -> None:
        waiting = [t for t in self.tracked if t.alive and t.pod is not None and
                   not t.view.node and t.view.status == "Pending"]
        for t in sorted(waiting, key=lambda t: -(t.pod["spec"].get("priority") or 0)):
            self._bind(t, now)

    # -- what kubectl shows ----------------------------------------------------------------

    def _views(self, at: float, operator_pods: bool = True) -> list:
        shown = []
        for t in self.tracked:
            if not t.alive:
                continue
            view = copy.copy(t.view)
            if view.status in CRASHING:
                view.restarts = restarts_by(at - t.start)
            shown.append(view)
        if operator_pods:
            elapsed = {name: at - up for name, up in self.node_up.items()}
            shown += operator_validator.views(self.twin.spec, self.twin.objects, self.nodes,
                                              elapsed)
        return self.twin.sorted(shown + self.removed_views)

    def node_names(self) -> list[str]:
        return [n["metadata"]["name"] for n in self.nodes]


def _forget_terminated(twin, pod: dict) -> None:
    """A terminated pod that is deleted stops charging what it still charged (count/pods)."""
    namespace = pod["metadata"]["namespace"]
    ended = {**pod, "status": {"phase": "Failed"}}
    for quota in twin.objects.of_kind("ResourceQuota", namespace):
        usage = twin.used.setdefault((namespace, quota["metadata"]["name"]), {})
        if resourcequota.quota_matches(quota, pod):
            for key, amount in resourcequota.pod_usage(ended).items():
                if key in usage:
                    usage[key] -= amount
