"""Grading the candidate's fix: one judge, three sources of truth.

The judged state is a Context (kube/symptoms.py) read from one of:

- a live cluster (lab/live.py): objects, nodes, pods, events, previous logs; RBAC asked of
  the API server;
- a snapshot file (lab/snapshot.py): what `kubectl get ... -A -o yaml` printed;
- the candidate's edited handout: their program and config rendered offline (lab/render.py),
  its nodes from their pools, its pods from the twin.

Per enabled fault the verdict (lab/verify.py) is scoped to the fault's own targets. Then
the collateral: every check the healthy baseline passes that the judged state fails while
the untouched stack passes it too (what the faults break on purpose is the verdicts'
business). The healthy baseline is the stack's config without its faults, rendered
offline; the untouched stack is the stack itself. Besides every symptom check on every
target, the checks are: who may do what (tenants' own people and CI in their namespaces,
nobody more than the baseline grants: cross-tenant access, cluster-wide writes), every
workload still there (not deleted, not scaled to zero), still asking for its GPUs, not
failing, and tenants' pods unreachable from other tenants. Every tenant the judged state
has is judged, not only the stack's: a namespace labelled gpu-lab/tenant that the candidate
added is probed for cross-tenant reach, an unenforced GPU quota and network isolation too.

Where the stack's brief has Part 2 of the pairing exercise (add tenant-c, limit every tenant
to one GPU), that part is judged as its own section, requirement by requirement
(judge_part2): it is not a fault, so no verdict covers it, and it decides the exit code as
the verdicts do.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional

from faults import build_spec, expand
from kube.netpol import ingress_allowed
from kube.nodes import nodes_from_spec
from kube.objects import ObjectSet
from kube.rbac import Subject
from kube.symptoms import (CHECKS, CROSS_TENANT_READS, Context, _gpu, judged_tenants,
                           offline_context, workload_runs)
from lab.verify import FIXED, UNKNOWN, Verdict, verify
from model.spec import LabSpec

BASELINE, UNTOUCHED = "baseline", "untouched"

# What is asked of every subject, in each tenant namespace and kube-system, and cluster-wide.
NAMESPACED_PROBES = (("list", "pods"), ("get", "pods/log"), ("create", "pods"),
                     ("create", "pods/exec"), ("create", "deployments"), ("create", "jobs"),
                     ("get", "secrets"), ("create", "rolebindings"))
CLUSTER_PROBES = (("create", "clusterrolebindings"), ("delete", "nodes"),
                  ("create", "namespaces"))
EVERYONE = ("system:authenticated", "system:serviceaccounts")
# Bindings that come with the cluster or an add-on's chart, not from the lab or a candidate.
FOREIGN_PREFIXES = ("system:", "gce:", "gke-", "kubeadm:")
FOREIGN_LABELS = ("helm.sh/chart", "kubernetes.io/bootstrapping",
                  "addonmanager.kubernetes.io/mode")
SCRAPE_PORT = 8000


class SourceError(RuntimeError):
    """The judged state cannot be read (exit code 3); says why."""


@dataclass(frozen=True)
class Collateral:
    check: str
    evidence: str
    subject: str = ""        # access-gained / access-lost: the user name RBAC judged

    def to_json(self) -> dict:
        return {"check": self.check, "evidence": self.evidence}


@dataclass
class Grade:
    verdicts: list[Verdict]
    collateral: list[Collateral]
    part2: Optional["PartVerdict"] = None    # when the stack's brief has Part 2's tasks

    @property
    def passed(self) -> bool:
        return all(v.status == FIXED for v in self.verdicts) and not self.collateral and \
            (self.part2 is None or self.part2.status == MET)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_json(self) -> dict:
        return {"verdicts": [v.to_json() for v in self.verdicts],
                "part2": self.part2.to_json() if self.part2 else None,
                "collateral": [c.to_json() for c in self.collateral]}

    def table(self) -> str:
        from lab.verify import table
        lines = [table(self.verdicts)]
        if self.part2 is not None:
            lines += ["", self.part2.table()]
        if self.collateral:
            width = max(len(c.check) for c in self.collateral)
            lines += ["", f"COLLATERAL (broken by the changes; the healthy stack passes these)",
                      *(f"{c.check:{width}}  {c.evidence}" for c in self.collateral)]
        else:
            lines.append("no collateral: every check the healthy stack passes still passes")
        return "\n".join(lines)


# -- references --------------------------------------------------------------------------

def baseline_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The stack's config without its faults: scenario expanded, its faults and the stack's
    own dropped."""
    healthy = expand(dict(values))
    healthy["gpu-lab:faults"] = []
    healthy.pop("gpu-lab:scenario", None)
    return healthy


@dataclass
class Reference:
    """The healthy baseline and the untouched stack, rendered offline, with what is known
    of them (computed once per stack)."""
    baseline: Context
    untouched: Context
    memo: dict = field(default_factory=dict)

    def context(self, which: str) -> Context:
        return self.baseline if which == BASELINE else self.untouched


@functools.lru_cache(maxsize=16)
def _offline(key: str, stack: str) -> Context:
    from lab.render import render
    values = json.loads(key)
    return offline_context(build_spec(values, stack=stack), render(values, stack=stack))


def _key(values: Mapping[str, Any]) -> str:
    return json.dumps(dict(values), sort_keys=True, default=str)


@functools.lru_cache(maxsize=8)
def _reference(key: str, stack: str) -> Reference:
    from lab.render import PLACEHOLDER_PROJECT
    values = json.loads(key)
    values.setdefault("gcp:project", PLACEHOLDER_PROJECT)
    # Rendered once per config: stacks that share their baseline share its rendering.
    return Reference(baseline=_offline(_key(baseline_values(values)), stack),
                     untouched=_offline(_key(values), stack))


def reference(values: Mapping[str, Any], stack: str) -> Reference:
    """The references of a stack's config (raises ConfigError on a bad one)."""
    return _reference(_key(values), stack)


# -- what is observed of a state -----------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    subject: Subject
    owner: Optional[str]         # the tenant whose member or CI it is
    verb: str
    resource: str
    namespace: str               # "" = cluster-wide

    @property
    def where(self) -> str:
        return f"in {self.namespace}" if self.namespace else "cluster-wide"


@dataclass(frozen=True)
class Observation:
    check: str
    value: bool
    text: str


def _tenant_subjects(spec: LabSpec) -> list[tuple[Subject, Optional[str]]]:
    found: list[tuple[Subject, Optional[str]]] = []
    for tenant in spec.tenants:
        found += [(Subject.group(g), tenant.name)
                  for g in tenant.admin_groups + tenant.developer_groups]
        found += [(Subject.service_account(tenant.name, sa), tenant.name)
                  for sa in ("workload", "job-submitter")]
    return found + [(Subject.group(g), None) for g in EVERYONE]


def _foreign(binding: dict) -> bool:
    meta = binding.get("metadata") or {}
    labels = meta.get("labels") or {}
    return (str(meta.get("name", "")).startswith(FOREIGN_PREFIXES)
            or labels.get("app.kubernetes.io/managed-by") == "Helm"
            or any(label in labels for label in FOREIGN_LABELS))


def bound_subjects(ctx: Context, tenants: set[str]) -> list[tuple[Subject, Optional[str]]]:
    """Everyone the lab's or a candidate's bindings name (in tenant namespaces, the
    candidate's, and cluster-wide), beyond the cluster's and the add-ons' own."""
    found = []
    bindings = ctx.objects.of_kind("ClusterRoleBinding") + [
        b for b in ctx.objects.of_kind("RoleBinding")
        if (b["metadata"].get("namespace") in tenants
            or b["metadata"].get("namespace") == "gpu-lab-candidate")]
    for binding in bindings:
        # The cluster's own roles (system:node for the kubelet, ...) are not the lab's.
        if _foreign(binding) or \
                str((binding.get("roleRef") or {}).get("name", "")).startswith("system:"):
            continue
        for entry in binding.get("subjects") or []:
            kind, name = entry.get("kind"), str(entry.get("name", ""))
            if name.startswith("system:"):
                continue
            if kind == "Group":
                found.append((Subject.group(name), None))
            elif kind == "User":
                found.append((Subject(user=name, groups=("system:authenticated",)), None))
            elif kind == "ServiceAccount":
                namespace = entry.get("namespace") or binding["metadata"].get("namespace")
                found.append((Subject.service_account(namespace, name),
                              namespace if namespace in tenants else None))
    return found


def probes(spec: LabSpec, subjects: list[tuple[Subject, Optional[str]]],
           added: tuple[str, ...] = ()) -> list[Probe]:
    """Every question asked of every subject, without the ones a symptom check asks
    already (a tenant's members reading another tenant's pods, its CI creating Jobs). In the
    namespaces of tenants the judged state adds (`added`), only the stack's tenants' people
    and everyone are asked: the new tenant's own people belong there."""
    tenants = [t.name for t in spec.tenants]
    found, seen = [], set()
    for subject, owner in subjects:
        if subject in seen:
            continue
        seen.add(subject)
        everyone = subject.user.startswith("member-of:") and subject.groups[0] in EVERYONE
        spaces = tenants + ["kube-system"] + (list(added) if owner or everyone else [])
        for namespace in spaces:
            for verb, resource in NAMESPACED_PROBES:
                if owner and namespace in tenants + list(added) and namespace != owner and \
                        (verb, resource) in CROSS_TENANT_READS:
                    continue
                if owner == namespace and subject.user.endswith(":job-submitter") and \
                        (verb, resource) == ("create", "jobs"):
                    continue
                found.append(Probe(subject, owner, verb, resource, namespace))
        found += [Probe(subject, owner, verb, resource, "") for verb, resource in CLUSTER_PROBES]
    return found


def _desired(controller: dict) -> int:
    spec = controller.get("spec") or {}
    if controller.get("kind") == "Deployment":
        return int(spec.get("replicas", 1))
    return int(spec.get("parallelism", 1))


def observe(ctx: Context, healthy: LabSpec, questions: list[Probe],
            memo: Optional[dict] = None) -> dict[tuple, Observation]:
    """Everything the collateral compares, for one state. `memo` keeps what was asked of a
    state that does not change (a reference)."""
    memo = memo if memo is not None else {}
    seen: dict[tuple, Observation] = {}
    if "symptoms" not in memo:
        symptoms: dict[tuple, Observation] = {}
        for check_id, check in CHECKS.items():
            for finding in check.findings(ctx):
                key = ("symptom", check_id, finding.target)
                before = symptoms.get(key)
                text = finding.evidence if before is None else f"{before.text}; {finding.evidence}"
                symptoms[key] = Observation(check_id, True, text)
        memo["symptoms"] = symptoms
    seen.update(memo["symptoms"])

    for probe in questions:
        key = ("access", probe.subject, probe.verb, probe.resource, probe.namespace)
        if key not in memo:
            answer = ctx.can_i(probe.subject, probe.verb, probe.resource, probe.namespace)
            memo[key] = Observation("access", bool(answer), answer.reason)
        seen[key] = memo[key]

    if "workloads" not in memo:
        memo["workloads"] = _workloads_and_isolation(ctx, healthy)
    seen.update(memo["workloads"])
    return seen


def _workloads_and_isolation(ctx: Context, healthy: LabSpec) -> dict[tuple, Observation]:
    """Every workload of the healthy stack: still there, scaled up, asking for its GPUs, not
    failing; and every tenant's pods out of the other tenants' reach."""
    found: dict[tuple, Observation] = {}
    for workload in healthy.workloads:
        name = f"{workload.tenant}/{workload.name}"
        controller = ctx.objects.get("Deployment", workload.name, workload.tenant) or \
            ctx.objects.get("Job", workload.name, workload.tenant)
        if controller is None:
            found[("workload", name)] = Observation(
                "workload-removed", False, f"{name} is gone: no Deployment or Job "
                                           f"{workload.name} in {workload.tenant}")
            continue
        count = _desired(controller)
        field_name = "replicas" if controller["kind"] == "Deployment" else "parallelism"
        found[("workload", name)] = Observation(
            "workload-removed", count > 0, f"{name} is scaled to zero ({field_name}: {count})")
        template = ((controller.get("spec") or {}).get("template") or {}).get("spec") or {}
        if workload.gpus:
            found[("workload-gpus", name)] = Observation(
                "workload-gpus", _gpu({"spec": template}) > 0,
                f"{name} no longer asks for a GPU (the healthy stack gives it {workload.gpus} "
                f"per pod): it computes on the CPU")
        failing = [r for r in workload_runs(ctx, name) if r.failing]
        found[("workload-failing", name)] = Observation(
            "workload-failing", bool(failing),
            f"{name} fails (it runs in the healthy stack): " +
            "; ".join(f"{r.label} {r.status}: {r.why()}" for r in failing[:3]))
    tenants = [t.name for t in healthy.tenants]
    added = [t for t in judged_tenants(ctx) if t not in tenants]
    for source in tenants + added:
        for target in tenants + added:
            if source != target and (source in tenants or target in tenants):
                answer = ingress_allowed(ctx.objects, source, target, port=SCRAPE_PORT)
                found[("isolation", source, target)] = Observation(
                    "network-isolation", bool(answer),
                    f"pods in {source} can reach pods in {target} (port {SCRAPE_PORT}): "
                    f"{answer.reason}")
    return found


def _access_collateral(changed: list[tuple[tuple, Observation]]) -> list[Collateral]:
    """One line per subject, direction and set of actions, with the places it applies."""
    actions: dict[tuple, list[str]] = {}
    reasons: dict[tuple, list[str]] = {}
    users: dict[str, str] = {}
    for key, judged in changed:
        _, subject, verb, resource, namespace = key
        users[str(subject)] = subject.user
        where = f"in {namespace}" if namespace else "cluster-wide"
        group = (judged.value, str(subject), where)
        actions.setdefault(group, []).append(f"{verb} {resource}")
        reasons.setdefault(group, []).append(judged.text)
    places: dict[tuple, list[str]] = {}
    for (gained, subject, where), done in actions.items():
        places.setdefault((gained, subject, ", ".join(done)), []).append(where)
    found = []
    for (gained, subject, what), wheres in places.items():
        where = ", ".join(w.removeprefix("in ") for w in wheres if w.startswith("in "))
        where = " and ".join(p for p in ((f"in {where}" if where else ""),
                                         ("cluster-wide" if "cluster-wide" in wheres else ""))
                             if p)
        why = [r for (g, s, w), rs in reasons.items() if (g, s) == (gained, subject)
               and w in wheres for r in rs]
        reason = why[0] if len(set(why)) == 1 else \
            ("see kubectl auth can-i --list" if gained else "no binding grants it")
        if gained:
            found.append(Collateral("access-gained", f"{subject} can now {what} {where} (the "
                                                     f"healthy stack does not allow it): "
                                                     f"{reason}", users[subject]))
        else:
            found.append(Collateral("access-lost", f"{subject} can no longer {what} {where} "
                                                   f"(the healthy stack allows it): {reason}",
                                    users[subject]))
    return found


_ABSENT = {"symptom": False, "workload": True, "workload-gpus": True,
           "workload-failing": False, "isolation": False}


def collateral(ctx: Context, ref: Reference) -> list[Collateral]:
    """What the judged state breaks that neither the healthy stack nor the untouched one
    breaks."""
    healthy = ref.baseline.spec
    tenants = {t.name for t in healthy.tenants}
    subjects = _tenant_subjects(healthy) + bound_subjects(ref.baseline, tenants) + \
        bound_subjects(ctx, tenants)
    added = tuple(t for t in judged_tenants(ctx) if t not in tenants)
    questions = probes(healthy, subjects, added)
    judged = observe(ctx, healthy, questions)
    base = observe(ref.baseline, healthy, questions, ref.memo.setdefault(BASELINE, {}))
    untouched = observe(ref.untouched, healthy, questions, ref.memo.setdefault(UNTOUCHED, {}))
    found, access = [], []
    for key in sorted(set(judged) | set(base), key=repr):
        kind = key[0]
        default = Observation(key[1] if kind == "symptom" else kind, _ABSENT.get(kind, False),
                              "")
        now, before, still = (judged.get(key, default), base.get(key, default),
                              untouched.get(key, default))
        if now.value != before.value and still.value == before.value:
            if kind == "access":
                access.append((key, now))
            else:
                found.append(Collateral(now.check, now.text))
    return sorted(found + _access_collateral(access), key=lambda c: (c.check, c.evidence))


def grade(spec: LabSpec, ctx: Context, ref: Reference) -> Grade:
    if not ctx.objects.of_kind("HelmRelease") and not ctx.releases:
        # A cluster or a snapshot shows what the charts made, not their values: the stack's.
        ctx.releases = ref.untouched.objects.of_kind("HelmRelease")
    task = part2_task(spec)
    return Grade(verify(spec, ctx), collateral(ctx, ref),
                 judge_part2(ctx, task) if task else None)


# -- Part 2 of the pairing exercise: the candidate's own additions -------------------------

MET, NOT_MET = "met", "not met"
# What the pairing scenario's Part 2 task asks (faults/scenarios.py: "Add a new tenant,
# tenant-c, with its namespace, quotas and RBAC, and limit GPUs to 1 per tenant."; a test
# keeps the two in step).
PART2_NEW_TENANT = "tenant-c"
PART2_GPU_LIMIT = 1
PART2_PORT = SCRAPE_PORT
# The lab's own bindings in a tenant namespace: the candidate's login (components/
# candidate_access.py), bound in every tenant namespace.
PLATFORM_NAMESPACES = ("gpu-lab-candidate",)


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    status: str             # met | not met | cannot tell
    evidence: str

    def to_json(self) -> dict:
        return {"requirement": self.id, "title": self.title, "status": self.status,
                "evidence": self.evidence}


@dataclass
class PartVerdict:
    """An exercise part that is not a fault, judged requirement by requirement."""
    part: str
    task: str
    requirements: list[Requirement]

    @property
    def status(self) -> str:
        statuses = {r.status for r in self.requirements}
        return NOT_MET if NOT_MET in statuses else (UNKNOWN if UNKNOWN in statuses else MET)

    def to_json(self) -> dict:
        return {"part": self.part, "task": self.task, "status": self.status,
                "requirements": [r.to_json() for r in self.requirements]}

    def table(self) -> str:
        width = max(len(r.id) for r in self.requirements)
        met = sum(r.status == MET for r in self.requirements)
        return "\n".join([f"PART 2: {self.task}",
                          f"{'REQUIREMENT':{width}}  {'STATUS':11}  EVIDENCE",
                          *(f"{r.id:{width}}  {r.status:11}  {r.evidence}"
                            for r in self.requirements),
                          f"{met}/{len(self.requirements)} met"])


def part2_task(spec: LabSpec) -> Optional[str]:
    """The Part 2 task of the stack's scenario, when its brief has one."""
    from faults import SCENARIOS, parts
    scenario = SCENARIOS.get(spec.scenario or "")
    return next((task for part, task, _ in (scenario.tasks if scenario else ())
                 if part == parts.PAIRING_2), None)


def _requirement(id_: str, title: str, problems: list[str], fine: str,
                 unsure: Optional[list[str]] = None) -> Requirement:
    if problems:
        return Requirement(id_, title, NOT_MET, "; ".join(dict.fromkeys(problems)))
    if unsure:
        return Requirement(id_, title, UNKNOWN, "; ".join(dict.fromkeys(unsure)))
    return Requirement(id_, title, MET, fine)


def _gpu_probe() -> dict:
    from kube.quota import make_pod
    return make_pod(gpus=1, cpu="10m", memory="16Mi")


def _quota_only(objects: ObjectSet, namespace: str) -> ObjectSet:
    from kube.symptoms import _quota_without_usage
    return _quota_without_usage(objects, namespace)


def _not_its_own(ctx: Context, tenant: str, others: list[str], entry: dict,
                 binding_namespace: str) -> Optional[str]:
    """Why a binding's subject is not one of the tenant's own groups or service accounts."""
    from kube.symptoms import EVERYONE as ALL_USERS, group_owner
    kind, name = entry.get("kind"), str(entry.get("name", ""))
    if kind == "Group":
        if name in ALL_USERS or name.startswith("system:"):
            return f"group {name} (everyone)"
        owner = group_owner(ctx, name) or next(
            (o for o in others if name.startswith(f"{o}-")), None)
        if owner not in (None, tenant):
            return f"group {name}, which is {owner}'s"
        return None
    if kind == "ServiceAccount":
        namespace = entry.get("namespace") or binding_namespace
        if namespace == tenant or namespace in PLATFORM_NAMESPACES:
            return None
        return f"service account {namespace}/{name} of another namespace"
    return f"{str(kind).lower()} {name}, neither a group nor a service account of {tenant}"


def judge_part2(ctx: Context, task: str) -> PartVerdict:
    """Part 2 in the judged state: the new tenant with its namespace, an enforced GPU quota,
    RBAC that names only its own groups and service accounts and keeps others out, network
    isolation; and every tenant limited to PART2_GPU_LIMIT GPUs."""
    from faults import parts
    from kube.pod_security import ENFORCE_LABEL, admission_error
    from kube.quota import quota_admits
    from kube.symptoms import cross_tenant_reads, tenant_members

    new, limit = PART2_NEW_TENANT, PART2_GPU_LIMIT
    objects = ctx.objects
    tenants = list(dict.fromkeys(judged_tenants(ctx) + [new]))
    others = [t for t in tenants if t != new]
    exists = objects.get("Namespace", new) is not None
    found: list[Requirement] = [_requirement(
        f"{new}-namespace", f"{new} exists", [] if exists else [f"no Namespace {new}"],
        f"Namespace {new} exists")]
    if not exists:
        missing = f"there is no {new} to look at"
        found += [Requirement(f"{new}-{what}", title, NOT_MET, missing) for what, title in (
            ("gpu-quota", f"{new}'s GPU quota is enforced"),
            ("rbac", f"{new}'s RBAC names only its own groups and service accounts"),
            ("network", f"{new} is network-isolated from the other tenants"),
            ("pod-security", f"{new} refuses privileged pods"))]
    else:
        # An enforced GPU quota: a second GPU is refused.
        quotas = objects.of_kind("ResourceQuota", new)
        second = quota_admits(_quota_only(objects, new), new, _gpu_probe(), copies=limit + 1)
        named = [f"ResourceQuota {new}/{q['metadata']['name']} sets {key}={value}"
                 for q in quotas for key, value in ((q.get("spec") or {}).get("hard") or {})
                 .items() if key.endswith("nvidia.com/gpu")]
        found.append(_requirement(
            f"{new}-gpu-quota", f"{new}'s GPU quota is enforced",
            [f"GPU {limit + 1} is admitted: {second.reason}"] if second else [],
            f"{'; '.join(named) or 'its quota'}: GPU {limit + 1} is refused ({second.reason})"))

        # RBAC: its bindings name only its own groups and service accounts, some binding names
        # them, and no one of another tenant reads its pods (nor do its people read theirs).
        problems, own = [], []
        for binding in objects.of_kind("RoleBinding", new):
            if _foreign(binding):
                continue
            for entry in binding.get("subjects") or []:
                why = _not_its_own(ctx, new, others, entry, new)
                if why:
                    problems.append(f"RoleBinding {new}/{binding['metadata']['name']} names {why}")
                elif (entry.get("namespace") or new) not in PLATFORM_NAMESPACES:
                    own.append(entry)
        if not own:
            problems.append(f"no RoleBinding in {new} names {new}'s own groups or service "
                            f"accounts")
        members = {str(m) for m in tenant_members(ctx, new)}
        reads = [f for f in cross_tenant_reads(ctx, tenants)
                 if f.target == f"rbac:{new}" or
                 any(f.evidence.startswith(f"{m} can") or f.evidence.startswith(
                     f"cannot tell whether {m} ") for m in members)]
        problems += [f.evidence for f in reads if not f.unsure]
        found.append(_requirement(
            f"{new}-rbac", f"{new}'s RBAC names only its own groups and service accounts",
            problems, f"{len(own)} subject(s) of {new}'s own bound in {new}; no other "
                      f"tenant's member reads its pods", [f.evidence for f in reads if f.unsure]))

        # Network isolation, both ways.
        leaks = []
        for other in others:
            for source, target in ((other, new), (new, other)):
                answer = ingress_allowed(objects, source, target, port=PART2_PORT)
                if answer:
                    leaks.append(f"pods in {source} can reach pods in {target} (port "
                                 f"{PART2_PORT}): {answer.reason}")
        found.append(_requirement(
            f"{new}-network", f"{new} is network-isolated from the other tenants", leaks,
            f"NetworkPolicies keep {new}'s pods and the other tenants' apart (port "
            f"{PART2_PORT}, both ways)"))

        # Pod Security admission refuses a privileged pod there (root on the node otherwise),
        # as in the platform's tenant namespaces.
        labels = (objects.get("Namespace", new).get("metadata") or {}).get("labels") or {}
        refused = admission_error(_privileged_probe(new), labels)
        found.append(_requirement(
            f"{new}-pod-security", f"{new} refuses privileged pods",
            [] if refused else [f"Pod Security admits a privileged pod in {new} (its "
                                f"namespace enforces "
                                f"{labels.get(ENFORCE_LABEL, 'nothing: privileged')})"],
            f"Pod Security refuses a privileged pod in {new}: {refused}"))

    # Every tenant: one GPU admitted, a second refused, and no more held.
    over = []
    for tenant in tenants if exists else others:
        quota = _quota_only(objects, tenant)
        one = quota_admits(quota, tenant, _gpu_probe(), copies=limit)
        more = quota_admits(quota, tenant, _gpu_probe(), copies=limit + 1)
        if more:
            over.append(f"{tenant}'s quota admits {limit + 1} GPUs ({more.reason})")
        elif not one:
            over.append(f"{tenant}'s quota refuses its first GPU ({one.reason})")
        held = sum(r.gpus for r in ctx.runs() if r.namespace == tenant and r.holds_gpus)
        if held > limit:
            over.append(f"{tenant}'s pods hold {held} GPUs")
    found.append(_requirement(
        "gpu-limit", f"every tenant is limited to {limit} GPU",
        over, f"{', '.join(tenants if exists else others)}: {limit} GPU admitted, a further one "
              f"refused, none holds more"))
    return PartVerdict(parts.PAIRING_2, task, found)


def _privileged_probe(namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "privileged-probe", "namespace": namespace},
            "spec": {"containers": [{"name": "probe", "image": "busybox",
                                     "securityContext": {"privileged": True}}]}}


# -- sources --------------------------------------------------------------------------------

@dataclass
class State:
    """A judged state and what to archive of it (a snapshot: objects and logs)."""
    context: Context
    objects: list[dict]
    logs: dict
    source: str


def read_live(spec: LabSpec, api_client: Any, prometheus_url: Optional[str] = None) -> State:
    from lab.live import collect, live_context
    try:
        objects, logs = collect(api_client)
        ctx = live_context(spec, api_client, prometheus_url, collected=(objects, logs))
    except Exception as err:  # noqa: BLE001 - the client raises many kinds; one line is enough
        raise SourceError(f"cannot read the cluster: {type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''}") from None
    return State(ctx, objects, logs, "live")


def read_snapshot(spec: LabSpec, path: Path) -> State:
    from lab import snapshot
    try:
        objects, logs, taken = snapshot.read(path)
    except snapshot.SnapshotError as err:
        raise SourceError(str(err)) from None
    return State(snapshot.context(spec, objects, logs, taken), objects, logs,
                 f"snapshot {path}")


def handout_failure(err: Exception) -> str:
    """One message for whatever a handout's program raised. The handout's model raises its
    own ConfigError (its own copy of model/errors.py): every problem it lists is said, as for
    ours; anything else by its type and first line."""
    from model.errors import ConfigError

    if isinstance(err, ConfigError) or (type(err).__name__ == "ConfigError" and
                                        isinstance(getattr(err, "problems", None), list)):
        return f"the handout's config does not load: {err}"
    first = str(err).splitlines()[0] if str(err) else ""
    return f"the handout does not render: {type(err).__name__}: {first}"


class WrongStack(SourceError):
    """The handout was made for another stack than the one judged (exit code 2: the
    arguments do not go together)."""
    exit_code = 2


# The first line lab/handout.py writes into a handout's stack file.
HANDOUT_HEADER = "# Stack "


def _handout_stack_file(directory: Path, stack: str) -> Path:
    """The handout's stack file for `stack`. A handout records the stack it was made for:
    its Pulumi.<stack>.yaml, whose first line names the stack (lab/handout.py). Judging it
    against another stack's faults would grade the wrong thing, so that is refused."""
    wanted = directory / f"Pulumi.{stack}.yaml"
    found = [p for p in sorted(directory.glob("Pulumi.*.yaml")) if p.name != "Pulumi.yaml"]
    made_for = [p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in found]
    if wanted.is_file():
        try:
            first = wanted.read_text().splitlines()[0] if wanted.stat().st_size else ""
        except (OSError, UnicodeDecodeError):
            first = ""
        recorded = first.removeprefix(HANDOUT_HEADER).split(" ", 1)[0] \
            if first.startswith(HANDOUT_HEADER) else stack
        if recorded == stack:
            return wanted
        made_for = [recorded]
    if made_for:
        raise WrongStack(f"--handout {directory}: the handout was made for stack "
                         f"{' and '.join(made_for)} (Pulumi.{made_for[0]}.yaml), not {stack}: "
                         f"judge it as STACK {made_for[0]}, or give {stack}'s handout")
    raise SourceError(f"{directory}: no Pulumi.{stack}.yaml: not a handout of stack {stack}")


def _handout_spec(values: dict, stack: str, directory: Path):
    """The handout's spec as its own model loads it (the candidate may have changed the
    model); this project's model when that cannot be done."""
    from model import load_spec
    try:
        import importlib

        from lab.render import _packages_of
        with _packages_of(directory):
            return importlib.import_module("model").load_spec(values, stack=stack)
    except Exception:  # noqa: BLE001 - their model's own failure: ours reads plain config
        return load_spec(values, stack=stack)


def read_handout(spec: LabSpec, directory: Path, stack: str) -> State:
    """The candidate's handout rendered offline, its nodes from its pools, its pods from the
    twin; judged against the interviewer's spec."""
    from lab.render import PLACEHOLDER_PROJECT, render
    from model.source import StackFileError, read_stack_file

    directory = Path(directory)
    if not (directory / "__main__.py").is_file():
        raise SourceError(f"{directory} is not a handout: it has no __main__.py")
    path = _handout_stack_file(directory, stack)
    try:
        values = read_stack_file(path)
    except StackFileError as err:
        raise SourceError(str(err)) from None
    values.setdefault("gcp:project", PLACEHOLDER_PROJECT)
    name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    try:
        rendering = render(values, stack=name, program=directory / "__main__.py")
    except Exception as err:  # noqa: BLE001 - whatever the candidate's program raises
        raise SourceError(handout_failure(err)) from None
    return handout_state(spec, values, name, directory, rendering)


def handout_state(spec: LabSpec, values: dict, stack: str, directory: Path,
                  rendering) -> State:
    """A handout's rendering as a cluster: its nodes from its pools, its pods from the twin."""
    from kube.twin import simulate
    from lab.snapshot import twin_objects

    try:
        handout_spec = _handout_spec(values, stack, directory)
    except Exception as err:  # noqa: BLE001 - whatever the candidate's model raises
        raise SourceError(handout_failure(err)) from None
    objects = ObjectSet(rendering.check_objects())
    nodes = nodes_from_spec(handout_spec, objects)
    views = simulate(handout_spec, objects, nodes)
    ctx = Context(spec=spec, objects=objects, nodes=nodes, _twin=views)
    pods, logs = twin_objects(views, objects)
    return State(ctx, objects.objects + nodes + pods, logs, f"handout {directory}")


# -- watching a live cluster ---------------------------------------------------------------

def watch_path(directory: Path, stack: str) -> Path:
    return Path(directory) / "watch" / f"{stack}.json"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


@dataclass
class Watch:
    """When each fault turned fixed, across checks of one stack (kept in a file, so
    several `lab verify --watch` runs and `lab report` share it)."""
    stack: str
    started: str
    faults: dict[str, dict] = field(default_factory=dict)
    checks: int = 0
    last_checked: Optional[str] = None
    collateral: list[dict] = field(default_factory=list)
    part2: Optional[dict] = None

    @classmethod
    def load(cls, path: Path, stack: str, now: datetime) -> "Watch":
        try:
            data = json.loads(Path(path).read_text())
            return cls(**{k: data[k] for k in ("stack", "started", "faults", "checks",
                                               "last_checked", "collateral", "part2")
                          if k in data})
        except (OSError, ValueError, TypeError):
            return cls(stack=stack, started=_iso(now))

    def update(self, result: Grade, now: datetime) -> list[str]:
        """Record one check; returns a line per fault whose status changed."""
        changes = []
        at = _iso(now)
        start = datetime.fromisoformat(self.started)
        for verdict in result.verdicts:
            entry = self.faults.setdefault(verdict.fault, {
                "title": verdict.title, "first_status": verdict.status,
                "status": None, "fixed_at": None, "seconds_to_fix": None})
            if entry["status"] != verdict.status:
                changes.append(f"{at}  {verdict.fault}: {entry['status'] or 'first seen'} -> "
                               f"{verdict.status}")
            if verdict.status == FIXED and entry["fixed_at"] is None:
                entry["fixed_at"] = at
                entry["seconds_to_fix"] = round((now - start).total_seconds(), 1)
            elif verdict.status != FIXED:
                entry["fixed_at"] = entry["seconds_to_fix"] = None     # (again) not fixed
            entry["status"] = verdict.status
        self.checks += 1
        self.last_checked = at
        self.collateral = [c.to_json() for c in result.collateral]
        if result.part2 is not None:
            status = result.part2.status
            if (self.part2 or {}).get("status") != status:
                changes.append(f"{at}  part 2: {(self.part2 or {}).get('status') or 'first seen'}"
                               f" -> {status}")
            self.part2 = result.part2.to_json()
        return changes

    def time_to_fix(self) -> dict[str, Optional[float]]:
        return {fault: entry.get("seconds_to_fix") for fault, entry in self.faults.items()}

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__, indent=2) + "\n")
        return path
