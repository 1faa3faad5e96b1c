"""gpu-lab:workload (defaults) and gpu-lab:workloads -> WorkloadSpec, validated against the
tenants and pools they land in: a healthy stack's workloads fit their quota and their pool."""

from __future__ import annotations

from typing import Any

from model.errors import MISSING, Problem, did_you_mean
from model.gpu_catalog import NODE_ARCHITECTURE
from model.reader import Fields
from model.spec import GpuPoolSpec, NodePoolSpec, TenantSpec, WorkloadSpec

# A public PyTorch CUDA runtime image (amd64): infer.py comes from a ConfigMap and its
# Python dependencies are installed into a shared volume when the pod starts.
PUBLIC_IMAGE = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
KINDS = ("Deployment", "Job")
DEVICES = ("auto", "cuda", "cpu")
ARCHITECTURES = ("amd64", "arm64")


def load_workloads(defaults_raw: Any, raw: Any, tenants: tuple[TenantSpec, ...],
                   pools: tuple[GpuPoolSpec, ...], system_pool: NodePoolSpec,
                   problems: list[Problem], check_fit: bool = True) -> tuple[WorkloadSpec, ...]:
    """check_fit: compare with the pools (off when the pools themselves are broken)."""
    defaults = Fields("gpu-lab:workload", defaults_raw, problems)
    image = defaults.str("image", PUBLIC_IMAGE)
    architecture = defaults.str("imageArchitecture", NODE_ARCHITECTURE, choices=ARCHITECTURES)
    defaults.finish()

    key = "gpu-lab:workloads"
    if raw is MISSING:
        # One online inference service per tenant that has a GPU, on the first GPU pool.
        raw = [{"tenant": t.name} for t in tenants if t.gpus > 0] if pools else []
    if not isinstance(raw, list):
        problems.append(Problem(key, raw, "must be a list of workloads"))
        return ()
    workloads, seen = [], set()
    for i, item in enumerate(raw):
        f = Fields(f"{key}[{i}]", item, problems)
        workload = _workload(f, image, architecture, tenants, pools, system_pool, check_fit)
        f.finish()
        if workload is None:
            continue
        if (workload.tenant, workload.name) in seen:
            problems.append(Problem(f.path("name"), workload.name,
                                    f"must be unique within tenant {workload.tenant}"))
            continue
        seen.add((workload.tenant, workload.name))
        workloads.append(workload)
    if check_fit:
        _check_tenant_totals(workloads, tenants, problems)
    return tuple(workloads)


def _check_tenant_totals(workloads: list[WorkloadSpec], tenants: tuple[TenantSpec, ...],
                         problems: list[Problem]) -> None:
    """All of a tenant's workloads together fit its GPU quota."""
    for tenant in tenants:
        mine = [w for w in workloads if w.tenant == tenant.name]
        total = sum(w.gpus * w.replicas for w in mine)
        if len(mine) > 1 and total > tenant.gpus:
            problems.append(Problem("gpu-lab:workloads", [f"{w.tenant}/{w.name}" for w in mine],
                                    f"together they need {total} GPUs; tenant {tenant.name}'s "
                                    f"quota is {tenant.gpus}"))


def _workload(f: Fields, default_image: str, default_arch: str, tenants: tuple[TenantSpec, ...],
              pools: tuple[GpuPoolSpec, ...], system_pool: NodePoolSpec,
              check_fit: bool) -> WorkloadSpec | None:
    by_name = {t.name: t for t in tenants}
    tenant_name = f.str("tenant", None)
    if tenant_name is None:
        if not f.has("tenant"):
            f.problem(f.path("tenant"), MISSING, "every workload names the tenant it runs in")
        return None
    tenant = by_name.get(tenant_name)
    if tenant is None:
        f.problem(f.path("tenant"), tenant_name, "must be one of the stack's tenants: "
                  + ", ".join(by_name) + did_you_mean(tenant_name, by_name))
        return None
    pool_names = [p.name for p in pools]
    pool_name = f.str("pool", pool_names[0] if pool_names else system_pool.name)
    pool = next((p for p in pools if p.name == pool_name), None)
    if pool is None:
        f.problem(f.path("pool"), pool_name, "must be one of the GPU pools: "
                  + ", ".join(pool_names) + did_you_mean(pool_name, pool_names))
    kind = f.str("kind", "Deployment", choices=KINDS)
    image = f.str("image", default_image)
    workload = WorkloadSpec(
        name=f.str("name", "infer", label=True, max_len=50),
        tenant=tenant.name,
        kind=kind,
        replicas=f.int("replicas", 1, minimum=1),
        gpus=f.int("gpus", 1, minimum=0),
        gpu_memory_gb=_gigabytes(f, "gpuMemoryGb", 2.0),
        device=f.str("device", "auto", choices=DEVICES),
        image=image,
        image_architecture=f.str("imageArchitecture", default_arch, choices=ARCHITECTURES),
        custom_image=image != PUBLIC_IMAGE,
        pool=pool_name,
        priority_class=tenant.priority_class,
        batches=f.int("batches", 200 if kind == "Job" else 0, minimum=0),
        batch_size=f.int("batchSize", 32, minimum=1),
        seq_len=f.int("seqLen", 256, minimum=1),
        hidden=f.int("hidden", 1024, minimum=8),
        layers=f.int("layers", 8, minimum=1),
        cpu=f.quantity("cpu", "1"),
        memory=f.quantity("memory", "4Gi"),
    )
    if kind == "Job" and workload.batches == 0:
        f.problem(f.path("batches"), 0, "a Job must end: give the number of batches (>= 1)")
    if workload.device == "cuda" and workload.gpus == 0:
        f.problem(f.path("device"), "cuda", "needs gpus >= 1 (no GPU is visible without one)")
    if pool is not None and check_fit:
        _check_fits(f, workload, tenant, pool)
    return workload


def _gigabytes(f: Fields, name: str, default: float) -> float:
    value = f.raw(name)
    if value is MISSING:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        f.problem(f.path(name), value, "must be a number of GiB >= 0")
        return default
    return float(value)


def _check_fits(f: Fields, workload: WorkloadSpec, tenant: TenantSpec,
                pool: GpuPoolSpec) -> None:
    """A healthy workload is admitted by its quota and fits a node of its pool."""
    if workload.gpus > pool.schedulable_gpus_per_node:
        f.problem(f.path("gpus"), workload.gpus, f"a {pool.name} node has "
                  f"{pool.schedulable_gpus_per_node} GPU(s); a pod cannot span nodes")
    if workload.gpus > tenant.max_gpus_per_pod:
        f.problem(f.path("gpus"), workload.gpus, f"tenant {tenant.name} allows at most "
                  f"{tenant.max_gpus_per_pod} GPU(s) per pod (maxGpusPerPod)")
    total = workload.gpus * workload.replicas
    if total > tenant.gpus:
        f.problem(f.path("replicas"), workload.replicas, f"{workload.replicas} x "
                  f"{workload.gpus} GPU(s) exceeds tenant {tenant.name}'s quota of {tenant.gpus}")
    if workload.gpus and workload.gpu_memory_gb > pool.gpu_memory_gb:
        f.problem(f.path("gpuMemoryGb"), workload.gpu_memory_gb, f"{pool.accelerator} GPUs "
                  f"have {pool.gpu_memory_gb} GB")
    if workload.image_architecture != pool.architecture:
        f.problem(f.path("imageArchitecture"), workload.image_architecture,
                  f"{pool.name} nodes are {pool.architecture}")
