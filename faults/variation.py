"""The benign differences of an interview stack: tenants and workloads that differ the way a
real platform's do (batch and model sizes, image tags, extra env and args, quota sizes, a
CI binding, a CPU-side workload), so that diffing siblings in the candidate's handout does not
single out a fault.

The dressing is a property of the stack: seeded by its name (each tenant and workload by its
own name too, so adding one leaves the others as they were), the same with or without
faults, and applied before them. A fault's change lands on top of it. Nothing here may
change what a fault shows or hides: no GPU demand is added, no access widened beyond what the
tenant's own identities hold, quotas only grow, and the scheduler sees the same GPU pods.
`differences` lists it all for the interviewer's guide.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from model.frozen import FrozenDict
from model.spec import GPU_RESOURCE, GpuPoolSpec, LabSpec, RoleBindingSpec, TenantSpec, WorkloadSpec
from model.workloads import PUBLIC_IMAGE, default_spread

# PyTorch's CUDA runtime images on Docker Hub (linux/amd64, as PUBLIC_IMAGE).
IMAGE_TAGS = ("pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
              "pytorch/pytorch:2.5.1-cuda12.1-cudnn9-runtime",
              "pytorch/pytorch:2.4.1-cuda12.4-cudnn9-runtime")
BATCH_SIZES = (8, 16, 32, 64)
SEQ_LENS = (64, 128, 256)
MODELS = ((256, 4), (512, 4), (512, 6), (768, 2))          # (hidden, layers)
ENV = (("OMP_NUM_THREADS", ("2", "4")),
       ("PYTORCH_CUDA_ALLOC_CONF", ("expandable_segments:True",)),
       ("MODEL_REVISION", ("2026-10-14", "2026-11-02", "2026-11-20")),
       ("LOG_LEVEL", ("info", "debug")))
GPU_MEMORY_GB = (1.0, 2.0, 4.0)               # well inside any catalog GPU
POOL_LABELS = (("workload-class", ("inference", "batch", "mixed")),
               ("billing", ("shared-gpu", "research", "platform")))
SCRAPE_INTERVALS = ("30s", "60s")
# Read access for the team's dashboards and on-call: the built-in view ClusterRole in the
# tenant's namespace, for a viewers group of its own (named after its developer group).
VIEWERS_BINDING, VIEWERS_ROLE = "monitoring-viewers", "view"
# A scheduled evaluation pipeline: the tenant's CI identity for it, with the CI role.
CI_ACCOUNT = "nightly-eval"
CI_ROLE = "job-submitter"
# A CPU-side service next to the GPU ones: no GPU, on the system pool, one PyTorch thread
# within one core (more threads than its CPU limit would be throttled).
CPU_WORKLOADS = ("tokenize", "preprocess", "embed-cache")
CPU_REQUEST, MEMORY_REQUEST, CPU_THREADS = "1", "1Gi", "1"
# Object-count quotas some teams keep (ResourceQuota count/<resource>.<group>).
OBJECT_COUNTS = (("count/jobs.batch", "20"), ("count/deployments.apps", "10"),
                 ("configmaps", "50"))


@dataclass(frozen=True)
class Dressing:
    spec: LabSpec
    differences: tuple[str, ...]      # what was varied, one line each, for the guide


def dress(spec: LabSpec, stack: str) -> Dressing:
    """The spec with the stack's benign differences (before any fault)."""
    notes: list[str] = []
    workloads = [_workload(w, stack, notes) for w in spec.workloads]
    tenants = [_tenant(t, stack, notes) for t in spec.tenants]
    workloads += _cpu_workloads(spec, stack, notes)
    pools = [_pool(p, stack, notes) for p in spec.gpu_pools]
    return Dressing(replace(spec, tenants=tuple(tenants), workloads=tuple(workloads),
                            gpu_pools=tuple(pools)), tuple(notes))


def _pool(pool: GpuPoolSpec, stack: str, notes: list[str]) -> GpuPoolSpec:
    rng = _rng(stack, f"pool/{pool.name}")
    labels = {name: rng.choice(values) for name, values in POOL_LABELS if rng.random() < 0.6}
    if not labels:
        return pool
    notes.append(f"pool {pool.name}: node labels " +
                 ", ".join(f"{k}={v}" for k, v in labels.items()))
    return replace(pool, node_labels=FrozenDict(tuple({**pool.node_labels, **labels}.items())))


def _rng(stack: str, item: str) -> random.Random:
    return random.Random(f"gpu-lab/{stack}/{item}")


def _workload(workload: WorkloadSpec, stack: str, notes: list[str]) -> WorkloadSpec:
    ref = f"{workload.tenant}/{workload.name}"
    rng = _rng(stack, ref)
    hidden, layers = rng.choice(MODELS)
    changes = {"batch_size": rng.choice(BATCH_SIZES), "seq_len": rng.choice(SEQ_LENS),
               "hidden": hidden, "layers": layers}
    said = [f"batch size {changes['batch_size']}, sequence length {changes['seq_len']}, "
            f"model {hidden} wide with {layers} layers"]
    if workload.gpus and rng.random() < 0.6:
        changes["gpu_memory_gb"] = rng.choice(GPU_MEMORY_GB)
        said.append(f"GPU working set {changes['gpu_memory_gb']:g} GB")
    if workload.image == PUBLIC_IMAGE and not workload.custom_image:
        changes["image"] = rng.choice(IMAGE_TAGS)
        said.append(f"image {changes['image']}")
    env = tuple((name, rng.choice(values)) for name, values in ENV if rng.random() < 0.5)
    if env:
        changes["env"] = workload.env + env
        said.append("env " + ", ".join(f"{k}={v}" for k, v in env))
    if rng.random() < 0.5:
        seed = str(rng.randrange(1, 100))
        changes["args"] = workload.args + ("--seed", seed)
        said.append(f"args --seed {seed}")
    # Drawn apart from the above, so adding them left the earlier draws as they were.
    more = _rng(stack, f"{ref}/more")
    if workload.gpus and "--device" not in workload.args and more.random() < 0.4:
        changes["args"] = changes.get("args", workload.args) + ("--device", "cuda")
        said.append("args --device cuda (insists on the GPU)")
    if more.random() < 0.4:
        interval = more.choice(SCRAPE_INTERVALS)
        changes["pod_metrics_endpoint"] = replace(workload.pod_metrics_endpoint,
                                                  interval=interval)
        said.append(f"metrics scraped every {interval}")
    notes.append(f"{ref}: " + "; ".join(said))
    return replace(workload, **changes)


def _tenant(tenant: TenantSpec, stack: str, notes: list[str]) -> TenantSpec:
    rng = _rng(stack, tenant.name)
    said = []
    hard = dict(tenant.quota_hard)
    for resource in ("cpu", "memory"):
        if rng.random() < 0.5:
            factor = rng.choice((1.5, 2))
            for key in (f"requests.{resource}", f"limits.{resource}"):
                if key in hard:
                    grown = _grown(hard[key], factor)
                    said.append(f"quota {key} {hard[key]} -> {grown}")
                    hard[key] = grown
    for key, value in OBJECT_COUNTS:
        if rng.random() < 0.4:
            hard[key] = value
            said.append(f"quota {key} {value}")
    gpu = f"requests.{GPU_RESOURCE}"
    if gpu in hard and rng.random() < 0.4:
        hard[f"limits.{GPU_RESOURCE}"] = hard[gpu]
        said.append(f"quota limits.{GPU_RESOURCE} beside {gpu}")
    tenant = replace(tenant, quota_hard=FrozenDict(tuple(hard.items())))
    if rng.random() < 0.6:
        binding = RoleBindingSpec(name=CI_ACCOUNT, role=CI_ROLE,
                                  service_accounts=(CI_ACCOUNT,))
        tenant = replace(tenant, role_bindings=tenant.role_bindings + (binding,))
        said.append(f"RoleBinding {CI_ACCOUNT} ({CI_ROLE} for its {CI_ACCOUNT} CI "
                    "service account)")
    viewers = _viewers_group(tenant)
    if viewers and _rng(stack, f"{tenant.name}/viewers").random() < 0.7:
        binding = RoleBindingSpec(name=VIEWERS_BINDING, role=VIEWERS_ROLE,
                                  role_kind="ClusterRole", groups=(viewers,))
        tenant = replace(tenant, role_bindings=tenant.role_bindings + (binding,))
        said.append(f"RoleBinding {VIEWERS_BINDING} (ClusterRole {VIEWERS_ROLE} for its own "
                    f"{viewers})")
    if said:
        notes.append(f"{tenant.name}: " + "; ".join(said))
    return tenant


def _viewers_group(tenant: TenantSpec) -> str:
    """<tenant>-viewers@<the domain of its first developer group>, or "" without one."""
    if not tenant.developer_groups or "@" not in tenant.developer_groups[0]:
        return ""
    return f"{tenant.name}-viewers@{tenant.developer_groups[0].split('@', 1)[1]}"


def _pools_of_its_own(spec: LabSpec, tenant: str) -> bool:
    """Does the tenant keep all its workloads on GPU pools no other tenant uses? Such a team
    runs nothing on the shared system pool."""
    mine = {w.pool for w in spec.workloads if w.tenant == tenant}
    others = {w.pool for w in spec.workloads if w.tenant != tenant}
    return bool(mine) and not (mine & others) and spec.system_pool.name not in mine


def _grown(quantity: str, factor: float) -> str:
    """A CPU or memory quantity times `factor`, in the unit it was written in."""
    number = quantity.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    unit = quantity[len(number):]
    grown = float(number) * factor
    return f"{grown:g}{unit}" if grown == int(grown) else f"{int(grown * 1000)}m" \
        if not unit else f"{int(grown)}{unit}"


def _cpu_workloads(spec: LabSpec, stack: str, notes: list[str]) -> list[WorkloadSpec]:
    added = []
    taken = {(w.tenant, w.name) for w in spec.workloads}
    for tenant in spec.tenants:
        rng = _rng(stack, f"{tenant.name}/cpu")
        name = rng.choice(CPU_WORKLOADS)
        if rng.random() >= 0.5 or (tenant.name, name) in taken:
            continue
        template = next((w for w in spec.workloads if w.tenant == tenant.name), None)
        if template is None or _pools_of_its_own(spec, tenant.name):
            continue
        replicas = rng.choice((1, 2))
        added.append(replace(template, name=name, kind="Deployment", replicas=replicas, gpus=0,
                             gpu_memory_gb=0.0, pool=spec.system_pool.name, batches=0,
                             cpu=CPU_REQUEST, memory=MEMORY_REQUEST,
                             args=("--device", "cpu"),
                             env=(("OMP_NUM_THREADS", CPU_THREADS),),
                             monitor_selector=(),
                             topology_spread_constraints=default_spread(name),
                             affinity=FrozenDict()))
        notes.append(f"{tenant.name}/{name}: a CPU-side Deployment ({replicas} replica(s), "
                     "no GPU, --device cpu, on the system pool)")
    return added
