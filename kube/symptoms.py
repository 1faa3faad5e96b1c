"""The symptom checks: one question per thing a fault can break, answered over a cluster's
objects (rendered offline or read live), the nodes, what the pods do, and the stack's spec.

Each check is written from the candidate's side ("can tenant-a list tenant-b's pods?"),
not from the fault's: the baseline answers every one with "no symptom", and a fault
turns exactly its own check on. A check's findings name what they are about in the
faults' vocabulary of targets (`workload:<tenant>/<name>`, `pool:<pool>`, `quota:<tenant>`,
`egress:<tenant>`, `rbac:<tenant>`, `rbac-ci:<tenant>`, `dcgm`), so a verdict can be scoped
to one fault's targets and everything else a check finds is somebody else's business.

What the pods do comes from the twin offline (kube/twin.py) and from the pods, events and
logs of a cluster or of a snapshot of one (`Context.observed`); both become `PodRun`s, so
the same predicates judge both.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, Optional

from kube.answer import Answer
from kube.kubelet import option
from kube.netpol import Endpoint, egress_allowed
from kube.nodes import denied_tags
from kube.objects import ObjectSet, ref
from kube.pod_resources import pod_requests
from kube.prometheus_operator import looks_in
from kube.quota import make_pod, quota_admits
from kube.rbac import Subject, can_i
from kube.scheduling import pod_schedulable
from kube.selectors import selector_matches
from model.quantity import parse_quantity
from model.spec import ACCELERATOR_LABEL, GPU_RESOURCE, POOL_LABEL, LabSpec, WorkloadSpec

DCGM_APP = "nvidia-dcgm-exporter"
APP_LABEL = "app.kubernetes.io/name"
TERMINAL = ("Succeeded", "Failed")
FINE = ("Running", "Completed")
# Words of kubectl's STATUS column that mean a pod failed (Init:<reason> included).
FAILING = ("FailedCreate", "BackoffLimitExceeded", "Error", "CrashLoopBackOff", "ImagePull",
           "ErrImage", "InvalidImageName", "CreateContainer", "RunContainer", "OOMKilled",
           "ContainerCannotRun", "ExitCode")
# What a container prints instead of running: the kernel refusing a foreign binary;
# containerd finding no manifest for the node's platform in an image index; and, from
# containerd 2.2.2 pulling through its transfer service, the container that cannot be created
# because the platform-matched unpacker left no snapshot of a foreign single manifest
# (CreateContainerError, kube/kubelet.py).
WRONG_ARCHITECTURE = ("exec format error", "no match for platform", "parent snapshot")
OUT_OF_GPU_MEMORY = ("CUDA out of memory",)
# Where a container's log file is its stdout after all.
STDOUT_FILES = ("/dev/stdout", "/dev/stderr", "/proc/self/fd/1", "/proc/self/fd/2",
                "/proc/1/fd/1", "/proc/1/fd/2", "-")
# A node younger than this (Ready since) may still be registering its device plugin.
NODE_SETTLING = timedelta(minutes=5)
STARTING_TAINTS = ("node.kubernetes.io/not-ready", "node.cloudprovider.kubernetes.io/uninitialized",
                   "node.kubernetes.io/unreachable")

Authorizer = Callable[[Subject, str, str, str], Answer]   # subject, verb, resource, namespace


@dataclass
class PodRun:
    """What one pod does, from the twin or from a cluster: kubectl's STATUS and everything
    the pod said (messages, reasons, events, logs)."""
    namespace: str
    name: Optional[str]              # None: its controller could not create it
    workload: Optional[str]          # "<tenant>/<name>" of the stack's workload, if it is one
    status: str                      # kubectl's STATUS column
    phase: str = ""
    node: Optional[str] = None
    said: str = ""
    gpus: int = 0
    current: bool = True             # made from its controller's current pod template
    events: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """namespace/name of the pod; of a pod never created, its workload's (already
        namespace/name)."""
        if self.name:
            return f"{self.namespace}/{self.name}"
        return self.workload or f"{self.namespace}/?"

    @property
    def healthy(self) -> bool:
        return self.status in FINE

    @property
    def holds_gpus(self) -> bool:
        """Charged against requests.nvidia.com/gpu: it exists and has not ended."""
        return self.name is not None and self.phase not in TERMINAL

    @property
    def failing(self) -> bool:
        """Does it show a failure (rather than being on its way: ContainerCreating,
        PodInitializing, Pending while a node is added)?"""
        if self.healthy:
            return False
        if any(word in self.status for word in FAILING):
            return True
        if self.status == "Pending" and "Unschedulable" in self.said:
            # The cluster autoscaler may be adding a node for it.
            return not any("TriggeredScaleUp" in e for e in self.events)
        return False

    def why(self) -> str:
        """Its most telling line: the first that says more than a reason."""
        lines = [l.strip() for l in self.said.splitlines() if l.strip()]
        return next((l for l in lines if " " in l), lines[0] if lines else "")

    def line(self, marker: str) -> str:
        """The first thing it said that carries `marker`."""
        return next((l.strip() for l in self.said.splitlines() if marker in l), marker)


@dataclass
class Context:
    """What the checks look at. Offline: rendered objects, nodes from the spec, RBAC answered
    by kube.rbac, pods from the twin. Observed (a live cluster, or a snapshot of one):
    objects and nodes as the cluster has them, pods, events and logs as runtime evidence;
    live, RBAC is answered by the API server (SubjectAccessReview)."""
    spec: LabSpec
    objects: ObjectSet
    nodes: list[dict]
    authorizer: Optional[Authorizer] = None
    live: bool = False
    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (ns, pod, container)
    # Live only, when reachable: does this PromQL query return series?
    prometheus: Optional[Callable[[str], Optional[bool]]] = None
    # Pods, events and logs come from the objects (a cluster or a snapshot), not the twin.
    observed: bool = False
    # When the state was read (nodes that became Ready just before may still be starting).
    now: Optional[datetime] = None
    # Node objects were read from the cluster (False: a snapshot without nodes, which stand
    # in from the spec).
    nodes_observed: bool = True
    # The Helm releases the stack installs (kind HelmRelease, as rendered), for a state that
    # does not carry them: a cluster or a snapshot shows what a chart made, not its values
    # (how Prometheus discovers targets, whether the GPU Operator makes the DCGM monitor).
    releases: list[dict] = field(default_factory=list)
    _twin: Optional[list] = None
    _runs: Optional[list[PodRun]] = None

    def __post_init__(self) -> None:
        if self.live:
            self.observed = True

    def twin(self) -> list:
        """What the twin says the pods of these objects do on these nodes (computed once)."""
        if self._twin is None:
            from kube.twin import simulate
            self._twin = simulate(self.spec, self.objects, self.nodes)
        return self._twin

    def runs(self) -> list[PodRun]:
        """What every pod does: observed, or as the twin runs them (computed once)."""
        if self._runs is None:
            self._runs = observed_runs(self) if self.observed else twin_runs(self, self.twin())
        return self._runs

    def can_i(self, subject: Subject, verb: str, resource: str, namespace: str) -> Answer:
        if self.authorizer is not None:
            return self.authorizer(subject, verb, resource, namespace)
        return can_i(self.objects, subject, verb, resource, namespace or None)

    def workload_of(self, namespace: str, name: str) -> Optional[WorkloadSpec]:
        for workload in self.spec.workloads:
            if (workload.tenant, workload.name) == (namespace, name):
                return workload
        return None

    def tenant_names(self) -> set[str]:
        return {t.name for t in self.spec.tenants}


# -- pods as runs ------------------------------------------------------------------------

def _controller(objects: ObjectSet, namespace: str, name: str) -> Optional[dict]:
    return objects.get("Deployment", name, namespace) or objects.get("Job", name, namespace)


def _template_gpus(controller: Optional[dict]) -> int:
    if controller is None:
        return 0
    spec = ((controller.get("spec") or {}).get("template") or {}).get("spec") or {}
    return _gpu({"spec": spec})


def twin_runs(ctx: Context, views: list) -> list[PodRun]:
    runs = []
    for view in views:
        name = view.owner.split("/", 1)[1]
        workload = f"{view.namespace}/{name}" if ctx.workload_of(view.namespace, name) \
            else None
        controller = _controller(ctx.objects, view.namespace, name)
        status, phase = view.status, view.phase
        said = "\n".join([view.reason, view.message, *view.events, *view.logs.values()])
        # Its containers started (and ran, or infer.py exited): infer.py parses its arguments
        # first of all.
        started = view.status in FINE + ("CrashLoopBackOff", "Error")
        refused = infer_refuses(ctx.objects, controller) if started else None
        if refused:
            # infer.py exits 2 before it serves anything: the kubelet restarts it (a
            # Deployment's pod) or the pod fails (a Job's, restartPolicy Never).
            never = _template(controller).get("restartPolicy") == "Never"
            status, phase = ("Error", "Failed") if never else ("CrashLoopBackOff", "Running")
            said = "\n".join([refused, "Error", f"exitCode={INFER_BAD_ARGUMENTS}",
                              *view.events])
        runs.append(PodRun(view.namespace, view.pod, workload, status, phase,
                           view.node, said, _template_gpus(controller),
                           True, tuple(view.events)))
    return runs


# -- infer.py's own argument parser ----------------------------------------------------------

INFER_BAD_ARGUMENTS = 2           # argparse's exit code
# What infer.py imports for serving, not for parsing its arguments: stood in while its
# source runs as a module here (no model, no metrics server; torch need not be installed).
_INFER_SERVING_MODULES = ("torch", "prometheus_client", "numpy")


class _Absent:
    """Any attribute, any call: a module infer.py imports but its parser never uses."""

    def __getattr__(self, name):
        return _Absent()

    def __call__(self, *args, **kwargs):
        return _Absent()


def _template(controller: Optional[dict]) -> dict:
    return (((controller or {}).get("spec") or {}).get("template") or {}).get("spec") or {}


@functools.lru_cache(maxsize=8)
def _infer_parser(source: str) -> Optional[Callable]:
    """infer.py's parse_args, from its source (None: it does not load)."""
    import builtins
    import sys
    import types

    def guarded(name, globals=None, locals=None, fromlist=(), level=0):
        if name.partition(".")[0] in _INFER_SERVING_MODULES:
            return _Absent()
        return builtins.__import__(name, globals, locals, fromlist, level)

    module_name = f"_gpu_lab_infer_{abs(hash(source))}"
    module = types.ModuleType(module_name)
    module.__dict__["__builtins__"] = {**vars(builtins), "__import__": guarded}
    sys.modules[module_name] = module          # dataclasses look their module up
    try:
        exec(compile(source, "infer.py", "exec"), module.__dict__)   # noqa: S102 - infer.py
    except Exception:  # noqa: BLE001 - a program that does not load says nothing of its args
        return None
    finally:
        sys.modules.pop(module_name, None)
    return module.__dict__.get("parse_args")


@functools.lru_cache(maxsize=256)
def infer_argument_error(source: str, args: tuple[str, ...]) -> Optional[str]:
    """What infer.py (this source) prints when it refuses these arguments at start, or None
    when it takes them."""
    import contextlib
    import io

    parse_args = _infer_parser(source)
    if parse_args is None:
        return None
    printed = io.StringIO()
    try:
        with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
            parse_args(list(args))
    except SystemExit as done:
        if done.code in (0, None):
            return "infer.py exits at start without serving (it printed its usage)"
        error = next((line.split("error: ", 1)[1] for line in printed.getvalue().splitlines()
                      if "error: " in line), printed.getvalue().strip())
        return f"infer.py: error: {error}"
    except Exception:  # noqa: BLE001 - its own validation failing is not ours to judge
        return None
    return None


def _infer_source(objects: ObjectSet, namespace: str, pod_spec: dict, container: dict,
                  path: str) -> str:
    """The infer.py a container runs: the ConfigMap file mounted at its path, else (a custom
    image carries it) the project's own."""
    located = file_location(container, path)
    if located:
        volume = next((v for v in pod_spec.get("volumes") or []
                       if v.get("name") == located[0]), {})
        config_map = volume.get("configMap") or {}
        data = ((objects.get("ConfigMap", config_map.get("name", ""), namespace) or {})
                .get("data") or {})
        key = next((item.get("key") for item in config_map.get("items") or []
                    if item.get("path") == located[1]), located[1])
        if key in data:
            return data[key]
    from model.source import PROJECT_DIR
    return (PROJECT_DIR / "workload" / "infer.py").read_text()


def infer_refuses(objects: ObjectSet, controller: Optional[dict]) -> Optional[str]:
    """Does a container of this controller's pods run infer.py with arguments infer.py's own
    parser refuses (exit 2 at start)? Its error line, or None."""
    if controller is None:
        return None
    spec = _template(controller)
    namespace = controller["metadata"].get("namespace", "")
    for container in spec.get("containers") or []:
        command = [str(w) for w in (container.get("command") or []) +
                   (container.get("args") or [])]
        if len(command) > 1 and command[0].startswith("python") and \
                command[1].endswith("infer.py"):
            source = _infer_source(objects, namespace, spec, container, command[1])
            error = infer_argument_error(source, tuple(command[2:]))
            if error:
                return f"{container.get('name')}: {error}"
    return None


def pod_status(pod: dict) -> str:
    """kubectl's STATUS column for a pod (pkg/printers/internalversion/printers.go, printPod,
    in outline)."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    init = status.get("initContainerStatuses") or []
    for i, container in enumerate(init):
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if terminated:
            return "Init:" + (terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        if waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return "Init:" + waiting["reason"]
        return f"Init:{i}/{len((pod.get('spec') or {}).get('initContainers') or init)}"
    running = False
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif state.get("terminated"):
            code = state["terminated"].get("exitCode")
            reason = f"ExitCode:{code}"
        elif state.get("running"):
            running = True
    if reason == "Completed" and running:
        reason = "Running"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _statuses(pod: dict) -> list[dict]:
    status = pod.get("status") or {}
    return (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])


def _said(pod: dict, logs: dict, events: list[str]) -> str:
    """Everything a pod said: its conditions, its containers' states, logs and events."""
    namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    status = pod.get("status") or {}
    parts = [str(status.get("reason") or ""), str(status.get("message") or "")]
    for condition in status.get("conditions") or []:
        if condition.get("status") == "False":
            parts += [str(condition.get("reason") or ""), str(condition.get("message") or "")]
    for container in _statuses(pod):
        parts.append(logs.get((namespace, name, container.get("name")), ""))
        for state in ((container.get("state") or {}), (container.get("lastState") or {})):
            for detail in state.values():
                if isinstance(detail, dict):
                    parts += [str(detail.get("reason") or ""), str(detail.get("message") or "")]
                    if "exitCode" in detail:
                        parts.append(f"exitCode={detail.get('exitCode')}")
    return "\n".join(p for p in parts + events if p)


def _images(spec: dict) -> dict[str, str]:
    return {c.get("name"): c.get("image") for c in
            (spec.get("initContainers") or []) + (spec.get("containers") or [])}


def _is_current(pod: dict, controller: Optional[dict]) -> bool:
    """Was the pod made from the controller's pod template as it is now (same images)?"""
    if controller is None:
        return False
    template = ((controller.get("spec") or {}).get("template") or {}).get("spec") or {}
    wanted, has = _images(template), _images(pod.get("spec") or {})
    return all(wanted.get(name, image) == image for name, image in has.items())


def _event_text(event: dict) -> str:
    source = (event.get("source") or {}).get("component") or \
        event.get("reportingComponent") or ""
    return " ".join(str(p) for p in (event.get("type"), event.get("reason"), source,
                                      event.get("message")) if p)


def observed_runs(ctx: Context) -> list[PodRun]:
    """The pods of a cluster (or a snapshot), and the creates its controllers were refused."""
    events: dict[tuple[str, str, str], list[str]] = {}
    for event in ctx.objects.of_kind("Event"):
        involved = event.get("involvedObject") or {}
        key = (involved.get("kind"), involved.get("namespace") or
               event.get("metadata", {}).get("namespace"), involved.get("name"))
        events.setdefault(key, []).append(_event_text(event))
    runs = []
    for pod in ctx.objects.of_kind("Pod"):
        meta = pod["metadata"]
        namespace, name = meta.get("namespace"), meta.get("name")
        app = (meta.get("labels") or {}).get(APP_LABEL)
        workload = f"{namespace}/{app}" if app and ctx.workload_of(namespace, app) else None
        controller = _controller(ctx.objects, namespace, app) if workload else None
        said_events = events.get(("Pod", namespace, name), [])
        runs.append(PodRun(namespace, name, workload, pod_status(pod),
                           (pod.get("status") or {}).get("phase", ""),
                           (pod.get("spec") or {}).get("nodeName"),
                           _said(pod, ctx.logs, said_events), _gpu(pod),
                           _is_current(pod, controller) if workload else True,
                           tuple(said_events)))
    for (kind, namespace, name), texts in events.items():
        owner = {"ReplicaSet": (name or "").rpartition("-")[0], "Job": name}.get(kind)
        refused = [t for t in texts if " FailedCreate " in f" {t} "]
        if owner and refused and ctx.workload_of(namespace, owner):
            runs.append(PodRun(namespace, None, f"{namespace}/{owner}", "FailedCreate",
                               said="\n".join(refused), events=tuple(refused)))
    return runs


def workload_runs(ctx: Context, workload: str) -> list[PodRun]:
    """The current runs of one workload ("<tenant>/<name>")."""
    return [r for r in ctx.runs() if r.workload == workload and r.current]


# -- checks --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    target: str          # what it is about: workload:<t>/<n>, pool:<p>, quota:<t>, ...
    evidence: str
    # The objects cannot say either way (a binding to a ClusterRole whose rules are not in
    # the judged state): a verdict on it is "cannot tell", never "fixed".
    unsure: bool = False


@dataclass(frozen=True)
class SymptomCheck:
    id: str
    question: str
    find: Callable[[Context], list[Finding]]
    healthy: str                  # the answer when nothing is found

    def findings(self, ctx: Context, targets: Optional[Iterable[str]] = None) -> list[Finding]:
        found = self.find(ctx)
        if targets is None:
            return found
        wanted = set(targets)
        return [f for f in found if f.target in wanted]

    def run(self, ctx: Context, targets: Optional[Iterable[str]] = None) -> Answer:
        """allowed=True means: the symptom is present (on these targets, if given)."""
        return present((f.evidence for f in self.findings(ctx, targets)), self.healthy)


CHECKS: dict[str, SymptomCheck] = {}


def check(check_id: str, question: str, healthy: str):
    def register(fn: Callable[[Context], list[Finding]]) -> Callable[[Context], list[Finding]]:
        CHECKS[check_id] = SymptomCheck(check_id, question, fn, healthy)
        return fn
    return register


def present(evidence: Iterable[str], healthy: str) -> Answer:
    evidence = list(dict.fromkeys(evidence))
    return Answer(True, "; ".join(evidence)) if evidence else Answer(False, healthy)


def _gpu(pod: dict) -> int:
    return int(pod_requests(pod.get("spec") or {}).get(GPU_RESOURCE, 0))


def _gpu_nodes(nodes: list[dict]) -> list[dict]:
    return [n for n in nodes if ACCELERATOR_LABEL in (n["metadata"].get("labels") or {})]


def _allocatable_gpus(node: dict) -> int:
    return int(float((node.get("status") or {}).get("allocatable", {}).get(GPU_RESOURCE, 0)))


def stack_workload_pods(ctx: Context) -> list[tuple[dict, dict, int, str]]:
    """(controller, pod from its template, pods it runs, "<tenant>/<name>") for the
    controllers that are the stack's workloads (not the add-ons', not a candidate's
    experiments)."""
    found = []
    for controller, pod, count in ctx.objects.workload_pods():
        meta = controller["metadata"]
        if ctx.workload_of(meta.get("namespace"), meta.get("name")):
            found.append((controller, pod, count, f"{meta['namespace']}/{meta['name']}"))
    return found


# -- tenants ------------------------------------------------------------------------------

# What a tenant's members may not do in another tenant's namespace: every read of its pods
# (a dashboard's view, a custom role with get and watch) and of their logs.
CROSS_TENANT_READS = (("get", "pods"), ("list", "pods"), ("watch", "pods"), ("get", "pods/log"))
# Namespaces components/tenant.py makes carry this label; a tenant the candidate adds does too.
TENANT_LABEL = "gpu-lab/tenant"
TENANT_ACCOUNTS = ("workload", "job-submitter")
EVERYONE = ("system:authenticated", "system:unauthenticated", "system:serviceaccounts")


def judged_tenants(ctx: Context) -> list[str]:
    """The stack's tenants, then every other namespace the judged state marks as a tenant's
    (label gpu-lab/tenant: "true"): a tenant the candidate added is judged like the rest."""
    names = [t.name for t in ctx.spec.tenants]
    extra = sorted(n["metadata"]["name"] for n in ctx.objects.of_kind("Namespace")
                   if ((n["metadata"].get("labels") or {}).get(TENANT_LABEL) == "true"
                       and n["metadata"]["name"] not in names))
    return names + extra


def group_owner(ctx: Context, group: str) -> Optional[str]:
    """The stack's tenant whose admin or developer group this is."""
    for tenant in ctx.spec.tenants:
        if group in tenant.admin_groups + tenant.developer_groups:
            return tenant.name
    return None


def tenant_members(ctx: Context, tenant: str) -> list[Subject]:
    """A tenant's people and CI: the stack's groups for its own tenants; for a tenant it does
    not know, the groups that tenant's RoleBindings name and no other tenant owns. Plus the
    tenant's service accounts."""
    spec = next((t for t in ctx.spec.tenants if t.name == tenant), None)
    if spec is not None:
        groups = list(spec.admin_groups + spec.developer_groups)
    else:
        groups = list(dict.fromkeys(
            entry.get("name") for binding in ctx.objects.of_kind("RoleBinding", tenant)
            for entry in binding.get("subjects") or []
            if entry.get("kind") == "Group" and not str(entry.get("name")).startswith("system:")
            and group_owner(ctx, str(entry.get("name"))) in (None, tenant)))
    return [Subject.group(g) for g in groups] + \
        [Subject.service_account(tenant, sa) for sa in TENANT_ACCOUNTS]


def _actions(allowed: list[tuple[str, str]]) -> str:
    """"get, list, watch pods, get pods/log": verbs grouped by resource."""
    by_resource: dict[str, list[str]] = {}
    for verb, resource in allowed:
        by_resource.setdefault(resource, []).append(verb)
    return ", ".join(f"{', '.join(verbs)} {resource}" for resource, verbs in by_resource.items())


def unknown_grants(ctx: Context, subject: Subject, namespace: str) -> list[str]:
    """Bindings that give `subject` a ClusterRole in `namespace` whose rules the judged state
    does not hold (offline only: a cluster's API server knows its roles)."""
    from kube.rbac import bound
    from kube.rbac_roles import unknown_cluster_role
    if ctx.authorizer is not None:
        return []
    found = []
    for binding in ctx.objects.of_kind("ClusterRoleBinding") + \
            ctx.objects.of_kind("RoleBinding", namespace):
        role = binding.get("roleRef") or {}
        entry = bound(subject, binding)
        if entry is None or role.get("kind") != "ClusterRole":
            continue
        why = unknown_cluster_role(ctx.objects, role.get("name", ""))
        if why:
            found.append(f"{ref(binding)} binds {entry.get('kind')} {entry.get('name')} to "
                         f"{role.get('name')}, and {why}")
    return found


@check("cross-tenant-access", "Can a member of one tenant read another tenant's pods?",
       "no tenant member can read another tenant's pods or their logs")
def cross_tenant_access(ctx: Context) -> list[Finding]:
    return cross_tenant_reads(ctx, judged_tenants(ctx))


def cross_tenant_reads(ctx: Context, tenants: list[str]) -> list[Finding]:
    """Every read of another tenant's pods (CROSS_TENANT_READS) a member of one of these
    tenants may do, one finding per member and tenant read ("rbac:<the tenant read>")."""
    found = []
    for own in tenants:
        for subject in tenant_members(ctx, own):
            for other in tenants:
                if other == own:
                    continue
                answers = [(verb, resource, ctx.can_i(subject, verb, resource, other))
                           for verb, resource in CROSS_TENANT_READS]
                allowed = [(verb, resource) for verb, resource, answer in answers if answer]
                if allowed:
                    reason = next(answer.reason for _, _, answer in answers if answer)
                    found.append(Finding(f"rbac:{other}", f"{subject} can {_actions(allowed)} "
                                                          f"in {other}: {reason}"))
                    continue
                unknown = unknown_grants(ctx, subject, other)
                if unknown:
                    found.append(Finding(f"rbac:{other}", f"cannot tell whether {subject} can "
                                         f"read pods in {other}: {'; '.join(unknown)}",
                                         unsure=True))
    return found


def _quota_without_usage(objects: ObjectSet, namespace: str) -> ObjectSet:
    """The namespace's LimitRanges and ResourceQuotas, the quotas as their spec says (no
    status): what the quota allows, whatever already runs."""
    quotas = [{k: v for k, v in q.items() if k != "status"}
              for q in objects.of_kind("ResourceQuota", namespace)]
    return ObjectSet(objects.of_kind("LimitRange", namespace) + quotas)


def _gpus_named(objects: ObjectSet, namespace: str) -> Optional[int]:
    """The most GPUs any ResourceQuota of the namespace names, enforced key or not (None:
    no quota names GPUs at all)."""
    named = [parse_quantity(value) for quota in objects.of_kind("ResourceQuota", namespace)
             for key, value in ((quota.get("spec") or {}).get("hard") or {}).items()
             if key.endswith(GPU_RESOURCE)]
    return int(max(named)) if named else None


@check("gpu-quota-unenforced",
       "Would a tenant's quota admit more GPUs than the tenant is allocated?",
       "every tenant's quota stops GPU requests beyond its allocation, and no tenant's pods "
       "hold more")
def gpu_quota_unenforced(ctx: Context) -> list[Finding]:
    found = []
    allocations = {t.name: t.gpus for t in ctx.spec.tenants}
    for name in judged_tenants(ctx):
        # A tenant the stack does not know is allocated what its own quotas say.
        gpus = allocations.get(name, _gpus_named(ctx.objects, name))
        if gpus is None:
            found.append(Finding(f"quota:{name}", f"{name} has no ResourceQuota that names "
                                 f"{GPU_RESOURCE}: its pods may take every GPU"))
            continue
        # A probe that asks for next to no CPU and memory, so only the GPU line is tested,
        # against an empty namespace: what already runs says nothing about the limit.
        probe = make_pod(gpus=1, cpu="10m", memory="16Mi")
        beyond = quota_admits(_quota_without_usage(ctx.objects, name), name, probe,
                              copies=gpus + 1)
        if beyond:
            asked = sum(w.gpus * w.replicas for w in ctx.spec.workloads if w.tenant == name)
            found.append(Finding(f"quota:{name}", f"{name} is allocated {gpus} GPU(s) but its "
                                 f"quota admits {gpus + 1} ({beyond.reason}); its workloads "
                                 f"ask for {asked}"))
        holding = [r for r in ctx.runs() if r.namespace == name and r.holds_gpus and r.gpus]
        held = sum(r.gpus for r in holding)
        if held > gpus:
            pods = ", ".join(f"{r.name} ({r.gpus}, {r.status})" for r in holding)
            found.append(Finding(f"quota:{name}", f"{name}'s pods request {held} GPUs, beyond "
                                 f"its allocation of {gpus}: {pods}"))
    return found


@check("tenant-egress-blocked", "Is a tenant cut off from registries and the internet?",
       "every tenant reaches the internet")
def tenant_egress_blocked(ctx: Context) -> list[Finding]:
    found = []
    cut_off = denied_tags(ctx.objects)
    for tenant in ctx.spec.tenants:
        target = f"egress:{tenant.name}"
        internet = egress_allowed(ctx.objects, tenant.name, Endpoint.internet())
        if not internet:
            found.append(Finding(target, f"NetworkPolicy: {internet.reason}"))
        for workload in ctx.spec.workloads:
            pool = next((p for p in ctx.spec.gpu_pools if p.name == workload.pool), None)
            if workload.tenant == tenant.name and pool and pool.network_tag in cut_off:
                found.append(Finding(target, f"GCP firewall denies egress from {pool.name} "
                                     f"nodes (tag {pool.network_tag}), where "
                                     f"{tenant.name}/{workload.name} runs"))
        for run in ctx.runs():
            if run.namespace != tenant.name or not run.current:
                continue
            if "ImagePull" in run.status or "ErrImagePull" in run.status:
                if "timeout" in run.said:
                    found.append(Finding(target, f"pod {run.label}: {run.status}: image pulls "
                                         f"time out ({run.line('timeout')}); look at the VPC "
                                         f"firewall"))
            elif "pypi.org timed out" in run.said:
                found.append(Finding(target, f"pod {run.label}: {run.status}: pip cannot reach "
                                     f"pypi.org ({run.line('timed out')})"))
    return found


@check("job-submission-forbidden", "Is a tenant's CI identity forbidden to create Jobs?",
       "every tenant's job-submitter may create Jobs")
def job_submission_forbidden(ctx: Context) -> list[Finding]:
    found = []
    for tenant in ctx.spec.tenants:
        ci = Subject.service_account(tenant.name, "job-submitter")
        answer = ctx.can_i(ci, "create", "jobs", tenant.name)
        if not answer:
            found.append(Finding(f"rbac-ci:{tenant.name}", f"{tenant.name}: {answer.reason}"))
    return found


# -- GPUs on the nodes ----------------------------------------------------------------------

def node_starting(ctx: Context, node: dict) -> bool:
    """A node not Ready yet, or Ready for less than NODE_SETTLING: its device plugin may
    not have registered (a spot replacement, a scale-up)."""
    taints = {t.get("key") for t in (node.get("spec") or {}).get("taints") or []}
    if taints & set(STARTING_TAINTS):
        return True
    ready = next((c for c in (node.get("status") or {}).get("conditions") or []
                  if c.get("type") == "Ready"), None)
    if ready is None:
        return False                  # offline nodes carry no conditions: settled
    if ready.get("status") != "True":
        return True
    since = ready.get("lastTransitionTime")
    if ctx.now is not None and since:
        try:
            moment = datetime.fromisoformat(str(since).replace("Z", "+00:00"))
        except ValueError:
            return False
        return ctx.now - moment < NODE_SETTLING
    return False


@check("gpus-not-advertised", "Do GPU nodes fail to advertise nvidia.com/gpu?",
       "every GPU node advertises its GPUs")
def gpus_not_advertised(ctx: Context) -> list[Finding]:
    if not ctx.nodes_observed:
        return []            # nodes standing in from the spec say nothing of a cluster's
    found = []
    for node in _gpu_nodes(ctx.nodes):
        labels = node["metadata"]["labels"]
        if _allocatable_gpus(node) or node_starting(ctx, node):
            continue
        found.append(Finding(f"pool:{labels.get(POOL_LABEL)}",
                             f"node {node['metadata']['name']} ({labels[ACCELERATOR_LABEL]}) has "
                             f"no allocatable {GPU_RESOURCE}: no device plugin runs there"))
    return found


def _selects(selector: Optional[dict], labels: dict) -> bool:
    return selector is not None and selector_matches(selector, labels)


# The DCGM exporter as the GPU Operator makes it (NVIDIA/gpu-operator,
# assets/state-dcgm-exporter: 0600_service.yaml, 0900_daemonset.yaml and, when
# dcgmExporter.serviceMonitor.enabled, 0500_service_monitor.yaml with the Helm values'
# honorLabels and interval on its endpoint; the chart's default honorLabels is false). They
# stand in where the judged state does not show them: a rendering, or a cluster read without
# its Services. dcgm-exporter labels each GPU's series with the namespace and pod using it.
DCGM_PORT = 9400
DCGM_SERVICE_PORT = "gpu-metrics"
DCGM_CONTAINER_PORT = "metrics"
EXPORTER_LABELS = {"app": DCGM_APP}
OPERATOR_RELEASES = ("gpu-operator", "fake-gpu-operator")
# Stands for "the namespace of the workload using the GPU" in a series' labels.
_WORKLOAD_NAMESPACE = "<the GPU's workload>"
ATTRIBUTION_LOST = "no GPU is attributed to its tenant"


def releases(ctx: Context) -> list[dict]:
    """The Helm releases of the judged state, or of the stack when the state has none."""
    return ctx.objects.of_kind("HelmRelease") or list(ctx.releases)


def prometheus_of(ctx: Context) -> dict:
    return prometheus_spec(ObjectSet(releases(ctx)))


def _has_prometheus(ctx: Context) -> bool:
    return any(r["spec"].get("chart") == "kube-prometheus-stack" for r in releases(ctx)) or \
        bool(ctx.objects.of_kind("Prometheus")) or ctx.spec.addons.monitoring.enabled


def _operator_release(ctx: Context) -> Optional[dict]:
    return next((r for r in releases(ctx) if r["metadata"].get("name") in OPERATOR_RELEASES),
                None)


def dcgm_exporter(ctx: Context) -> tuple[Optional[str], list[dict], list[dict], str]:
    """(namespace, Services, pods) of the DCGM exporter, or (None, [], [], why none runs)."""
    services = [s for s in ctx.objects.of_kind("Service")
                if _selects({"matchLabels": EXPORTER_LABELS}, s["metadata"].get("labels") or {})]
    pods = [p for p in ctx.objects.of_kind("Pod")
            if _selects({"matchLabels": EXPORTER_LABELS}, p["metadata"].get("labels") or {})]
    release = _operator_release(ctx)
    if release is not None and release["metadata"]["name"] == "gpu-operator":
        values = (release["spec"].get("values") or {}).get("dcgmExporter") or {}
        if not values.get("enabled", True):
            return None, [], [], "the GPU Operator's dcgmExporter is off"
    namespace = (release or {}).get("metadata", {}).get("namespace") or next(
        (o["metadata"].get("namespace") for o in services + pods), None)
    if namespace is None:
        return None, [], [], "no DCGM exporter runs (no GPU Operator)"
    if not services:
        services = [{"kind": "Service", "metadata": {
            "name": DCGM_APP, "namespace": namespace, "labels": dict(EXPORTER_LABELS)},
            "spec": {"selector": dict(EXPORTER_LABELS), "ports": [
                {"name": DCGM_SERVICE_PORT, "port": DCGM_PORT, "targetPort": DCGM_PORT,
                 "protocol": "TCP"}]}}]
    if not pods:
        pods = [{"kind": "Pod", "metadata": {"name": DCGM_APP, "namespace": namespace,
                                             "labels": dict(EXPORTER_LABELS)},
                 "spec": {"containers": [{"name": DCGM_APP, "ports": [
                     {"name": DCGM_CONTAINER_PORT, "containerPort": DCGM_PORT}]}]}}]
    return namespace, services, pods, ""


def dcgm_monitors(ctx: Context) -> list[dict]:
    """Every ServiceMonitor and PodMonitor, with the one the GPU Operator makes from its Helm
    values when the state is a rendering (a cluster shows it, if it was made)."""
    monitors = ctx.objects.of_kind("ServiceMonitor") + ctx.objects.of_kind("PodMonitor")
    release = _operator_release(ctx)
    if ctx.observed or release is None or release["metadata"]["name"] != "gpu-operator":
        return monitors
    values = (release["spec"].get("values") or {}).get("dcgmExporter") or {}
    monitor = values.get("serviceMonitor") or {}
    namespace = release["metadata"].get("namespace")
    if not monitor.get("enabled") or \
            ctx.objects.get("ServiceMonitor", DCGM_APP, namespace) is not None:
        return monitors
    endpoint = {"port": DCGM_SERVICE_PORT, "path": "/metrics",
                "honorLabels": bool(monitor.get("honorLabels", False))}
    if monitor.get("interval"):
        endpoint["interval"] = monitor["interval"]
    return monitors + [{"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                        "metadata": {"name": DCGM_APP, "namespace": namespace,
                                     "labels": dict(EXPORTER_LABELS)},
                        "spec": {"endpoints": [endpoint], "jobLabel": "app",
                                 "namespaceSelector": {"matchNames": [namespace]},
                                 "selector": {"matchLabels": dict(EXPORTER_LABELS)}}}]


def _port_names(ports: list[dict]) -> str:
    return ", ".join(f"{p.get('name')} {p.get('port', p.get('containerPort'))}"
                     for p in ports) or "none"


def monitor_endpoints(ctx: Context, monitor: dict, namespace: str, services: list[dict],
                      pods: list[dict]) -> tuple[list[dict], str]:
    """The endpoints of `monitor` through which the operator would make a target of the
    exporter (in `namespace`, these Services and pods), or ([], why not)."""
    spec = monitor.get("spec") or {}
    where = f"{monitor['kind']} {monitor['metadata'].get('namespace')}/" \
            f"{monitor['metadata'].get('name')}"
    prometheus = prometheus_of(ctx)
    if not looks_in(monitor, namespace, bool(prometheus.get("ignoreNamespaceSelectors"))):
        own = monitor["metadata"].get("namespace")
        why = (f"Prometheus runs with ignoreNamespaceSelectors: it looks only in {own}, "
               f"where no DCGM exporter runs" if prometheus.get("ignoreNamespaceSelectors")
               else f"its namespaceSelector does not include {namespace}")
        return [], f"{where}: {why}"
    container_ports = [p for pod in pods for p in _container_ports(pod)]
    hits: list[dict] = []
    if monitor["kind"] == "ServiceMonitor":
        selected = [s for s in services
                    if _selects(spec.get("selector"), s["metadata"].get("labels") or {})]
        if not selected:
            return [], f"{where}: its selector matches no DCGM exporter Service"
        service_ports = [p for s in selected for p in (s.get("spec") or {}).get("ports") or []]
        for endpoint in spec.get("endpoints") or []:
            if endpoint.get("port") is not None:
                found = any(p.get("name") == endpoint["port"] for p in service_ports)
            else:
                found = _port_matches(container_ports, endpoint.get("targetPort"))
            if found:
                hits.append(endpoint)
        if not hits:
            asked = [e.get("port", e.get("targetPort")) for e in spec.get("endpoints") or []]
            return [], (f"{where}: the exporter's Service has no port {', '.join(map(str, asked))} "
                        f"(its ports: {_port_names(service_ports)})")
        return hits, ""
    if not any(_selects(spec.get("selector"), p["metadata"].get("labels") or {}) for p in pods):
        return [], f"{where}: its selector matches no DCGM exporter pod"
    for endpoint in spec.get("podMetricsEndpoints") or []:
        if any(_port_matches(container_ports, endpoint.get(key))
               for key in ("port", "portNumber", "targetPort")):
            hits.append(endpoint)
    if not hits:
        asked = [e.get("port", e.get("portNumber", e.get("targetPort")))
                 for e in spec.get("podMetricsEndpoints") or []]
        return [], (f"{where}: the exporter's pods have no port {', '.join(map(str, asked))} "
                    f"(their ports: {_port_names(container_ports)})")
    return hits, ""


def lost_attribution(ctx: Context, monitor: dict, endpoint: dict) -> str:
    """Why series scraped through this endpoint lose the namespace and pod of the GPU's
    workload, or "" when they keep them."""
    where = f"{monitor['kind']} {monitor['metadata'].get('namespace')}/" \
            f"{monitor['metadata'].get('name')}"
    if not endpoint.get("honorLabels"):
        return (f"{where} scrapes it with honorLabels off: dcgm-exporter's namespace and pod "
                f"labels are renamed exported_namespace and exported_pod (the target's own "
                f"win), so {ATTRIBUTION_LOST}")
    from kube.prometheus_operator import series_namespace
    kept = series_namespace(monitor, _WORKLOAD_NAMESPACE, prometheus_of(ctx))
    if kept != _WORKLOAD_NAMESPACE:
        return (f"{where} is not exempt from enforcedNamespaceLabel: every series it scrapes "
                f"gets namespace={kept}, so {ATTRIBUTION_LOST}")
    return ""


@check("dcgm-not-scraped", "Are DCGM GPU metrics missing from Prometheus?",
       "Prometheus scrapes the DCGM exporter, and its series keep the GPU's namespace and pod")
def dcgm_not_scraped(ctx: Context) -> list[Finding]:
    if not _has_prometheus(ctx):
        return []                     # no Prometheus: nothing is scraped, nothing is missing
    namespace, services, pods, none = dcgm_exporter(ctx)
    if namespace is None:
        return [Finding("dcgm", none)]
    misses, lost = [], []
    for monitor in dcgm_monitors(ctx):
        spec = monitor.get("spec") or {}
        aimed = any(_selects(spec.get("selector"), o["metadata"].get("labels") or {})
                    for o in (services if monitor["kind"] == "ServiceMonitor" else pods))
        endpoints, why = monitor_endpoints(ctx, monitor, namespace, services, pods)
        if not endpoints:
            if aimed or monitor["metadata"].get("namespace") == namespace:
                misses.append(why)
            continue
        reasons = [lost_attribution(ctx, monitor, e) for e in endpoints]
        if not all(reasons):
            return []                                    # scraped, attributed
        lost.append(reasons[0])
    if lost:
        return [Finding("dcgm", "; ".join(dict.fromkeys(lost)))]
    release = _operator_release(ctx)
    values = (((release or {}).get("spec") or {}).get("values") or {}).get("dcgmExporter") or {}
    off = ["the GPU Operator's dcgmExporter ServiceMonitor is off"] if (
        release is not None and release["metadata"]["name"] == "gpu-operator" and
        not (values.get("serviceMonitor") or {}).get("enabled")) else []
    return [Finding("dcgm", "; ".join(off + misses) or
                    "no ServiceMonitor or PodMonitor scrapes the DCGM exporter")]


# -- workloads -------------------------------------------------------------------------------

def _container_ports(pod: dict) -> list[dict]:
    return [p for c in (pod.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or []]


def _port_matches(ports: list[dict], wanted) -> bool:
    """A port given by name or number against the pod's container ports."""
    if wanted is None:
        return False
    for port in ports:
        if isinstance(wanted, str) and not wanted.isdigit():
            if port.get("name") == wanted:
                return True
        elif float(port.get("containerPort", -1)) == float(wanted):
            return True
    return False


def prometheus_spec(objects: ObjectSet) -> dict:
    """kube-prometheus-stack's prometheusSpec values, as its Helm release sets them."""
    for release in objects.of_kind("HelmRelease"):
        if release["spec"].get("chart") == "kube-prometheus-stack":
            values = release["spec"].get("values") or {}
            return (values.get("prometheus") or {}).get("prometheusSpec") or {}
    return {}


def _in_namespaces(ctx: Context, monitor: dict, namespace: str) -> bool:
    """Does the operator discover the monitor's targets (pods or Services) in `namespace`?"""
    ignoring = bool(prometheus_of(ctx).get("ignoreNamespaceSelectors"))
    return looks_in(monitor, namespace, ignoring)


def scraped_by(ctx: Context, pod: dict) -> list[str]:
    """The PodMonitors and ServiceMonitors through which Prometheus scrapes this pod (it
    selects every monitor: kube-prometheus-stack runs with the NilUsesHelmValues selectors
    off)."""
    namespace = pod["metadata"]["namespace"]
    labels = pod["metadata"].get("labels") or {}
    ports = _container_ports(pod)
    found = []
    for monitor in ctx.objects.of_kind("PodMonitor"):
        spec = monitor.get("spec") or {}
        if not _in_namespaces(ctx, monitor, namespace) or not _selects(spec.get("selector"), labels):
            continue
        for endpoint in spec.get("podMetricsEndpoints") or []:
            if any(_port_matches(ports, endpoint.get(key))
                   for key in ("port", "portNumber", "targetPort")):
                found.append(ref(monitor))
                break
    for monitor in ctx.objects.of_kind("ServiceMonitor"):
        spec = monitor.get("spec") or {}
        if not _in_namespaces(ctx, monitor, namespace):
            continue
        for service in ctx.objects.of_kind("Service", namespace):
            service_spec = service.get("spec") or {}
            if not _selects(spec.get("selector"), service["metadata"].get("labels") or {}):
                continue
            if not service_spec.get("selector") or \
                    not selector_matches({"matchLabels": service_spec["selector"]}, labels):
                continue
            for endpoint in spec.get("endpoints") or []:
                target = endpoint.get("targetPort")
                if target is not None and _port_matches(ports, target):
                    found.append(ref(monitor))
                    break
                port = next((p for p in service_spec.get("ports") or []
                             if p.get("name") == endpoint.get("port")), None)
                if port and _port_matches(ports, port.get("targetPort", port.get("port"))):
                    found.append(ref(monitor))
                    break
    return found


def file_location(container: dict, path: str) -> Optional[tuple[str, str]]:
    """(volume, path inside it) of a file as a container sees it, through the volume mount
    deepest in its path (subPath included); None: on the container's own filesystem, which
    no other container sees."""
    best: Optional[tuple[str, str]] = None
    depth = -1
    for mount in container.get("volumeMounts") or []:
        where = str(mount.get("mountPath", "")).rstrip("/") or "/"
        inside = path == where or path.startswith(where.rstrip("/") + "/")
        if inside and len(where) > depth:
            rest = path[len(where):].lstrip("/")
            sub = str(mount.get("subPath") or "").strip("/")
            best = (str(mount.get("name")), "/".join(p for p in (sub, rest) if p))
            depth = len(where)
    return best


def _paths(words: list[str]) -> list[str]:
    """Absolute paths in a command line, also inside `sh -c "..."` strings."""
    found = []
    for word in words:
        for token in word.replace(";", " ").replace("&", " ").replace("|", " ").split():
            token = token.strip("'\"")
            if token.startswith("/"):
                found.append(token)
    return found


def _streamers(pod: dict) -> list[dict]:
    """The containers whose stdout kubectl logs shows for as long as the pod runs: the
    containers, and init containers that run as sidecars (restartPolicy Always)."""
    spec = pod.get("spec") or {}
    return list(spec.get("containers") or []) + [
        c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]


def _streams(streamer: dict, writer: dict, path: str) -> bool:
    """Does `streamer` tail the file `writer` writes at `path` to its stdout? It must see the
    same file: the same container, or the same volume at the same place inside it."""
    words = [str(w) for w in (streamer.get("command") or []) + (streamer.get("args") or [])]
    if not any("tail" in w for w in words):
        return False
    if streamer is writer:
        return path in _paths(words)
    written = file_location(writer, path)
    return written is not None and any(file_location(streamer, p) == written
                                       for p in _paths(words))


def logs_elsewhere(pod: dict) -> list[str]:
    """Containers whose log goes to a file no container streams to stdout."""
    containers = (pod.get("spec") or {}).get("containers") or []
    found = []
    for container in containers:
        args = [str(a) for a in container.get("args") or []]
        last = option(args, "--log-file", "")        # the parser keeps the last one
        for path in [last] if last else []:
            if path in STDOUT_FILES:
                continue
            if any(_streams(streamer, container, path) for streamer in _streamers(pod)):
                continue
            blind = [c.get("name") for c in _streamers(pod) if c is not container and any(
                "tail" in str(w) for w in (c.get("command") or []) + (c.get("args") or []))]
            volume = (file_location(container, path) or ("",))[0]
            note = (f": {', '.join(map(str, blind))} tails a file of its own, not the one "
                    f"{container.get('name')} writes" +
                    (f" (it does not mount volume {volume} there)" if volume else
                     " (it is on that container's own filesystem)")) if blind else ""
            found.append(f"{container.get('name')} writes {path}{note}")
    return found


@check("tenant-observability-broken",
       "Does a tenant workload escape Prometheus or kubectl logs?",
       "every workload is scraped and logs to stdout")
def tenant_observability_broken(ctx: Context) -> list[Finding]:
    found = []
    monitoring = ctx.spec.addons.monitoring.enabled
    for controller, pod, _, workload in stack_workload_pods(ctx):
        target = f"workload:{workload}"
        if monitoring and not scraped_by(ctx, pod):
            namespace = pod["metadata"]["namespace"]
            monitors = [m for m in ctx.objects.of_kind("PodMonitor", namespace)
                        if _selects((m.get("spec") or {}).get("selector"),
                                    pod["metadata"].get("labels") or {})]
            why = ("its PodMonitor scrapes a port the pod does not have" if monitors
                   else "no PodMonitor or ServiceMonitor selects its pods")
            found.append(Finding(target, f"{workload} is not scraped: {why}"))
        for container in logs_elsewhere(pod):
            found.append(Finding(target, f"{workload} logs to a file, so kubectl logs shows "
                                         f"nothing: {container}"))
    return found


def _runs_saying(ctx: Context, markers: tuple[str, ...]) -> list[Finding]:
    """Pods of the stack's workloads whose logs, messages or events carry a marker."""
    found = []
    for run in ctx.runs():
        if run.workload is None or not run.current:
            continue
        hit = next((m for m in markers if m in run.said), None)
        if hit:
            where = f" on {run.node}" if run.node else ""
            found.append(Finding(f"workload:{run.workload}",
                                 f"{run.label}{where}: {run.status}: {run.line(hit)}"))
    return found


@check("image-arch-mismatch", "Is a workload's image built for another CPU architecture?",
       "every image pulls and starts on its nodes' architecture")
def image_arch_mismatch(ctx: Context) -> list[Finding]:
    return _runs_saying(ctx, WRONG_ARCHITECTURE)


@check("gpu-memory-exceeds-gpu", "Does a workload need more GPU memory than its GPU has?",
       "no workload runs out of GPU memory")
def gpu_memory_exceeds_gpu(ctx: Context) -> list[Finding]:
    return _runs_saying(ctx, OUT_OF_GPU_MEMORY)


@check("gpu-held-on-cpu", "Does a workload hold a GPU but compute on the CPU?",
       "every workload that holds a GPU computes on it")
def gpu_held_on_cpu(ctx: Context) -> list[Finding]:
    found = []
    for controller, pod, _, workload in stack_workload_pods(ctx):
        for container in pod["spec"].get("containers") or []:
            args = [str(a) for a in container.get("args") or []]
            device = option(args, "--device", "auto")
            if _gpu(pod) and device == "cpu":
                found.append(Finding(f"workload:{workload}", f"{ref(controller)} requests "
                                     f"{_gpu(pod)} GPU(s) and runs infer.py --device cpu"))
    return found


def _placement_only(pod: dict) -> dict:
    """The pod without its resource requests: where may it go at all?"""
    return {**pod, "spec": {**pod["spec"], "containers": [
        {**c, "resources": {}} for c in pod["spec"].get("containers") or []],
        "initContainers": []}}


@check("gpu-pod-off-gpu-pool", "Does a GPU pod target nodes that have no GPUs?",
       "every GPU pod targets GPU nodes")
def gpu_pod_off_gpu_pool(ctx: Context) -> list[Finding]:
    gpu_nodes = _gpu_nodes(ctx.nodes)
    found = []
    for controller, pod, _, workload in stack_workload_pods(ctx):
        if not _gpu(pod):
            continue
        if not pod_schedulable(_placement_only(pod), gpu_nodes):
            selector = pod["spec"].get("nodeSelector")
            found.append(Finding(f"workload:{workload}", f"{ref(controller)} requests GPUs but "
                                 f"its node selector {selector} matches no GPU node: "
                                 f"{pod_schedulable(pod, ctx.nodes).reason}"))
    return found


@check("gpu-request-exceeds-node", "Does a pod ask for more GPUs than any node has?",
       "every pod's GPUs fit on one node of its pool")
def gpu_request_exceeds_node(ctx: Context) -> list[Finding]:
    found = []
    for controller, pod, _, workload in stack_workload_pods(ctx):
        asked = _gpu(pod)
        if not asked:
            continue
        placement = _placement_only(pod)
        reachable = [n for n in _gpu_nodes(ctx.nodes) if pod_schedulable(placement, [n])]
        # Nodes without a device plugin are gpus-not-advertised's business.
        sizes = {n["metadata"]["name"]: _allocatable_gpus(n) for n in reachable
                 if _allocatable_gpus(n)}
        pool = (pod["spec"].get("nodeSelector") or {}).get(POOL_LABEL)
        where = f"{pool} nodes" if pool else "the nodes it may use"
        if sizes:
            largest = max(sizes.values())
            if asked > largest:
                found.append(Finding(f"workload:{workload}", f"{ref(controller)} asks for "
                                     f"{asked} GPUs per pod; {where} have at most {largest} "
                                     f"(allocatable): Pending, Insufficient {GPU_RESOURCE}"))
        elif not reachable and ctx.observed:
            # A pool scaled to zero has no nodes to read: its spec says what a new one has.
            spec_pool = next((p for p in ctx.spec.gpu_pools if p.name == pool), None)
            if spec_pool and asked > spec_pool.schedulable_gpus_per_node:
                found.append(Finding(f"workload:{workload}", f"{ref(controller)} asks for "
                                     f"{asked} GPUs per pod; a {pool} node would have "
                                     f"{spec_pool.schedulable_gpus_per_node} (no node of the "
                                     f"pool is up)"))
    return found


@check("replicas-pinned", "Are a workload's replicas forced onto one node while others idle?",
       "replicas are free to spread over the pool's nodes")
def replicas_pinned(ctx: Context) -> list[Finding]:
    nodes_per_pool = {p.name: p.max_nodes for p in ctx.spec.gpu_pools}
    found = []
    for controller, pod, replicas, workload in stack_workload_pods(ctx):
        labels = pod["metadata"].get("labels") or {}
        terms = (((pod["spec"].get("affinity") or {}).get("podAffinity") or {})
                 .get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        pool = (pod["spec"].get("nodeSelector") or {}).get(POOL_LABEL)
        for term in terms:
            own = all(labels.get(k) == v for k, v in
                      ((term.get("labelSelector") or {}).get("matchLabels") or {}).items())
            if (own and term.get("topologyKey") == "kubernetes.io/hostname" and replicas > 1
                    and nodes_per_pool.get(pool, 1) > 1):
                found.append(Finding(f"workload:{workload}", f"{ref(controller)}: all "
                                     f"{replicas} replicas must share one node (required pod "
                                     f"affinity on kubernetes.io/hostname) while {pool} has "
                                     f"{nodes_per_pool[pool]} nodes"))
    return found


def run_all(ctx: Context) -> dict[str, Answer]:
    return {check_id: c.run(ctx) for check_id, c in CHECKS.items()}


def offline_context(spec: LabSpec, rendering) -> Context:
    """The context of a rendered stack: its objects and the nodes its pools would have."""
    from kube.nodes import nodes_from_spec
    objects = ObjectSet(rendering.check_objects())
    return Context(spec=spec, objects=objects, nodes=nodes_from_spec(spec, objects))
