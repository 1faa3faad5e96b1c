"""Which of a stack's faults are still there? Per enabled fault: present, fixed, or cannot
tell, with the evidence.

The symptom checks of kube/symptoms.py run on what the cluster holds; where a symptom only
shows at run time (an exec format error, a CUDA OOM, image pulls that time out behind a
firewall), the verdict comes from the pods, their events and their logs instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional

from faults import enabled
from kube.answer import Answer
from kube.symptoms import CHECKS, Context
from model.spec import LabSpec, WorkloadSpec

PRESENT, FIXED, UNKNOWN = "present", "fixed", "cannot tell"


@dataclass(frozen=True)
class Verdict:
    fault: str
    title: str
    status: str             # present | fixed | cannot tell
    evidence: str
    question: str

    def to_json(self) -> dict:
        return asdict(self)


def pods_of(ctx: Context, workload: WorkloadSpec) -> list[dict]:
    return [p for p in ctx.objects.of_kind("Pod", workload.tenant)
            if (p["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == workload.name]


def _statuses(pod: dict) -> list[dict]:
    status = pod.get("status") or {}
    return (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])


def _crash_text(ctx: Context, pod: dict) -> str:
    """Everything a failing container said: its logs, termination and waiting messages."""
    namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    parts = []
    for status in _statuses(pod):
        parts.append(ctx.logs.get((namespace, name, status.get("name")), ""))
        for state in ((status.get("state") or {}), (status.get("lastState") or {})):
            for detail in state.values():
                if isinstance(detail, dict):
                    parts += [str(detail.get("reason", "")), str(detail.get("message", "")),
                              f"exitCode={detail.get('exitCode')}"]
    return "\n".join(parts)


def _running(pod: dict) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and all(
        s.get("ready") for s in status.get("containerStatuses") or [])


def _workload_runtime(marker: str, failure: str) -> Callable[..., Optional[Answer]]:
    """Runtime evidence for the fault's workload, which fails at start with `marker` in its
    output: present when a pod says so, fixed when its pods run, else cannot tell."""
    def run(ctx: Context, workload: str = "", **_) -> Optional[Answer]:
        evidence, healthy = [], []
        for spec in ctx.spec.workloads:
            if workload and f"{spec.tenant}/{spec.name}" != workload:
                continue
            for pod in pods_of(ctx, spec):
                name = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
                if marker in _crash_text(ctx, pod):
                    evidence.append(f"pod {name}: {failure}")
                elif _running(pod):
                    healthy.append(f"pod {name} is running")
        if evidence:
            return Answer(True, "; ".join(evidence))
        if healthy:
            return Answer(False, "; ".join(healthy))
        return None
    return run


def _egress_runtime(ctx: Context, **_) -> Optional[Answer]:
    """NetworkPolicies are in the cluster; the GCP firewall is not: image pulls that fail
    for a tenant whose policies allow the internet point at it."""
    policy = CHECKS["tenant-egress-blocked"].run(ctx)
    if policy:
        return policy
    pulls = [f"pod {p['metadata']['namespace']}/{p['metadata']['name']}: "
             f"{(s.get('state') or {}).get('waiting', {}).get('reason')}"
             for p in ctx.objects.of_kind("Pod") for s in _statuses(p)
             if (s.get("state") or {}).get("waiting", {}).get("reason") in
             ("ErrImagePull", "ImagePullBackOff")]
    if pulls:
        return Answer(True, "image pulls fail although NetworkPolicies allow egress (look at "
                            "the VPC firewall): " + "; ".join(pulls))
    return Answer(False, "NetworkPolicies allow egress and no image pull fails")


def _dcgm_runtime(ctx: Context, **_) -> Optional[Answer]:
    """Prometheus's own view, when it can be reached; else the ServiceMonitors."""
    query = 'up{job="nvidia-dcgm-exporter"} == 1'
    scraped = ctx.prometheus(query) if ctx.prometheus else None
    if scraped is None:
        return CHECKS["dcgm-not-scraped"].run(ctx)
    return Answer(not scraped, f"Prometheus {'has' if scraped else 'has no'} healthy "
                               f"nvidia-dcgm-exporter target ({query})")


def _with_scheduling_events(check_id: str) -> Callable[[Context], Optional[Answer]]:
    """The object check, plus why the affected pods are still Pending (their events)."""
    def run(ctx: Context, **_) -> Optional[Answer]:
        answer = CHECKS[check_id].run(ctx)
        if not answer:
            return answer
        pending = {(p["metadata"]["namespace"], p["metadata"]["name"])
                   for p in ctx.objects.of_kind("Pod")
                   if (p.get("status") or {}).get("phase") == "Pending"}
        events = [f"pod {e['involvedObject']['namespace']}/{e['involvedObject']['name']} "
                  f"Pending: {e.get('message', '')}"
                  for e in ctx.objects.of_kind("Event") if e.get("reason") == "FailedScheduling"
                  and (e["involvedObject"].get("namespace"), e["involvedObject"].get("name"))
                  in pending]
        return Answer(True, "; ".join([answer.reason, *sorted(set(events))]))
    return run


# Live evidence by check id; called with the context and the fault's parameters.
RUNTIME: dict[str, Callable[..., Optional[Answer]]] = {
    "image-arch-mismatch": _workload_runtime(
        "exec format error", "exec format error: the image is built for another architecture"),
    "gpu-memory-exceeds-gpu": _workload_runtime(
        "CUDA out of memory", "CUDA out of memory at start"),
    "tenant-egress-blocked": _egress_runtime,
    "dcgm-not-scraped": _dcgm_runtime,
    **{check_id: _with_scheduling_events(check_id) for check_id in
       ("gpus-not-advertised", "gpu-pod-off-gpu-pool", "gpu-request-exceeds-node")},
}


def verify(spec: LabSpec, ctx: Context) -> list[Verdict]:
    verdicts = []
    for fault, params in enabled(spec):
        info = fault.describe(params, spec)
        check = CHECKS[fault.check]
        answer: Optional[Answer]
        answer = RUNTIME[fault.check](ctx, **params) if ctx.live and fault.check in RUNTIME \
            else check.run(ctx)
        if answer is None:
            verdicts.append(Verdict(fault.id, info["title"], UNKNOWN,
                                    "no pods to look at yet", check.question))
        else:
            verdicts.append(Verdict(fault.id, info["title"], PRESENT if answer else FIXED,
                                    answer.reason, check.question))
    return verdicts


def table(verdicts: list[Verdict]) -> str:
    if not verdicts:
        return "no faults are enabled in this stack"
    width = max(len(v.fault) for v in verdicts)
    lines = [f"{'FAULT':{width}}  {'STATUS':11}  EVIDENCE"]
    lines += [f"{v.fault:{width}}  {v.status:11}  {v.evidence}" for v in verdicts]
    fixed = sum(v.status == FIXED for v in verdicts)
    lines.append(f"{fixed}/{len(verdicts)} fixed")
    return "\n".join(lines)
