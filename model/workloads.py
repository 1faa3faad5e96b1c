"""gpu-lab:workload (defaults) and gpu-lab:workloads -> WorkloadSpec, validated against the
tenants and pools they land in.

Every field of a WorkloadSpec is a config key, so any workload can be written down as
ordinary config (and read back: model/to_config.py). What is refused is what cannot be meant
(a typo, an unknown tenant or pool, a Job that never ends, a pod with more CPU or memory than
any node of its pool can allocate) and what the workload's own tenant would refuse (its
LimitRange, its CPU and memory quota). Where GPUs land and whether
the program runs there is not second-guessed here: the config may say it, and the cluster
shows what happens.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from decimal import Decimal

from model import machines
from model.errors import MISSING, Problem, did_you_mean
from model.gpu_catalog import NODE_ARCHITECTURE
from model.quantity import format_quantity, parse_quantity
from model.reader import Fields
from model.frozen import FrozenDict, freeze
from model.spec import (GPU_RESOURCE, GpuPoolSpec, NodePoolSpec, PodMetricsEndpoint, TenantSpec,
                        WorkloadSpec)

# A public PyTorch CUDA runtime image (amd64): infer.py comes from a ConfigMap and its
# Python dependencies are installed into a shared volume when the pod starts.
PUBLIC_IMAGE = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
# Published for linux/amd64 only (kube/images.py records the registry's answer).
PUBLIC_IMAGE_ARCHITECTURE = "amd64"
KINDS = ("Deployment", "Job")
ARCHITECTURES = ("amd64", "arm64")
# A container port name (IANA_SVC_NAME): at most 15 of a-z, 0-9 and '-', with a letter, no
# '-' at either end or twice in a row.
PORT_NAME = re.compile(r"(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?")
LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}"
                       r"[A-Za-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
# A container's environment variable name, as the API server validates it.
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
# A Prometheus duration (the PodMonitor CRD's pattern), e.g. 15s, 1m30s.
DURATION = re.compile(r"(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
                      r"(([0-9]+)s)?(([0-9]+)ms)?)")
# The fields of a pod's topologySpreadConstraints item and of its affinity.
SPREAD_FIELDS = ("maxSkew", "topologyKey", "whenUnsatisfiable", "labelSelector", "minDomains",
                 "nodeAffinityPolicy", "nodeTaintsPolicy", "matchLabelKeys")
SPREAD_REQUIRED = ("maxSkew", "topologyKey", "whenUnsatisfiable")
WHEN_UNSATISFIABLE = ("DoNotSchedule", "ScheduleAnyway")
AFFINITY_FIELDS = ("nodeAffinity", "podAffinity", "podAntiAffinity")
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
    _check_tenant_totals(workloads, keys, tenants, problems)
    return tuple(workloads)


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
                         tenants: tuple[TenantSpec, ...], problems: list[Problem]) -> None:
    """All of a tenant's workloads together fit the CPU and memory entries of its quota
    (limits.*, requests.* and the bare name, which counts requests)."""
    for tenant in tenants:
        mine = [w for w in workloads if w.tenant == tenant.name]
        for resource in ("cpu", "memory"):
            for key, counted in ((f"limits.{resource}", f"limits.{resource}"),
                                 (f"requests.{resource}", f"requests.{resource}"),
                                 (resource, f"requests.{resource}")):
                if key not in tenant.quota_hard:
                    continue
                quota = parse_quantity(tenant.quota_hard[key])
                need = sum((pod_footprint(w)[counted] * w.replicas for w in mine), Decimal(0))
                if need <= quota:
                    continue
                refs = [f"{w.tenant}/{w.name}" for w in mine]
                what = "limits" if counted.startswith("limits.") else "requests"
                problems.append(Problem(
                    "gpu-lab:workloads" if len(mine) > 1 else
                    f"{keys[(mine[0].tenant, mine[0].name)]}.{resource}",
                    refs if len(mine) > 1 else getattr(mine[0], resource),
                    f"{'together they' if len(mine) > 1 else 'its pods'} need "
                    f"{_amount(resource, need)} {resource} ({what}, replicas included); tenant "
                    f"{tenant.name}'s {resource} quota is {tenant.quota_hard[key]} ({key} of "
                    f"its quota.hard)"))
                break


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
    name = f.str("name", "infer", label=True, max_len=50)
    workload = WorkloadSpec(
        name=name,
        tenant=tenant.name if tenant else "",
        kind=kind,
        replicas=f.int("replicas", 1, minimum=1),
        gpus=f.int("gpus", 1, minimum=0),
        gpu_memory_gb=_gigabytes(f, "gpuMemoryGb", 2.0),
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
        args=_args(f, "args"),
        env=_env(f, "env"),
        pod_metrics_endpoint=_metrics_endpoint(f.obj("podMetricsEndpoint")),
        monitor_selector=_labels(f, "monitorSelector"),
        topology_spread_constraints=_spread_constraints(f, "topologySpreadConstraints", name),
        affinity=_affinity(f, "affinity"),
    )
    if kind == "Job" and workload.batches == 0:
        f.problem(f.path("batches"), 0, "a Job must end: give the number of batches (>= 1)")
    pool = next((p for p in pools if p.name == pool_name), None)
    if pool is not None and pool.gke_time_sharing and workload.gpus > 1:
        # GKE's device plugin fails such a pod at admission (UnexpectedAdmissionError).
        f.problem(f.path("gpus"), workload.gpus, f"pool {pool.name} shares its GPUs with GKE's "
                  "time-sharing, where a container gets at most 1 nvidia.com/gpu")
    # The public image's architecture is known: declaring another one is a typo.
    if image == PUBLIC_IMAGE and workload.image_architecture != PUBLIC_IMAGE_ARCHITECTURE:
        f.problem(f.path("imageArchitecture"), workload.image_architecture,
                  f"{PUBLIC_IMAGE} is built for {PUBLIC_IMAGE_ARCHITECTURE} only")
    if tenant is None:
        return None
    if check_fit:
        _check_fits(f, workload, tenant)
    return workload


@functools.lru_cache(maxsize=256)
def default_spread(name: str) -> tuple[FrozenDict, ...]:
    """The topologySpreadConstraints of a workload that sets none: its replicas spread over
    nodes where they can."""
    return freeze([{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}])


def _args(f: Fields, name: str) -> tuple[str, ...]:
    value = f.raw(name)
    if value is MISSING:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        f.problem(f.path(name), value, "must be a list of strings (quote numbers: \"8\")")
        return ()
    return tuple(value)


def _env(f: Fields, name: str) -> tuple[tuple[str, str], ...]:
    """A container's env: [{name, value}], value a string."""
    pairs = []
    for key, item in f.items(name):
        var = Fields(key, item, f.problems)
        if not isinstance(item, dict):
            continue
        if not var.has("name"):
            var.problem(var.path("name"), MISSING, "every env entry needs a name")
        var_name = var.str("name", None, matching=(
            ENV_NAME, "must be an environment variable name: letters, digits, '_', '-' and "
            "'.', not starting with a digit"))
        value = var.raw("value")
        if value is MISSING:
            value = ""
        elif not isinstance(value, str):
            var.problem(var.path("value"), value, "must be a string (quote numbers and "
                        "booleans: \"1\", \"true\")")
            value = None
        var.finish()
        if isinstance(var_name, str) and value is not None:
            pairs.append((var_name, value))
    return tuple(pairs)


def _metrics_endpoint(f: Fields) -> PodMetricsEndpoint:
    """A PodMonitor's podMetricsEndpoints item: {port, path, interval}."""
    default = PodMetricsEndpoint()
    endpoint = PodMetricsEndpoint(
        port=_port_name(f, "port", default.port),
        path=f.str("path", default.path, matching=(re.compile(r"/\S*"),
                                                   "must be an HTTP path starting with '/'")),
        interval=f.str("interval", default.interval, matching=(
            DURATION, "must be a Prometheus duration such as 15s, 1m or 1m30s")))
    f.finish()
    return endpoint


def _spread_constraints(f: Fields, name: str, workload_name: str) -> tuple[FrozenDict, ...]:
    """A pod's topologySpreadConstraints; unset: spread over nodes (default_spread)."""
    value = f.raw(name)
    if value is MISSING:
        return default_spread(workload_name)
    if not isinstance(value, list):
        f.problem(f.path(name), value, "must be a list of topology spread constraints "
                  "({maxSkew, topologyKey, whenUnsatisfiable, labelSelector, ...}), or []")
        return ()
    for key, item in f.items(name):
        constraint = Fields(key, item, f.problems)
        if not isinstance(item, dict):
            continue
        for required in SPREAD_REQUIRED:
            if not constraint.has(required):
                constraint.problem(constraint.path(required), MISSING,
                                   "every topology spread constraint sets "
                                   + ", ".join(SPREAD_REQUIRED))
        constraint.int("maxSkew", 1, minimum=1)
        constraint.str("topologyKey", None)
        constraint.str("whenUnsatisfiable", None, choices=WHEN_UNSATISFIABLE)
        for other in SPREAD_FIELDS:
            constraint.raw(other)
        constraint.finish()
    return freeze(value)


def _affinity(f: Fields, name: str) -> FrozenDict:
    """A pod's affinity: {nodeAffinity, podAffinity, podAntiAffinity}; unset: none."""
    affinity = f.obj(name)
    for kind in AFFINITY_FIELDS:
        value = affinity.raw(kind)
        if value is not MISSING and not isinstance(value, dict):
            affinity.problem(affinity.path(kind), value, "must be an object")
    affinity.finish()
    value = f.raw(name)
    return freeze(value) if isinstance(value, dict) else FrozenDict()


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
    its LimitRange allows (maxGpusPerPod). What the workload asks of its pool's nodes and of
    its tenant's GPU quota is left to the scheduler and the API server, like any other
    setting they judge."""
    if workload.gpus > tenant.max_gpus_per_pod:
        f.problem(f.path("gpus"), workload.gpus, f"tenant {tenant.name} allows at most "
                  f"{tenant.max_gpus_per_pod} GPU(s) per pod (maxGpusPerPod)")
