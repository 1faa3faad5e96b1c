"""Which of a stack's faults are still there? Per enabled fault: present, fixed, or cannot
tell, with the evidence.

Each fault is judged by its own symptom check (kube/symptoms.py), scoped to the fault's own
targets (`fault.targets(spec, **params)`): what the check finds elsewhere is not this fault
(lab/grading.py reports it as collateral). Where a symptom only shows at run time (an exec
format error, a CUDA OOM, image pulls that time out behind a firewall), the check reads
what the pods do: the twin's pods offline, the cluster's pods, events and logs live or in a
snapshot. A verdict needs evidence: a workload whose pods have neither failed that way nor
run (or completed) is "cannot tell"; so is a state that cannot settle the question (a
binding to a ClusterRole whose rules it does not hold, a workload whose pods fail before
they could show what the check asks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from faults import enabled
from faults.base import Fault
from kube.answer import Answer
from kube.symptoms import (ATTRIBUTION_LOST, CHECKS, Context, Finding, PodRun,
                           node_starting, workload_runs)
from model.spec import LabSpec

PRESENT, FIXED, UNKNOWN = "present", "fixed", "cannot tell"


@dataclass(frozen=True)
class Verdict:
    fault: str
    title: str
    status: str             # present | fixed | cannot tell
    evidence: str
    question: str = ""

    def to_json(self) -> dict:
        return {"fault": self.fault, "title": self.title, "status": self.status,
                "evidence": self.evidence}


@dataclass(frozen=True)
class Scope:
    """One fault as the judge sees it: its targets, and the workloads among them."""
    targets: frozenset[str]
    healthy: str = ""            # its check's answer when nothing is found

    @property
    def workloads(self) -> list[str]:
        return sorted(t.removeprefix("workload:") for t in self.targets
                      if t.startswith("workload:"))

    def names(self, kind: str) -> list[str]:
        return sorted(t.split(":", 1)[1] for t in self.targets if t.startswith(f"{kind}:"))


def _join(parts) -> str:
    return "; ".join(dict.fromkeys(p for p in parts if p))


def _runs(ctx: Context, scope: Scope) -> list[PodRun]:
    return [r for w in scope.workloads for r in workload_runs(ctx, w)]


def _found(findings: list[Finding]) -> Optional[Answer]:
    return Answer(True, _join(f.evidence for f in findings)) if findings else None


def _pods_that_ran(ctx: Context, scope: Scope) -> list[str]:
    return [f"pod {r.label} is {r.status}" for r in _runs(ctx, scope) if r.healthy]


def _waiting(ctx: Context, scope: Scope) -> str:
    runs = _runs(ctx, scope)
    if not runs:
        return f"no pods of {', '.join(scope.workloads) or 'its workloads'} to look at yet"
    return "its pods have neither failed that way nor run yet: " + \
        ", ".join(f"{r.label} {r.status}" for r in runs)


@dataclass(frozen=True)
class CannotTell:
    """A judge's answer when the state cannot settle it, with why."""
    reason: str


# Each judge: (check findings on the fault's targets, context, scope) -> answer, CannotTell,
# or None (cannot tell: nothing to look at yet).
Judge = Callable[[list[Finding], Context, Scope], "Optional[Answer | CannotTell]"]


def _runtime(findings, ctx, scope) -> Optional[Answer]:
    """A workload that fails at start: present when a pod says so, fixed when its current
    pods run or completed, else cannot tell."""
    found = _found(findings)
    if found:
        return found
    ran = _pods_that_ran(ctx, scope)
    return Answer(False, _join([scope.healthy, *ran])) if ran else None


def _scheduling(findings, ctx, scope) -> Optional[Answer]:
    """The objects and nodes decide; why the affected pods are still Pending (their
    FailedScheduling events) or that they run is the evidence."""
    if not findings:
        return Answer(False, _join([scope.healthy, *_pods_that_ran(ctx, scope)]))
    events = [f"pod {r.label} Pending: {line}" for r in _runs(ctx, scope)
              if r.status == "Pending" for line in [_scheduler_says(r)] if line]
    return Answer(True, _join([*(f.evidence for f in findings), *sorted(set(events))]))


def _scheduler_says(run: PodRun) -> str:
    for event in run.events:
        if "FailedScheduling" in event:
            return event.split("FailedScheduling", 1)[1].strip().removeprefix(
                "default-scheduler").strip()
    return ""


def _device_plugin(findings, ctx, scope) -> Optional[Answer]:
    if findings:
        return _scheduling(findings, ctx, scope)
    pools = scope.names("pool")
    nodes = [n for n in ctx.nodes if (n["metadata"].get("labels") or {}).get("gpu-lab/pool")
             in pools]
    if not ctx.nodes_observed or not nodes:
        return None
    settled = [n for n in nodes if not node_starting(ctx, n)]
    if not settled:
        return None
    advertised = ", ".join(f"{n['metadata']['name']} "
                           f"{(n.get('status') or {}).get('allocatable', {}).get('nvidia.com/gpu')}"
                           for n in settled)
    return Answer(False, _join([f"every node of {', '.join(pools)} advertises nvidia.com/gpu "
                                f"({advertised})", *_pods_that_ran(ctx, scope)]))


def _egress(findings, ctx, scope) -> Optional[Answer]:
    if findings:
        return _found(findings)
    firewall_known = not ctx.observed or bool(ctx.objects.of_kind("GcpFirewall"))
    pulled = [r for r in _runs(ctx, scope) if r.healthy or
              (r.node and "ImagePull" not in r.status and "ErrImage" not in r.status
               and r.status not in ("Pending", "ContainerCreating"))]
    ran = [f"pod {r.label} pulled its image ({r.status})" for r in pulled]
    if firewall_known:
        return Answer(False, _join(["NetworkPolicies allow egress, no firewall rule denies "
                                    "it and no image pull fails", *ran]))
    if ran:
        return Answer(False, _join(["NetworkPolicies allow egress and no image pull fails",
                                    *ran]))
    return None


def _dcgm(findings, ctx, scope) -> Optional[Answer]:
    """Prometheus's own view, when it can be reached; else the monitors. Scraped is not
    enough: the GPU series must keep the namespace and pod of the workload using the GPU
    (honorLabels, no namespace label enforced on them)."""
    query = 'up{job="nvidia-dcgm-exporter"} == 1'
    scraped = ctx.prometheus(query) if ctx.prometheus else None
    if scraped is None:
        return _found(findings) or Answer(False, scope.healthy)
    if not scraped:
        return Answer(True, f"Prometheus has no healthy nvidia-dcgm-exporter target ({query})")
    renamed = 'DCGM_FI_DEV_GPU_UTIL{exported_namespace!=""}'
    if ctx.prometheus(renamed):
        return Answer(True, f"Prometheus scrapes the DCGM exporter, but its GPU series carry "
                            f"exported_namespace and exported_pod ({renamed}): honorLabels is "
                            f"off, so {ATTRIBUTION_LOST}")
    lost = [f for f in findings if ATTRIBUTION_LOST in f.evidence]
    if lost:
        return _found(lost)
    return Answer(False, f"Prometheus has a healthy nvidia-dcgm-exporter target ({query}) and "
                         f"no GPU series with exported_namespace")


def _behaviour(findings, ctx, scope) -> "Optional[Answer | CannotTell]":
    """What a workload does (computes on its GPU, is seen by Prometheus and kubectl logs,
    spreads over the nodes): a workload whose current pods fail does none of it, so a clean
    check says nothing."""
    found = _found(findings)
    if found:
        return found
    failing = [r for r in _runs(ctx, scope) if r.failing]
    if failing:
        return CannotTell("its pods fail, so what they would do cannot be seen: " +
                          "; ".join(f"{r.label} {r.status}: {r.why()}" for r in failing[:3]))
    return Answer(False, scope.healthy)


JUDGES: dict[str, Judge] = {
    "image-arch-mismatch": _runtime,
    "gpu-memory-exceeds-gpu": _runtime,
    "tenant-egress-blocked": _egress,
    "dcgm-not-scraped": _dcgm,
    "gpus-not-advertised": _device_plugin,
    "gpu-pod-off-gpu-pool": _scheduling,
    "gpu-request-exceeds-node": _scheduling,
    "gpu-held-on-cpu": _behaviour,
    "tenant-observability-broken": _behaviour,
    "replicas-pinned": _behaviour,
}


def judge(spec: LabSpec, ctx: Context, fault: Fault, params: dict) -> Verdict:
    info = fault.describe(params, spec)
    check = CHECKS[fault.check]
    scope = Scope(frozenset(fault.targets(spec, **params)), check.healthy)
    found = check.findings(ctx, scope.targets)
    # What the state cannot settle (a binding to a role whose rules it does not hold) makes
    # "fixed" a "cannot tell", never a "present".
    findings = [f for f in found if not f.unsure]
    unsure = [f.evidence for f in found if f.unsure]
    run = JUDGES.get(fault.check)
    answer = run(findings, ctx, scope) if run else \
        (_found(findings) or Answer(False, check.healthy))
    if unsure and isinstance(answer, Answer) and not answer:
        answer = CannotTell(_join(unsure))
    if isinstance(answer, CannotTell):
        return Verdict(fault.id, info["title"], UNKNOWN, answer.reason, check.question)
    if answer is None:
        return Verdict(fault.id, info["title"], UNKNOWN, _waiting(ctx, scope)
                       if scope.workloads else "nothing to look at yet", check.question)
    return Verdict(fault.id, info["title"], PRESENT if answer else FIXED, answer.reason,
                   check.question)


def verify(spec: LabSpec, ctx: Context) -> list[Verdict]:
    return [judge(spec, ctx, fault, params) for fault, params in enabled(spec)]


def table(verdicts: list[Verdict]) -> str:
    if not verdicts:
        return "no faults are enabled in this stack"
    width = max(len(v.fault) for v in verdicts)
    lines = [f"{'FAULT':{width}}  {'STATUS':11}  EVIDENCE"]
    lines += [f"{v.fault:{width}}  {v.status:11}  {v.evidence}" for v in verdicts]
    fixed = sum(v.status == FIXED for v in verdicts)
    lines.append(f"{fixed}/{len(verdicts)} fixed")
    return "\n".join(lines)
