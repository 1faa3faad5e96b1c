"""Evidence names each object once, as namespace/name: a pod its controller could not create
(FailedCreate) is named by its workload, never as <namespace>/<namespace>/<name>.

The all-faults stack in the two states where pods are refused: offline, with every tenant's
GPU quota at zero (the twin refuses the GPU pods), and observed, with the controllers'
FailedCreate events and no pods (as `lab verify` reads a cluster). Every text a verdict, a
symptom check or the collateral shows is searched for a doubled namespace segment."""

from __future__ import annotations

import copy
import re

import pytest

from faults import build_spec
from kube.objects import ObjectSet
from kube.symptoms import CHECKS, Context, offline_context
from lab.grading import observe
from lab.render import render
from lab.verify import verify
from tests.helpers import stack_values

ALL = stack_values("all-faults")
BASELINE = {k: v for k, v in ALL.items() if k != "gpu-lab:faults"}


def doubled(text: str, namespaces: set[str]) -> list[str]:
    return [m.group(0) for ns in namespaces
            for m in re.finditer(rf"(?<![\w.-]){re.escape(ns)}/{re.escape(ns)}/", text)]


@pytest.fixture(scope="module")
def faulty():
    spec = build_spec(ALL, stack="all-faults")
    return spec, offline_context(spec, render(ALL, stack="all-faults"))


@pytest.fixture(scope="module")
def healthy():
    return build_spec(BASELINE, stack="all-faults")


def no_gpu_quota(ctx: Context) -> Context:
    """The same objects with every tenant's GPU quota at zero: the twin refuses GPU pods."""
    objects = copy.deepcopy(ctx.objects.objects)
    for obj in objects:
        if obj["kind"] == "ResourceQuota":
            hard = (obj.get("spec") or {}).get("hard") or {}
            for key in [k for k in hard if "nvidia.com/gpu" in k]:
                hard[key] = "0"
            if "nvidia.com/gpu" in str(hard) and "requests.nvidia.com/gpu" not in hard:
                hard["requests.nvidia.com/gpu"] = "0"
    return Context(spec=ctx.spec, objects=ObjectSet(objects), nodes=ctx.nodes)


def refused_by_controllers(ctx: Context) -> Context:
    """A cluster with the stack's objects, no pods, and a FailedCreate event from the
    controller of every workload (a ReplicaSet for a Deployment, the Job itself)."""
    events = []
    for w in ctx.spec.workloads:
        kind, name = ("Job", w.name) if w.kind.lower() == "job" else \
            ("ReplicaSet", f"{w.name}-5d8f7c9b6")
        events.append({
            "kind": "Event", "apiVersion": "v1", "type": "Warning", "reason": "FailedCreate",
            "metadata": {"name": f"{name}.17a", "namespace": w.tenant},
            "involvedObject": {"kind": kind, "namespace": w.tenant, "name": name},
            "source": {"component": f"{kind.lower()}-controller"},
            "message": f'Error creating: pods "{name}-x" is forbidden: exceeded quota: '
                       f'compute, requested: requests.nvidia.com/gpu=1, used: '
                       f'requests.nvidia.com/gpu=0, limited: requests.nvidia.com/gpu=0'})
    return Context(spec=ctx.spec, objects=ObjectSet(ctx.objects.objects + events),
                   nodes=ctx.nodes, live=True, authorizer=None)


@pytest.mark.parametrize("state", [no_gpu_quota, refused_by_controllers])
def test_evidence_names_each_object_once(faulty, healthy, state):
    spec, ctx = faulty
    ctx = state(ctx)
    refused = [r for r in ctx.runs() if r.name is None]
    assert refused, "the state should have pods their controllers could not create"
    namespaces = {t.name for t in spec.tenants} | {o["metadata"].get("namespace") for o in
                                                   ctx.objects.objects
                                                   if o.get("metadata", {}).get("namespace")}
    texts = {f"verdict {v.fault}": v.evidence for v in verify(spec, ctx)}
    texts.update({f"check {check_id} {f.target}": f.evidence
                  for check_id, check in CHECKS.items() for f in check.findings(ctx)})
    texts.update({f"observation {key}": o.text
                  for key, o in observe(ctx, healthy, []).items()})
    texts.update({f"run {r.label}": r.label for r in ctx.runs()})
    bad = {where: doubled(text, namespaces) for where, text in texts.items()
           if doubled(text, namespaces)}
    assert bad == {}
    # the refused pods are named by their workload, namespace/name
    for run in refused:
        assert run.label == run.workload or run.label.startswith(f"{run.namespace}/")
