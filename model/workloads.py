"""gpu-lab:workload (defaults) and gpu-lab:workloads -> WorkloadSpec, validated against the
tenants and pools they land in.

Every field of a WorkloadSpec is a config key, so any workload can be written down as
ordinary config (and read back: model/to_config.py). What is refused is what cannot be meant
(a typo, an unknown tenant or pool, a Job that never ends, a pod with more CPU or memory than
any node of its pool can allocate) and what the workload's own tenant would refuse (its
LimitRange, its enforced GPU quota, its CPU and memory quota). Where GPUs land and whether
the program runs there is not second-guessed here: the config may say it, and the cluster
shows what happens.
"""

from __future__ import annotations

import re
from typing import Any

from decimal import Decimal

from model import machines
from model.errors import MISSING, Problem, did_you_mean
from model.gpu_catalog import NODE_ARCHITECTURE
from model.quantity import format_quantity, parse_quantity
from model.reader import Fields
from model.spec import GPU_RESOURCE, GpuPoolSpec, NodePoolSpec, TenantSpec, WorkloadSpec

# A public PyTorch CUDA runtime image (amd64): infer.py comes from a ConfigMap and its
# Python dependencies are installed into a shared volume when the pod starts.
PUBLIC_IMAGE = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
# Published for linux/amd64 only (kube/images.py records the registry's answer).
PUBLIC_IMAGE_ARCHITECTURE = "amd64"
KINDS = ("Deployment", "Job")
DEVICES = ("auto", "cuda", "cpu")
ARCHITECTURES = ("amd64", "arm64")
# A container port name (IANA_SVC_NAME): at most 15 of a-z, 0-9 and '-', with a letter, no
# '-' at either end or twice in a row.
PORT_NAME = re.compile(r"(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?")
LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}"
                       r"[A-Za-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
# The init container that installs infer.py's dependencies when the image does not carry
# them (components/workload.py). It counts in the pod's footprint where it is the larger.
INSTALL_REQUESTS = {"cpu": "100m", "memory": "256Mi"}
INSTALL_LIMITS = {"cpu": "500m", "memory": "512Mi"}


def load_workloads(defaults_raw: Any, raw: Any, tenants: tuple[TenantSpec, ...],
                   pools: tuple[GpuPoolSpec, ...], system_pool: NodePoolSpec,
                   problems: list[Problem], check_fit: bool = True,
                   know_machines: bool = True) -> tuple[WorkloadSpec, ...]:
    """check_fit: compare with the pools (off when the pools themselves are broken).
    know_machines: the pools' machine types are their nodes (not so on platform existing)."""
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
    workloads, seen, keys = [], set(), {}
    for i, item in enumerate(raw):
        f = Fields(f"{key}[{i}]", item, problems)
        workload = _workload(f, image, architecture, tenants, pools, system_pool, check_fit)
        f.finish()
        if workload is not None and check_fit and know_machines:
            _check_node_fit(f, workload, pools, system_pool)
        if workload is None:
            continue
        if (workload.tenant, workload.name) in seen:
            problems.append(Problem(f.path("name"), workload.name,
                                    f"must be unique within tenant {workload.tenant}"))
            continue
        seen.add((workload.tenant, workload.name))
        workloads.append(workload)
        keys[(workload.tenant, workload.name)] = f.key
    _check_tenant_totals(workloads, keys, tenants, problems, check_gpus=check_fit)
    return tuple(workloads)


def quota_enforced(tenant: TenantSpec) -> bool:
    """Does the tenant's ResourceQuota stop GPU pods beyond its allocation? Only the
    requests.<resource> key constrains an extended resource."""
    return f"requests.{GPU_RESOURCE}" in tenant.gpu_quota_keys


def pod_footprint(workload: WorkloadSpec) -> dict[str, Decimal]:
    """What one pod of the workload counts against quota and node, as the scheduler and the
    quota evaluator sum a pod (kube/pod_resources.py): the larger of the app container and
    the install init container, for requests and limits alike."""
    main = {"cpu": parse_quantity(workload.cpu), "memory": parse_quantity(workload.memory)}
    footprint = {}
    for resource, amount in main.items():
        requests, limits = amount, amount       # the app container is Guaranteed
        if not workload.custom_image:
            requests = max(requests, parse_quantity(INSTALL_REQUESTS[resource]))
            limits = max(limits, parse_quantity(INSTALL_LIMITS[resource]))
        footprint[f"requests.{resource}"] = requests
        footprint[f"limits.{resource}"] = limits
    return footprint


def _check_node_fit(f: Fields, workload: WorkloadSpec, pools: tuple[GpuPoolSpec, ...],
                    system_pool: NodePoolSpec) -> None:
    """A pod asking more CPU or memory than a node of its pool can allocate never runs
    (model/machines.py: GKE's allocatable)."""
    machine_type = next((p.machine_type for p in pools if p.name == workload.pool),
                        system_pool.machine_type if workload.pool == system_pool.name else None)
    try:
        node = machines.machine(machine_type or "")
    except ValueError:
        return                                  # reported on the pool's machineType
    footprint = pod_footprint(workload)
    for resource, allocatable in (("cpu", node.allocatable_cpu),
                                  ("memory", node.allocatable_memory)):
        if footprint[f"requests.{resource}"] > allocatable:
            f.problem(f.path(resource), getattr(workload, resource),
                      f"a node of pool {workload.pool} ({machine_type}) can allocate "
                      f"{_amount(resource, allocatable)} {resource} to pods")


def _amount(resource: str, value: Decimal) -> str:
    if resource == "memory":
        return f"{value / machines.GIB:.2f}Gi"
    return format_quantity(value.quantize(Decimal("0.001")))


def _check_tenant_totals(workloads: list[WorkloadSpec], keys: dict[tuple[str, str], str],
                         tenants: tuple[TenantSpec, ...], problems: list[Problem],
                         check_gpus: bool) -> None:
    """All of a tenant's workloads together fit its GPU quota, where the quota is enforced,
    and its CPU and memory quota (requests and limits: components/tenant.py)."""
    for tenant in tenants:
        mine = [w for w in workloads if w.tenant == tenant.name]
        total = sum(w.gpus * w.replicas for w in mine)
        if check_gpus and quota_enforced(tenant) and len(mine) > 1 and total > tenant.gpus:
            problems.append(Problem("gpu-lab:workloads", [f"{w.tenant}/{w.name}" for w in mine],
                                    f"together they need {total} GPUs; tenant {tenant.name}'s "
                                    f"quota is {tenant.gpus}"))
        for resource in ("cpu", "memory"):
            quota = parse_quantity(getattr(tenant, resource))
            need = sum((pod_footprint(w)[f"limits.{resource}"] * w.replicas for w in mine),
                       Decimal(0))
            if need > quota:
                refs = [f"{w.tenant}/{w.name}" for w in mine]
                problems.append(Problem(
                    "gpu-lab:workloads" if len(mine) > 1 else
                    f"{keys[(mine[0].tenant, mine[0].name)]}.{resource}",
                    refs if len(mine) > 1 else getattr(mine[0], resource),
                    f"{'together they' if len(mine) > 1 else 'its pods'} need "
                    f"{_amount(resource, need)} {resource} (limits, replicas included); tenant "
                    f"{tenant.name}'s {resource} quota is {getattr(tenant, resource)} "
                    f"(gpu-lab:tenants[].{resource})"))


def _workload(f: Fields, default_image: str, default_arch: str, tenants: tuple[TenantSpec, ...],
              pools: tuple[GpuPoolSpec, ...], system_pool: NodePoolSpec,
              check_fit: bool) -> WorkloadSpec | None:
    by_name = {t.name: t for t in tenants}
    tenant_name = f.str("tenant", None)
    tenant = by_name.get(tenant_name) if isinstance(tenant_name, str) else None
    if tenant_name is None and not f.has("tenant"):
        f.problem(f.path("tenant"), MISSING, "every workload names the tenant it runs in: "
                  + (", ".join(by_name) or "the stack has no tenants"))
    elif tenant_name is not None and tenant is None:
        f.problem(f.path("tenant"), tenant_name, "must be one of the stack's tenants: "
                  + (", ".join(by_name) or "none (gpu-lab:tenants is empty)")
                  + did_you_mean(tenant_name, by_name))
    # Without its tenant the workload is still read to the end: its other fields are checked
    # on their own (none is an "unknown field"), and it is left out of the spec.
    pool_names = [p.name for p in pools]
    pool_name = f.str("pool", pool_names[0] if pool_names else system_pool.name)
    # Any node pool of the stack, the system pool included (the scheduler decides what fits
    # where); a name that is no pool at all is a typo.
    known = pool_names + [system_pool.name]
    if pool_name not in known:
        f.problem(f.path("pool"), pool_name, "must be one of the stack's node pools: "
                  + ", ".join(known) + did_you_mean(pool_name, known))
    kind = f.str("kind", "Deployment", choices=KINDS)
    image = f.str("image", default_image)
    custom_image = f.bool("customImage", image != PUBLIC_IMAGE)
    if custom_image and image == PUBLIC_IMAGE:
        f.problem(f.path("customImage"), True, f"{PUBLIC_IMAGE} does not carry infer.py: a "
                  "custom image is built from workload/Dockerfile (set image to it)")
    workload = WorkloadSpec(
        name=f.str("name", "infer", label=True, max_len=50),
        tenant=tenant.name if tenant else "",
        kind=kind,
        replicas=f.int("replicas", 1, minimum=1),
        gpus=f.int("gpus", 1, minimum=0),
        gpu_memory_gb=_gigabytes(f, "gpuMemoryGb", 2.0),
        device=f.str("device", "auto", choices=DEVICES),
        image=image,
        image_architecture=f.str("imageArchitecture", default_arch, choices=ARCHITECTURES),
        custom_image=custom_image,
        pool=pool_name,
        priority_class=tenant.priority_class if tenant else "",
        batches=f.int("batches", 200 if kind == "Job" else 0, minimum=0),
        batch_size=f.int("batchSize", 32, minimum=1),
        seq_len=f.int("seqLen", 256, minimum=1),
        hidden=f.int("hidden", 1024, minimum=8),
        layers=f.int("layers", 8, minimum=1),
        cpu=f.quantity("cpu", "1"),
        memory=f.quantity("memory", "4Gi"),
        monitor_port=_port_name(f, "monitorPort", "metrics"),
        monitor_selector=_labels(f, "monitorSelector"),
        log_to_file=f.bool("logToFile", False),
        spread=f.bool("spread", True),
        pin_to_one_node=f.bool("pinToOneNode", False),
    )
    if kind == "Job" and workload.batches == 0:
        f.problem(f.path("batches"), 0, "a Job must end: give the number of batches (>= 1)")
    if workload.device == "cuda" and workload.gpus == 0:
        f.problem(f.path("device"), "cuda", "needs gpus >= 1 (no GPU is visible without one)")
    pool = next((p for p in pools if p.name == pool_name), None)
    if pool is not None and pool.gke_time_sharing and workload.gpus > 1:
        # GKE's device plugin fails such a pod at admission (UnexpectedAdmissionError).
        f.problem(f.path("gpus"), workload.gpus, f"pool {pool.name} shares its GPUs with GKE's "
                  "time-sharing, where a container gets at most 1 nvidia.com/gpu")
    if workload.pin_to_one_node and workload.spread:
        f.problem(f.path("pinToOneNode"), True, "replicas cannot both share one node and "
                  "spread across nodes: set spread false")
    # The public image's architecture is known: declaring another one is a typo.
    if image == PUBLIC_IMAGE and workload.image_architecture != PUBLIC_IMAGE_ARCHITECTURE:
        f.problem(f.path("imageArchitecture"), workload.image_architecture,
                  f"{PUBLIC_IMAGE} is built for {PUBLIC_IMAGE_ARCHITECTURE} only")
    if tenant is None:
        return None
    if check_fit:
        _check_fits(f, workload, tenant)
    return workload


def _port_name(f: Fields, name: str, default: str) -> str:
    value = f.str(name, default)
    if value != default and isinstance(value, str) and not PORT_NAME.fullmatch(value):
        f.problem(f.path(name), value, "must be a container port name: at most 15 lowercase "
                  "letters, digits and '-', with at least one letter")
        return default
    return value


def _labels(f: Fields, name: str) -> tuple[tuple[str, str], ...]:
    """A label selector's matchLabels, {key: value}; () when unset."""
    labels = f.obj(name)
    pairs = []
    for key in labels.names():
        value = labels.str(key, None)
        if value is None:
            continue
        if not LABEL_KEY.fullmatch(key) or not LABEL_VALUE.fullmatch(value) or len(value) > 63:
            labels.problem(labels.path(key), value, "must be a Kubernetes label (key: value, "
                           "e.g. app.kubernetes.io/name: infer)")
            continue
        pairs.append((key, value))
    labels.finish()
    return tuple(pairs)


def _gigabytes(f: Fields, name: str, default: float) -> float:
    value = f.raw(name)
    if value is MISSING:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        f.problem(f.path(name), value, "must be a number of GiB >= 0")
        return default
    return float(value)


def _check_fits(f: Fields, workload: WorkloadSpec, tenant: TenantSpec) -> None:
    """What the workload's own tenant would refuse is a config error: more GPUs per pod than
    its LimitRange allows (maxGpusPerPod), and more GPUs in all than its quota holds where the
    quota is enforced (gpuQuotaKeys has requests.nvidia.com/gpu; other keys stop nothing, so
    the config may go beyond them). What the workload asks of its pool's nodes is left to the
    scheduler and the node, like any other setting they judge."""
    if workload.gpus > tenant.max_gpus_per_pod:
        f.problem(f.path("gpus"), workload.gpus, f"tenant {tenant.name} allows at most "
                  f"{tenant.max_gpus_per_pod} GPU(s) per pod (maxGpusPerPod)")
    total = workload.gpus * workload.replicas
    if total > tenant.gpus and quota_enforced(tenant):
        f.problem(f.path("replicas"), workload.replicas, f"{workload.replicas} x "
                  f"{workload.gpus} GPU(s) exceeds tenant {tenant.name}'s quota of {tenant.gpus}")
