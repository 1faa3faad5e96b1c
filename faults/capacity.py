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

from model.spec import GPU_RESOURCE, LabSpec, WorkloadSpec


@dataclass(frozen=True)
class Shortfall:
    key: str                      # the config key to change
    value: object                 # its value now
    message: str
    workloads: tuple[str, ...]    # "<tenant>/<name>" of the workloads that compete


def placed_gpus(spec: LabSpec, workload: WorkloadSpec) -> int:
    """GPUs the workload's pods hold once placed (0 for pods that stay Pending by design)."""
    pool = next((p for p in spec.gpu_pools if p.name == workload.pool), None)
    if pool is None or not workload.gpus or not pool.gpu_advertised:
        return 0
    per_node = pool.schedulable_gpus_per_node
    if workload.gpus > per_node:
        return 0
    replicas = workload.replicas
    if workload.pin_to_one_node:                    # the rest wait for room on that node
        replicas = min(replicas, per_node // workload.gpus)
    return replicas * workload.gpus


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
        if f"requests.{GPU_RESOURCE}" not in tenant.gpu_quota_keys:
            continue                                 # nothing enforces it
        own = [w for w in spec.workloads if w.tenant == tenant.name and w.gpus]
        asked = sum(w.gpus * w.replicas for w in own)
        if asked > tenant.gpus:
            parts = ", ".join(f"{w.name} {w.replicas} x {w.gpus}" for w in own)
            found.append(Shortfall(
                f"gpu-lab:tenants[{i}].gpus", tenant.gpus, f"tenant {tenant.name}'s quota of "
                f"{tenant.gpus} GPU(s) would refuse pods: its workloads ask for {asked} "
                f"({parts})", tuple(f"{w.tenant}/{w.name}" for w in own)))
    return found
