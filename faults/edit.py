"""Small pure edits of a LabSpec that faults are made of (dataclasses.replace, deep)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from faults.base import Unmet
from model.spec import GpuPoolSpec, LabSpec, TenantSpec, WorkloadSpec


def tenant(spec: LabSpec, name: str, **changes: Any) -> LabSpec:
    return replace(spec, tenants=tuple(replace(t, **changes) if t.name == name else t
                                       for t in spec.tenants))


def workload(spec: LabSpec, ref: str, **changes: Any) -> LabSpec:
    tenant_name, _, name = ref.partition("/")
    return replace(spec, workloads=tuple(
        replace(w, **changes) if (w.tenant, w.name) == (tenant_name, name) else w
        for w in spec.workloads))


def pool(spec: LabSpec, name: str, **changes: Any) -> LabSpec:
    return replace(spec, gpu_pools=tuple(replace(p, **changes) if p.name == name else p
                                         for p in spec.gpu_pools))


def gpu_operator(spec: LabSpec, **changes: Any) -> LabSpec:
    addons = spec.addons
    return replace(spec, addons=replace(addons,
                                        gpu_operator=replace(addons.gpu_operator, **changes)))


def network(spec: LabSpec, **changes: Any) -> LabSpec:
    cluster = spec.cluster
    return replace(spec, cluster=replace(cluster, network=replace(cluster.network, **changes)))


def find_workload(spec: LabSpec, ref: str, param: str = "workload") -> WorkloadSpec:
    tenant_name, _, name = ref.partition("/")
    try:
        return spec.workload(tenant_name, name)
    except KeyError:
        raise Unmet(param, ref, "must name a workload of the stack as <tenant>/<name>: "
                    + (", ".join(f"{w.tenant}/{w.name}" for w in spec.workloads) or "none")
                    ) from None


def find_tenant(spec: LabSpec, name: str, param: str = "tenant") -> TenantSpec:
    try:
        return spec.tenant(name)
    except KeyError:
        raise Unmet(param, name, "must name a tenant of the stack: "
                    + ", ".join(t.name for t in spec.tenants)) from None


def find_pool(spec: LabSpec, name: str, param: str = "pool") -> GpuPoolSpec:
    try:
        return spec.pool(name)
    except KeyError:
        raise Unmet(param, name, "must name a GPU pool of the stack: "
                    + ", ".join(p.name for p in spec.gpu_pools)) from None


def workload_pool(spec: LabSpec, workload: WorkloadSpec, param: str = "workload") -> GpuPoolSpec:
    """The GPU pool a healthy workload runs on."""
    try:
        return spec.pool(workload.pool)
    except KeyError:
        raise Unmet(param, f"{workload.tenant}/{workload.name}",
                    f"must run on a GPU pool (it targets {workload.pool})") from None


def gpu_workload(spec: LabSpec, ref: str,
                 param: str = "workload") -> tuple[WorkloadSpec, GpuPoolSpec]:
    """A workload that requests GPUs on a GPU pool, and that pool: what GPU faults break."""
    job = find_workload(spec, ref, param)
    pool = workload_pool(spec, job, param)
    if not job.gpus:
        raise Unmet(param, ref, "must request GPUs")
    return job, pool


def crash_status(init: bool) -> str:
    """What a crashing workload's pods show: Deployments and Jobs (restartPolicy OnFailure)
    both restart in place, in back-off."""
    return "Init:CrashLoopBackOff" if init else "CrashLoopBackOff"


def workload_names(spec: LabSpec, workload: str, **_: Any) -> dict[str, str]:
    """{tenant} and {name} for a fault's texts."""
    job = find_workload(spec, workload)
    return {"tenant": job.tenant, "name": job.name}
