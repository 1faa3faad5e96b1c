"""The symptom checks: one question per thing a fault can break, answered over a cluster's
objects (rendered offline or read live), the nodes, and the stack's spec.

Each check is written from the candidate's side ("can tenant-a list tenant-b's pods?"),
not from the fault's: the baseline answers every one with "no symptom", and a fault
turns exactly its own check on. Answers carry the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from kube.answer import Answer
from kube.netpol import Endpoint, egress_allowed
from kube.nodes import denied_tags
from kube.objects import ObjectSet, ref
from kube.quota import make_pod, quota_admits
from kube.rbac import Subject, can_i
from kube.pod_resources import pod_requests
from kube.scheduling import pod_schedulable
from model.spec import ACCELERATOR_LABEL, GPU_RESOURCE, LabSpec, WorkloadSpec

DCGM_APP = "nvidia-dcgm-exporter"


Authorizer = Callable[[Subject, str, str, str], Answer]   # subject, verb, resource, namespace


@dataclass
class Context:
    """What the checks look at. Offline: rendered objects, nodes from the spec, RBAC answered
    by kube.rbac. Live: objects and nodes read from the cluster, RBAC answered by the
    API server (SubjectAccessReview), plus pods, events and logs as runtime evidence."""
    spec: LabSpec
    objects: ObjectSet
    nodes: list[dict]
    authorizer: Optional[Authorizer] = None
    live: bool = False
    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (ns, pod, container)
    # Live only, when reachable: does this PromQL query return series?
    prometheus: Optional[Callable[[str], Optional[bool]]] = None
    _twin: Optional[list] = None

    def twin(self) -> list:
        """What the twin says the pods of these objects do on these nodes (computed once)."""
        if self._twin is None:
            from kube.twin import simulate
            self._twin = simulate(self.spec, self.objects, self.nodes)
        return self._twin

    def can_i(self, subject: Subject, verb: str, resource: str, namespace: str) -> Answer:
        if self.authorizer is not None:
            return self.authorizer(subject, verb, resource, namespace)
        return can_i(self.objects, subject, verb, resource, namespace)


@dataclass(frozen=True)
class SymptomCheck:
    id: str
    question: str
    run: Callable[[Context], Answer]      # allowed=True means: the symptom is present


CHECKS: dict[str, SymptomCheck] = {}


def check(check_id: str, question: str):
    def register(fn: Callable[[Context], Answer]) -> Callable[[Context], Answer]:
        CHECKS[check_id] = SymptomCheck(check_id, question, fn)
        return fn
    return register


def present(evidence: Iterable[str], healthy: str) -> Answer:
    evidence = list(evidence)
    return Answer(True, "; ".join(evidence)) if evidence else Answer(False, healthy)


def _gpu(pod: dict) -> int:
    return int(pod_requests(pod.get("spec") or {}).get(GPU_RESOURCE, 0))


def _workload_for(ctx: Context, controller: dict) -> Optional[WorkloadSpec]:
    meta = controller["metadata"]
    for workload in ctx.spec.workloads:
        if (workload.tenant, workload.name) == (meta.get("namespace"), meta.get("name")):
            return workload
    return None


def _gpu_nodes(nodes: list[dict]) -> list[dict]:
    return [n for n in nodes if ACCELERATOR_LABEL in (n["metadata"].get("labels") or {})]


# -- tenants ------------------------------------------------------------------------------

@check("cross-tenant-access", "Can a member of one tenant read another tenant's pods?")
def cross_tenant_access(ctx: Context) -> Answer:
    evidence = []
    for own in ctx.spec.tenants:
        members = [Subject.group(g) for g in own.admin_groups + own.developer_groups]
        members += [Subject.service_account(own.name, sa) for sa in ("workload", "job-submitter")]
        for other in ctx.spec.tenants:
            if other.name == own.name:
                continue
            for subject in members:
                answer = ctx.can_i(subject, "list", "pods", other.name)
                if answer:
                    evidence.append(f"{subject} can list pods in {other.name}: {answer.reason}")
    return present(evidence, "no tenant member can list another tenant's pods")


@check("gpu-quota-unenforced",
       "Would a tenant's quota admit more GPUs than the tenant is allocated?")
def gpu_quota_unenforced(ctx: Context) -> Answer:
    evidence = []
    for tenant in ctx.spec.tenants:
        # A probe that asks for next to no CPU and memory, so only the GPU line is tested.
        probe = make_pod(gpus=1, cpu="10m", memory="16Mi")
        beyond = quota_admits(ctx.objects, tenant.name, probe, copies=tenant.gpus + 1)
        if beyond:
            asked = sum(w.gpus * w.replicas for w in ctx.spec.workloads if w.tenant == tenant.name)
            evidence.append(f"{tenant.name} is allocated {tenant.gpus} GPU(s) but its quota "
                            f"admits {tenant.gpus + 1} ({beyond.reason}); its workloads ask "
                            f"for {asked}")
    return present(evidence, "every tenant's quota stops GPU requests beyond its allocation")


@check("tenant-egress-blocked", "Is a tenant cut off from registries and the internet?")
def tenant_egress_blocked(ctx: Context) -> Answer:
    evidence = []
    cut_off = denied_tags(ctx.objects)
    for tenant in ctx.spec.tenants:
        internet = egress_allowed(ctx.objects, tenant.name, Endpoint.internet())
        if not internet:
            evidence.append(f"NetworkPolicy: {internet.reason}")
        for workload in ctx.spec.workloads:
            pool = next((p for p in ctx.spec.gpu_pools if p.name == workload.pool), None)
            if workload.tenant == tenant.name and pool and pool.network_tag in cut_off:
                evidence.append(f"GCP firewall denies egress from {pool.name} nodes "
                                f"(tag {pool.network_tag}), where {tenant.name}/{workload.name} "
                                f"runs")
    return present(evidence, "every tenant reaches the internet")


@check("job-submission-forbidden", "Is a tenant's CI identity forbidden to create Jobs?")
def job_submission_forbidden(ctx: Context) -> Answer:
    evidence = []
    for tenant in ctx.spec.tenants:
        ci = Subject.service_account(tenant.name, "job-submitter")
        answer = ctx.can_i(ci, "create", "jobs", tenant.name)
        if not answer:
            evidence.append(f"{tenant.name}: {answer.reason}")
    return present(evidence, "every tenant's job-submitter may create Jobs")


# -- GPUs on the nodes ----------------------------------------------------------------------

@check("gpus-not-advertised", "Do GPU nodes fail to advertise nvidia.com/gpu?")
def gpus_not_advertised(ctx: Context) -> Answer:
    return present((f"node {n['metadata']['name']} "
                    f"({n['metadata']['labels'][ACCELERATOR_LABEL]}) has no allocatable "
                    f"{GPU_RESOURCE}: no device plugin runs there"
                    for n in _gpu_nodes(ctx.nodes)
                    if not int((n.get("status") or {}).get("allocatable", {})
                               .get(GPU_RESOURCE, 0))),
                   "every GPU node advertises its GPUs")


@check("dcgm-not-scraped", "Are DCGM GPU metrics missing from Prometheus?")
def dcgm_not_scraped(ctx: Context) -> Answer:
    monitors = [m for m in ctx.objects.of_kind("ServiceMonitor")
                if (m["spec"].get("selector") or {}).get("matchLabels", {}).get("app") == DCGM_APP]
    if monitors:
        return Answer(False, f"{ref(monitors[0])} scrapes the DCGM exporter")
    operator = ctx.objects.get("HelmRelease", "gpu-operator", "gpu-operator")
    if operator:
        exporter = (operator["spec"].get("values") or {}).get("dcgmExporter") or {}
        if exporter.get("enabled") and (exporter.get("serviceMonitor") or {}).get("enabled"):
            return Answer(False, "the GPU Operator deploys the DCGM exporter with a "
                                 "ServiceMonitor")
        return Answer(True, "the GPU Operator's dcgmExporter "
                            + ("ServiceMonitor is off" if exporter.get("enabled")
                               else "is off"))
    return Answer(True, "no ServiceMonitor scrapes the DCGM exporter")


# -- workloads -------------------------------------------------------------------------------

@check("tenant-observability-broken",
       "Does a tenant workload escape Prometheus or kubectl logs?")
def tenant_observability_broken(ctx: Context) -> Answer:
    evidence = []
    for controller, pod, _ in ctx.objects.workload_pods():
        namespace, name = controller["metadata"]["namespace"], controller["metadata"]["name"]
        labels = pod["metadata"].get("labels") or {}
        ports = {p.get("name") for c in pod["spec"].get("containers") or []
                 for p in c.get("ports") or []}
        monitors = [m for m in ctx.objects.of_kind("PodMonitor", namespace)
                    if all(labels.get(k) == v for k, v in
                           ((m["spec"].get("selector") or {}).get("matchLabels") or {}).items())]
        scraped = [m for m in monitors if any(e.get("port") in ports for e in
                                              m["spec"].get("podMetricsEndpoints") or [])]
        if not scraped:
            why = ("its PodMonitor scrapes a port the pod does not have" if monitors
                   else "no PodMonitor selects its pods")
            evidence.append(f"{namespace}/{name} is not scraped: {why}")
        for container in pod["spec"].get("containers") or []:
            if "--log-file" in (container.get("args") or []):
                evidence.append(f"{namespace}/{name} writes its logs to a file, so kubectl "
                                f"logs shows nothing")
    return present(evidence, "every workload is scraped and logs to stdout")


def _pods_saying(ctx: Context, *markers: str) -> list[str]:
    """Pods (as the twin runs them) whose logs or status message carry one of the markers."""
    found = []
    for view in ctx.twin():
        text = " ".join([view.message, *view.logs.values()])
        hit = next((m for m in markers if m in text), None)
        if hit:
            line = next((l for l in text.splitlines() if hit in l), hit)
            found.append(f"{view.namespace}/{view.pod or view.owner} on {view.node}: "
                         f"{view.status}: {line.strip()}")
    return found


@check("image-arch-mismatch", "Is a workload's image built for another CPU architecture?")
def image_arch_mismatch(ctx: Context) -> Answer:
    return present(_pods_saying(ctx, "exec format error", "no match for platform"),
                   "every image pulls and starts on its nodes' architecture")


@check("gpu-memory-exceeds-gpu", "Does a workload need more GPU memory than its GPU has?")
def gpu_memory_exceeds_gpu(ctx: Context) -> Answer:
    return present(_pods_saying(ctx, "CUDA out of memory"),
                   "no workload runs out of GPU memory")


@check("gpu-held-on-cpu", "Does a workload hold a GPU but compute on the CPU?")
def gpu_held_on_cpu(ctx: Context) -> Answer:
    evidence = []
    for controller, pod, _ in ctx.objects.workload_pods():
        for container in pod["spec"].get("containers") or []:
            args = container.get("args") or []
            if _gpu(pod) and "--device" in args and args[args.index("--device") + 1] == "cpu":
                evidence.append(f"{ref(controller)} requests {_gpu(pod)} GPU(s) and runs "
                                f"infer.py --device cpu")
    return present(evidence, "every workload that holds a GPU computes on it")


@check("gpu-pod-off-gpu-pool", "Does a GPU pod target nodes that have no GPUs?")
def gpu_pod_off_gpu_pool(ctx: Context) -> Answer:
    gpu_nodes = _gpu_nodes(ctx.nodes)
    evidence = []
    for controller, pod, _ in ctx.objects.workload_pods():
        if not _gpu(pod):
            continue
        relaxed = {**pod, "spec": {**pod["spec"], "containers": [
            {**c, "resources": {}} for c in pod["spec"].get("containers") or []],
            "initContainers": []}}
        if not pod_schedulable(relaxed, gpu_nodes):
            selector = pod["spec"].get("nodeSelector")
            evidence.append(f"{ref(controller)} requests GPUs but its node selector "
                            f"{selector} matches no GPU node: "
                            f"{pod_schedulable(pod, ctx.nodes).reason}")
    return present(evidence, "every GPU pod targets GPU nodes")


@check("gpu-request-exceeds-node", "Does a pod ask for more GPUs than any node has?")
def gpu_request_exceeds_node(ctx: Context) -> Answer:
    largest = {p.name: p.schedulable_gpus_per_node for p in ctx.spec.gpu_pools}
    evidence = []
    for controller, pod, _ in ctx.objects.workload_pods():
        pool = (pod["spec"].get("nodeSelector") or {}).get("gpu-lab/pool")
        if pool in largest and _gpu(pod) > largest[pool]:
            evidence.append(f"{ref(controller)} asks for {_gpu(pod)} GPUs per pod; {pool} "
                            f"nodes have {largest[pool]}: Pending, Insufficient {GPU_RESOURCE}")
    return present(evidence, "every pod's GPUs fit on one node of its pool")


@check("replicas-pinned", "Are a workload's replicas forced onto one node while others idle?")
def replicas_pinned(ctx: Context) -> Answer:
    nodes_per_pool = {p.name: p.max_nodes for p in ctx.spec.gpu_pools}
    evidence = []
    for controller, pod, replicas in ctx.objects.workload_pods():
        labels = pod["metadata"].get("labels") or {}
        terms = (((pod["spec"].get("affinity") or {}).get("podAffinity") or {})
                 .get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        pool = (pod["spec"].get("nodeSelector") or {}).get("gpu-lab/pool")
        for term in terms:
            own = all(labels.get(k) == v for k, v in
                      ((term.get("labelSelector") or {}).get("matchLabels") or {}).items())
            if (own and term.get("topologyKey") == "kubernetes.io/hostname" and replicas > 1
                    and nodes_per_pool.get(pool, 1) > 1):
                evidence.append(f"{ref(controller)}: all {replicas} replicas must share one "
                                f"node (required pod affinity on kubernetes.io/hostname) "
                                f"while {pool} has {nodes_per_pool[pool]} nodes")
    return present(evidence, "replicas are free to spread over the pool's nodes")


def run_all(ctx: Context) -> dict[str, Answer]:
    return {check_id: c.run(ctx) for check_id, c in CHECKS.items()}


def offline_context(spec: LabSpec, rendering) -> Context:
    """The context of a rendered stack: its objects and the nodes its pools would have."""
    from kube.nodes import nodes_from_spec
    objects = ObjectSet(rendering.check_objects())
    return Context(spec=spec, objects=objects, nodes=nodes_from_spec(spec, objects))
