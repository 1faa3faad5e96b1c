"""Ready-made interview scenarios: a list of faults and the tenants, pools and workloads they
need. `gpu-lab:scenario: <name>` in a stack expands to this config; keys the stack sets itself
win, and faults the stack lists are added to the scenario's.

On platform `existing` (kind and the like) a scenario lays out its GPU pools on the cluster's
nodes: the scenario shapes the pools (accelerator, GPUs per node, how many nodes), and the
stack's `gpuPools` say only which nodes play them, in order (the stack's first pool's nodes
play the scenario's first pool, ...). A pool the stack gives too few nodes (or none) gets the
next workers kind creates for the stack's cluster (model/kind.py), and every node is there
all the time (minNodes = maxNodes = its nodes). The scenario's faults that cannot exist on
the platform (a GCP firewall rule on a cluster that has no VPC) are left out, and said so
(`left_out`); a stack that lists such a fault itself is refused (faults/registry.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from faults import parts
from faults.registry import FAULTS
from model import kind
from model.errors import MISSING, ConfigError, Problem, did_you_mean

T4 = {"name": "t4", "accelerator": "nvidia-tesla-t4", "machineType": "n1-standard-4",
      "gpusPerNode": 1, "spot": True}


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str
    faults: list[Any]
    config: dict[str, Any] = field(default_factory=dict)   # gpu-lab:<key> -> value
    # Exercise tasks that are not faults: (part, task for the candidate, what good looks like).
    tasks: tuple[tuple[str, str, str], ...] = ()


SCENARIOS = {s.name: s for s in (
    Scenario(
        name="pairing",
        title="The 90-minute pairing exercise",
        description="Two tenants with one GPU each. The RBAC leak from tenant-a into tenant-b, "
                    "tenant-b's ineffective GPU quota, tenant-a's broken observability and "
                    "missing DCGM metrics. The candidate also adds tenant-c and limits every "
                    "tenant to one GPU.",
        faults=["rbac-cross-tenant-read", "gpu-quota-ineffective",
                "tenant-observability-broken", "dcgm-metrics-missing"],
        config={"candidate": {"login": True},
                "gpuPools": [{**T4, "minNodes": 1, "maxNodes": 3}],
                "tenants": [{"name": "tenant-a", "gpus": 1}, {"name": "tenant-b", "gpus": 1}]},
        tasks=(
            (parts.PAIRING_1, "Check that GPU nodes are provisioned and labelled correctly, that "
             "NVIDIA drivers and the GPU Operator are installed, and that GPUs are "
             "discoverable. Explain how GPU autoscaling works in GKE.",
             "kubectl get nodes -o wide / -L gpu-lab/accelerator, kubectl get pods -n "
             "gpu-operator, kubectl describe node (nvidia.com/gpu capacity), nvidia-smi in a "
             "pod; explains scale-from-zero (the autoscaler reads the pool's accelerator "
             "config) and why the GPU Operator runs instead of GKE's device plugin."),
            (parts.PAIRING_2, "Add a new tenant, tenant-c, with its namespace, quotas and RBAC, "
             "and limit GPUs to 1 per tenant. Apply and verify.",
             "Adds tenant-c as one entry in gpu-lab:tenants (or tenants/definitions.py), sets "
             "gpus: 1, runs pulumi preview then up, checks kubectl get namespaces, "
             "resourcequotas; notices that the quota key matters (see the quota fault)."),
            (parts.PAIRING_3, "Deploy AI inference jobs in tenant-a and tenant-b, make sure each "
             "only consumes its GPU quota and that the tenants are isolated, and explain the GPU "
             "scheduling you observe.",
             "Uses the InferenceWorkload (gpu-lab:workloads) or a Job with requests = limits for "
             "nvidia.com/gpu, a toleration and a node selector; verifies isolation with auth "
             "can-i and NetworkPolicies; explains extended resources, taints and quotas."),
        ),
    ),
    Scenario(
        name="workload-failures",
        title="Workload execution failures (fault scenarios 1-3)",
        description="Four GPU workloads that fail four different ways: arm64 image, GPU pod "
                    "on the CPU pool, more GPUs per pod than a node has, more GPU memory than "
                    "a T4 has.",
        faults=[{"id": "arm64-image", "workload": "tenant-a/batch"},
                {"id": "gpu-pod-on-cpu-pool", "workload": "tenant-b/batch"},
                {"id": "gpu-request-exceeds-node", "workload": "tenant-b/infer"},
                {"id": "gpu-memory-oom", "workload": "tenant-a/infer"}],
        config={"candidate": {"login": True},
                "gpuPools": [{**T4, "minNodes": 1, "maxNodes": 4}],
                "tenants": [{"name": "tenant-a", "gpus": 2}, {"name": "tenant-b", "gpus": 2}],
                "workloads": [
                    {"tenant": "tenant-a", "name": "infer"},
                    {"tenant": "tenant-a", "name": "batch", "kind": "Job", "batches": 500},
                    {"tenant": "tenant-b", "name": "infer"},
                    {"tenant": "tenant-b", "name": "batch", "kind": "Job", "batches": 500}]},
    ),
    Scenario(
        name="performance-observability",
        title="Performance and observability (fault scenarios 4-6)",
        description="A workload on the CPU while holding a GPU, replicas pinned to one of two "
                    "2-GPU nodes, and a tenant whose workload is invisible to Prometheus and "
                    "kubectl logs.",
        faults=[{"id": "cpu-fallback", "workload": "tenant-a/infer"},
                {"id": "unbalanced-scheduling", "workload": "tenant-b/infer"},
                {"id": "tenant-observability-broken", "workload": "tenant-c/infer"}],
        # The 2-GPU pool is exactly two nodes and tenant-b's alone: its replicas fill one and
        # the other sits idle, which is what the seed and the guide promise. Kept at two
        # (minNodes), the idle node outlasts the autoscaler; shared with the other tenants'
        # one-GPU pods, it would be half used, and the autoscaler would then drain one of
        # the half-used nodes into the other. tenant-a and tenant-c run on a T4 pool of
        # their own.
        config={"candidate": {"login": True},
                "gpuPools": [{"name": "t4x2", "accelerator": "nvidia-tesla-t4",
                              "machineType": "n1-standard-8", "gpusPerNode": 2, "spot": True,
                              "minNodes": 2, "maxNodes": 2},
                             {**T4, "minNodes": 1, "maxNodes": 2}],
                "tenants": [{"name": "tenant-a", "gpus": 1}, {"name": "tenant-b", "gpus": 2},
                            {"name": "tenant-c", "gpus": 1}],
                "workloads": [{"tenant": "tenant-a", "name": "infer", "pool": "t4"},
                              {"tenant": "tenant-b", "name": "infer", "pool": "t4x2"},
                              {"tenant": "tenant-c", "name": "infer", "pool": "t4"}]},
    ),
    Scenario(
        name="iac-challenges",
        title="Infrastructure-as-code challenges (fault scenarios 7-8, pairing part 4)",
        description="Newly added tenant-c on a pool of its own cannot reach the internet "
                    "(firewall and NetworkPolicy), tenant-a's CI cannot create Jobs, and "
                    "tenant-a can read tenant-b's pods.",
        faults=["egress-blocked", "job-submitter-forbidden", "rbac-cross-tenant-read"],
        config={"candidate": {"login": True},
                "gpuPools": [{**T4, "minNodes": 0, "maxNodes": 2},
                             {**T4, "name": "t4-tenant-c", "minNodes": 1, "maxNodes": 1}],
                "tenants": [{"name": "tenant-a", "gpus": 1}, {"name": "tenant-b", "gpus": 1},
                            {"name": "tenant-c", "gpus": 1}],
                "workloads": [{"tenant": "tenant-a"}, {"tenant": "tenant-b"},
                              {"tenant": "tenant-c", "pool": "t4-tenant-c"}]},
    ),
    Scenario(
        name="gpu-readiness",
        title="GPU node readiness (pairing part 1) and GPU metrics (part 5)",
        description="GPU nodes come up without a device plugin, and Prometheus collects no "
                    "DCGM metrics.",
        faults=["gpu-device-plugin-missing", "dcgm-metrics-missing"],
        config={"candidate": {"login": True},
                "gpuPools": [{**T4, "minNodes": 1, "maxNodes": 2}],
                "tenants": [{"name": "tenant-a", "gpus": 1}, {"name": "tenant-b", "gpus": 1}]},
    ),
)}


def expand(values: dict[str, Any]) -> dict[str, Any]:
    """The stack's config with its scenario (if any) filled in."""
    name = values.get("gpu-lab:scenario")
    if name is None:
        return dict(values)
    scenario = SCENARIOS.get(name) if isinstance(name, str) else None
    if scenario is None:
        raise ConfigError([Problem("gpu-lab:scenario", name, "must be one of "
                                   + ", ".join(SCENARIOS) + did_you_mean(str(name), SCENARIOS))])
    merged = {f"gpu-lab:{key}": value for key, value in scenario.config.items()}
    merged.update(values)
    platform = _platform(values)
    if platform == "existing" and "gpuPools" in scenario.config:
        merged["gpu-lab:gpuPools"] = _local_pools(scenario, values)
    extra = values.get("gpu-lab:faults") or []
    if isinstance(extra, str):      # as the Pulumi engine hands it over
        try:
            extra = json.loads(extra)
        except ValueError:
            return merged           # not a list: faults/config.py reports gpu-lab:faults
    if isinstance(extra, list):
        left = {fault_id for fault_id, _ in left_out(scenario.name, platform)}
        merged["gpu-lab:faults"] = [ref for ref in scenario.faults
                                    if _fault_id(ref) not in left] + extra
    return merged


def left_out(scenario: str | None, platform: str) -> list[tuple[str, str]]:
    """(fault id, why) for each of the scenario's faults that the platform cannot have: the
    scenario runs there without them."""
    found = SCENARIOS.get(scenario or "")
    if found is None:
        return []
    reasons = []
    for ref in found.faults:
        fault = FAULTS[_fault_id(ref)]
        if platform not in fault.platforms:
            why = f"{fault.platform_note}; " if fault.platform_note else ""
            reasons.append((fault.id, f"needs platform {' or '.join(fault.platforms)} "
                                      f"({why}this stack is {platform})"))
    return reasons


def _fault_id(ref: Any) -> str:
    return ref["id"] if isinstance(ref, dict) else ref


def _platform(values: dict[str, Any]) -> str:
    platform = values.get("gpu-lab:platform", "gke")
    return platform if isinstance(platform, str) else "gke"   # the model reports the rest


def _local_pools(scenario: Scenario, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The scenario's GPU pools, each played by the nodes the stack's pool at its place lists
    and, when they are too few, by the next workers kind creates."""
    key = "gpu-lab:gpuPools"
    given = values.get(key, MISSING)
    if isinstance(given, str):      # as the Pulumi engine hands it over
        try:
            given = json.loads(given)
        except ValueError:
            pass
    if given is MISSING or given is None:
        given = []
    if not isinstance(given, list):
        raise ConfigError([Problem(key, given, "must be a list of GPU pools, each with the "
                                   "nodes that play the scenario's pool at its place")])
    pools = scenario.config["gpuPools"]
    shaped_by = (f"with gpu-lab:scenario {scenario.name} on platform existing the scenario "
                 f"shapes the GPU pools ({', '.join(p['name'] for p in pools)}); the stack's "
                 "pools say only which nodes play them, in order: give name and nodes only")
    problems, listed = [], []
    for i, item in enumerate(given):
        if i >= len(pools):
            problems.append(Problem(f"{key}[{i}]", item, f"{shaped_by}; this pool would play "
                                    "none: remove it, or list its nodes under a pool above"))
            continue
        if not isinstance(item, dict):
            problems.append(Problem(f"{key}[{i}]", item, "must be an object with the nodes "
                                    f"that play pool {pools[i]['name']}"))
            listed.append([])
            continue
        for field in item:
            if field not in ("name", "nodes") and item[field] != pools[i].get(field, MISSING):
                problems.append(Problem(f"{key}[{i}].{field}", item[field], shaped_by))
        nodes = item.get("nodes") or []
        if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
            problems.append(Problem(f"{key}[{i}].nodes", nodes, "must be a list of node names"))
            nodes = []
        listed.append(list(nodes))
    context = kind.context_of(values)
    cluster = kind.cluster_name(context)
    taken = {node for nodes in listed for node in nodes}
    laid_out = []
    for i, pool in enumerate(pools):
        nodes = listed[i] if i < len(listed) else []
        missing = max(0, pool.get("maxNodes", 1) - len(nodes))
        if missing and cluster is None:
            problems.append(Problem(f"{key}[{i}].nodes", nodes, f"scenario {scenario.name}'s "
                                    f"pool {pool['name']} needs {pool.get('maxNodes', 1)} nodes: "
                                    f"list them (gpu-lab:cluster.kubeContext {context!r} is not "
                                    "a kind cluster's, so gpu-lab cannot name them)"))
            continue
        nodes = nodes + kind.next_workers(cluster or "", taken, missing)
        taken.update(nodes)
        laid_out.append({**pool, "nodes": nodes, "minNodes": len(nodes), "maxNodes": len(nodes)})
    if problems:
        raise ConfigError(problems)
    return laid_out
