"""Does every workload that should run have room, once faults are injected? (Pure: it reads
only the spec; it lives with the catalog because only injected faults can break it.)

A fault may add GPU demand (another replica, more GPUs per pod, a pool without GPUs). The
lab promises that a fault breaks its own target and nothing else, so after injection every
pod that can be placed must still find a GPU in its pool, and every tenant whose quota is
enforced must admit every pod its workloads create (a quota charges Pending pods too).
Pods that cannot be placed by design (more GPUs than a node has, a pool without GPUs or
the CPU pool) need no room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from kube.nodes import advertises_gpus
from kube.quota import is_enforced
from model.quantity import parse_quantity
from model.spec import GPU_QUOTA_KEYS, LabSpec, WorkloadSpec


@dataclass(frozen=True)
class Shortfall:
    key: str                      # the config key to change
    value: object                 # its value now
    message: str
    workloads: tuple[str, ...]    # "<tenant>/<name>" of the workloads that compete


def placed_gpus(spec: LabSpec, workload: WorkloadSpec) -> int:
    """GPUs the workload's pods hold once placed (0 for pods that stay Pending by design)."""
    pool = next((p for p in spec.gpu_pools if p.name == workload.pool), None)
    if pool is None or not workload.gpus or not advertises_gpus(spec, pool):
        return 0
    per_node = pool.schedulable_gpus_per_node
    if workload.gpus > per_node:
        return 0
    replicas = workload.replicas
    if pinned_to_one_node(workload):                # the rest wait for room on that node
        replicas = min(replicas, per_node // workload.gpus)
    return replicas * workload.gpus


def pinned_to_one_node(workload: WorkloadSpec) -> bool:
    """Must all the workload's pods share one node? Its affinity has a required podAffinity
    term on kubernetes.io/hostname that selects its own pods (matchLabels alone, in its own
    namespace)."""
    pod_affinity = workload.affinity.get("podAffinity")
    terms = pod_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") \
        if isinstance(pod_affinity, Mapping) else None
    for term in terms if isinstance(terms, tuple) else ():
        selector = term.get("labelSelector") if isinstance(term, Mapping) else None
        match = selector.get("matchLabels") if isinstance(selector, Mapping) else None
        if (isinstance(match, Mapping) and match
                and term.get("topologyKey") == "kubernetes.io/hostname"
                and not selector.get("matchExpressions") and not term.get("namespaceSelector")
                and set(term.get("namespaces") or ()) <= {workload.tenant}
                and all(workload.labels.get(k) == v for k, v in match.items())):
            return True
    return False


def shortfalls(spec: LabSpec) -> list[Shortfall]:
    found = []
    for i, pool in enumerate(spec.gpu_pools):
        users = [w for w in spec.workloads if w.pool == pool.name and placed_gpus(spec, w)]
        need = sum(placed_gpus(spec, w) for w in users)
        if need > pool.max_gpus:
            parts = ", ".join(f"{w.tenant}/{w.name} {placed_gpus(spec, w)}" for w in users)
            found.append(Shortfall(
                f"gpu-lab:gpuPools[{i}].maxNodes", pool.max_nodes, f"pool {pool.name} would need {need} GPUs "
                f"at once ({parts}) and has {pool.max_gpus} ({pool.max_nodes} nodes x "
                f"{pool.schedulable_gpus_per_node})",
                tuple(f"{w.tenant}/{w.name}" for w in users)))
    for i, tenant in enumerate(spec.tenants):
        # The GPU entries of its quota that the API server charges pods (kube/quota.py).
        enforced = [int(parse_quantity(value)) for key, value in tenant.quota_hard.items()
                    if key in GPU_QUOTA_KEYS and is_enforced(key)]
        if not enforced:
            continue                                 # nothing enforces it
        limit = min(enforced)
        own = [w for w in spec.workloads if w.tenant == tenant.name and w.gpus]
        asked = sum(w.gpus * w.replicas for w in own)
        if asked > limit:
            parts = ", ".join(f"{w.name} {w.replicas} x {w.gpus}" for w in own)
            found.append(Shortfall(
                f"gpu-lab:tenants[{i}].gpus", limit, f"tenant {tenant.name}'s quota of "
                f"{limit} GPU(s) would refuse pods: its workloads ask for {asked} "
                f"({parts})", tuple(f"{w.tenant}/{w.name}" for w in own)))
    return found
