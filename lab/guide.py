"""The interviewer's guide and the candidate's brief for a stack, as Markdown."""

from __future__ import annotations

from typing import Sequence

from faults import SCENARIOS, enabled
from kube.symptoms import CHECKS
from model.spec import LabSpec


def _addons(spec: LabSpec) -> str:
    return "Add-ons: " + ", ".join(filter(None, [
        "NVIDIA GPU Operator" if spec.platform == "gke" and spec.addons.gpu_operator.enabled
        else ("fake GPU operator" if spec.platform == "existing" else None),
        "kube-prometheus-stack (Prometheus, Grafana)" if spec.addons.monitoring.enabled
        else None])) + "."


def _cluster(spec: LabSpec) -> list[str]:
    if spec.platform != "gke":
        return [f"- An existing cluster (kubeconfig context "
                f"`{spec.cluster.kube_context or 'current'}`) with simulated GPUs."]
    project = f" (project `{spec.gcp.project}`)" if spec.gcp.project else ""
    return [f"- GKE cluster `{spec.cluster.name}` in `{spec.cluster.location}`{project}, "
            f"release channel {spec.cluster.release_channel.lower()}, Dataplane V2, "
            f"private nodes.",
            f"- CPU system pool `{spec.system_pool.name}`: {spec.system_pool.machine_type}, "
            f"{spec.system_pool.min_nodes}-{spec.system_pool.max_nodes} nodes."]


def _environment(spec: LabSpec) -> list[str]:
    lines = ["## Environment", "", *_cluster(spec)]
    lines += ["", "| GPU pool | accelerator | machine type | GPUs/node | nodes |", "|---|---|---|---|---|"]
    lines += [f"| {p.name} | {p.accelerator} ({p.gpu_memory_gb} GB) | {p.machine_type} | "
              f"{p.schedulable_gpus_per_node} | {p.min_nodes}-{p.max_nodes}"
              f"{' spot' if p.spot else ''} |" for p in spec.gpu_pools]
    lines += ["", "| tenant | team | GPU quota | priority class | developer group |",
              "|---|---|---|---|---|"]
    lines += [f"| {t.name} | {t.team} | {t.gpus} | {t.priority_class} | "
              f"{', '.join(t.developer_groups)} |" for t in spec.tenants]
    if spec.workloads:
        lines += ["", "| workload | kind | replicas x GPUs | pool |", "|---|---|---|---|"]
        lines += [f"| {w.tenant}/{w.name} | {w.kind} | {w.replicas} x {w.gpus} | {w.pool} |"
                  for w in spec.workloads]
    return lines + ["", _addons(spec), ""]


def _admin_login(spec: LabSpec) -> str:
    """How the interviewer reaches the cluster, from what the stack exports (components/lab.py):
    a GKE stack its admin `kubeconfig` (a secret); an existing cluster its `kubeContext`, a
    context of the interviewer's own kubeconfig."""
    if spec.platform == "gke":
        return ("pulumi stack output kubeconfig --show-secrets > kubeconfig; "
                "export KUBECONFIG=$PWD/kubeconfig")
    if spec.cluster.kube_context:
        return 'kubectl config use-context "$(pulumi stack output kubeContext)"'
    return "kubectl config current-context   # the stack uses your current context"


def _connect(spec: LabSpec, candidate: bool = False) -> list[str]:
    # The candidate gets the kubeconfig of their own login (`lab new` writes it); the
    # interviewer uses what the stack exports for its platform.
    login = ("export KUBECONFIG=$PWD/kubeconfig      # the kubeconfig you were given"
             if candidate else _admin_login(spec))
    # The candidate's login reaches Prometheus only (Grafana wants its admin credentials).
    grafana = [] if candidate else [
        "kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80"]
    return ["## Connecting", "",
            "```sh",
            login,
            "kubectl -n monitoring port-forward svc/kube-prometheus-stack-prometheus 9090",
            *grafana,
            "```", ""]


def _candidate_login(spec: LabSpec) -> list[str]:
    """What the candidate's login may do, how to ask what someone else may do (a
    SubjectAccessReview: the login impersonates no one), and where nvidia-smi runs."""
    tenant = spec.candidate_tenant or (spec.tenants[0].name if spec.tenants else "tenant-a")
    group = next((g for t in spec.tenants if t.name == tenant for g in t.developer_groups),
                 f"{tenant}-developers@example.com")
    return ["## Your login", "",
            "It reads the whole cluster, deploys Pods, Deployments and Jobs into the tenant "
            "namespaces (and execs, attaches and port-forwards there), and port-forwards to "
            "Prometheus. It reads no Secrets, changes no RBAC and acts as no one else. "
            "`kubectl auth can-i` answers for you; to ask what someone else may do, send the "
            "API server a SubjectAccessReview (the answer is `status.allowed`):", "",
            "```sh",
            "kubectl create -o yaml -f - <<EOF",
            "apiVersion: authorization.k8s.io/v1",
            "kind: SubjectAccessReview",
            "spec:",
            "  user: dev@example.com",
            f"  groups: [\"{group}\"]",
            f"  resourceAttributes: {{namespace: {tenant}, verb: create, resource: pods}}",
            "EOF",
            "```", "",
            "nvidia-smi runs where the GPUs are: in a pod that has a GPU, in a tenant "
            "namespace (a GPU pod of your own, or one of the tenant's):", "",
            "```sh",
            f"kubectl exec -n {tenant} <pod> -- nvidia-smi",
            "```", ""]


def interviewer_guide(spec: LabSpec) -> str:
    scenario = SCENARIOS.get(spec.scenario or "")
    title = f"# gpu-lab interviewer guide: stack `{spec.stack}`"
    lines = [title, ""]
    if scenario:
        lines += [f"Scenario **{scenario.name}**: {scenario.title}. {scenario.description}", ""]
    lines += ["What is broken, what the candidate should see, the hints to give in order, the "
              "fix, and what to look for. Keep this page away from the candidate; give them "
              "`python -m lab guide --candidate` instead.", ""]
    lines += _environment(spec) + _connect(spec)
    faults = enabled(spec)
    lines += [f"## Faults ({len(faults)})", ""]
    if not faults:
        lines += ["None: this is a healthy stack.", ""]
    for number, (fault, params) in enumerate(faults, 1):
        info = fault.describe(params, spec)
        lines += [f"### {number}. {info['title']} (`{fault.id}`)", "",
                  f"- **Part:** {info['part']}",
                  f"- **Layer:** {info['layer']}",
                  f"- **The candidate is asked:** {info['task']}", "",
                  "**What they should see:**", "", "```", info["symptom"], "```", "",
                  "**Hints, in order:**", ""]
        lines += [f"{i}. {hint}" for i, hint in enumerate(info["hints"], 1)]
        lines += ["", f"**The fix:** {info['fix']}", "",
                  f"**What to look for:** {info['look_for']}", "",
                  f"**Check:** {CHECKS[fault.check].question} (`python -m lab verify` answers "
                  f"it against the live cluster.)", ""]
    if scenario and scenario.tasks:
        lines += ["## Other tasks in this scenario", ""]
        for part, task, good in scenario.tasks:
            lines += [f"- **{part}.** {task}", f"  - *Good answers:* {good}"]
        lines.append("")
    return "\n".join(lines)


def candidate_tasks(spec: LabSpec) -> list[str]:
    """The tasks the candidate is given for this stack: the scenario's exercise tasks and one
    per fault, in the order of the exercise (no give-aways: the task, never the cause)."""
    scenario = SCENARIOS.get(spec.scenario or "")
    tasks: list[tuple[str, str]] = [(part, task) for part, task, _ in
                                    (scenario.tasks if scenario else ())]
    tasks += [(fault.part, fault.describe(params, spec)["task"])
              for fault, params in enabled(spec)]
    return [task for _, task in sorted(tasks, key=lambda t: t[0])]


def _candidate_environment(spec: LabSpec) -> list[str]:
    """The environment as the candidate may see it: only what no interview setting changes
    (the pools' shape and size, who the tenants are, which workloads run). Figures that one
    could set to break the stack (a pool's minimum, a tenant's GPU quota, a workload's
    replicas, GPUs, memory or pool) are left for the candidate to find in the cluster and
    the configuration."""
    lines = ["## Environment", "", *_cluster(spec)]
    lines += ["", "| GPU pool | accelerator | machine type | GPUs/node | nodes |",
              "|---|---|---|---|---|"]
    lines += [f"| {p.name} | {p.accelerator} ({p.gpu_memory_gb} GB) | {p.machine_type} | "
              f"{p.schedulable_gpus_per_node} | up to {p.max_nodes}{' spot' if p.spot else ''} |"
              for p in spec.gpu_pools]
    lines += ["", "| tenant | team | priority class | developer group |", "|---|---|---|---|"]
    lines += [f"| {t.name} | {t.team} | {t.priority_class} | {', '.join(t.developer_groups)} |"
              for t in spec.tenants]
    if spec.workloads:
        lines += ["", "| workload | kind |", "|---|---|"]
        lines += [f"| {w.tenant}/{w.name} | {w.kind} |" for w in spec.workloads]
    return lines + ["", _addons(spec), ""]


def _code(spec: LabSpec) -> list[str]:
    return ["## The code", "",
            "The platform's Pulumi program (Python) comes with this brief: "
            f"`Pulumi.{spec.stack}.yaml` is the stack's configuration (node pools, add-ons, "
            "tenants, workloads), `model/` reads and validates it, `components/` turns it into "
            "GCP and Kubernetes resources. It is what runs: the first `pulumi preview` shows "
            "no changes.", "",
            "```sh",
            "python3 -m venv venv && venv/bin/pip install -r requirements.txt",
            f"pulumi stack select {spec.stack}",
            "pulumi preview      # no changes",
            "pulumi up           # after changing the configuration or the code",
            "```", ""]


def candidate_brief(spec: LabSpec, tasks: Sequence[str] = ()) -> str:
    """What the candidate gets: the environment, how to connect, the code, and the tasks.

    Computed from the spec's settings alone (never from which problems were baked in, nor
    from the preset they came from), so the brief of a stack equals the brief of its
    handout; the tasks are given as they are (`candidate_tasks`), each a symptom to chase,
    never a cause."""
    lines = ["# Your GPU platform exercise", "",
             "You are on call for a multi-tenant GPU Kubernetes platform. Tenants share GPU "
             "node pools; each has a namespace with quotas, RBAC and network policies. The "
             "platform is managed with Pulumi (Python): fix problems in the code, not only in "
             "the cluster. Use Prometheus and kubectl, and think aloud.", ""]
    lines += (_candidate_environment(spec) + _connect(spec, candidate=True)
              + _candidate_login(spec) + _code(spec))
    lines += ["## Tasks", ""]
    if tasks:
        lines += [f"{i}. {task}" for i, task in enumerate(tasks, 1)]
    else:
        lines.append("Your interviewer gives you the tasks.")
    lines.append("")
    return "\n".join(lines)
