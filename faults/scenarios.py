"""Ready-made interview scenarios: a list of faults and the tenants, pools and workloads they
need. `gpu-lab:scenario: <name>` in a stack expands to this config; keys the stack sets itself
win, and faults the stack lists are added to the scenario's."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from faults import parts
from model.errors import ConfigError, Problem, did_you_mean

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
        config={"candidate": {"login": True},
                "gpuPools": [{"name": "t4x2", "accelerator": "nvidia-tesla-t4",
                              "machineType": "n1-standard-8", "gpusPerNode": 2, "spot": True,
                              "minNodes": 2, "maxNodes": 3}],
                "tenants": [{"name": "tenant-a", "gpus": 1}, {"name": "tenant-b", "gpus": 2},
                            {"name": "tenant-c", "gpus": 1}]},
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
    extra = values.get("gpu-lab:faults") or []
    if isinstance(extra, str):      # as the Pulumi engine hands it over
        try:
            extra = json.loads(extra)
        except ValueError:
            return merged           # not a list: faults/config.py reports gpu-lab:faults
    if isinstance(extra, list):
        merged["gpu-lab:faults"] = list(scenario.faults) + extra
    return merged
