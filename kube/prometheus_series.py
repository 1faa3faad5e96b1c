"""The series each scrape target exposes, given the twin's pods and the stack's nodes.

Each exporter is a function from the cluster's state (objects, pods with their status,
nodes) and one target to the series it serves, with the label names and values the real
exporter uses; Prometheus then adds the target's labels (honor_labels: the exporter's win,
else they are kept as exported_<name>) and the enforced namespace label
(kube/prometheus_targets.py). A target that is down exposes `up` = 0 and nothing else; a
pod with no target (no endpoint, not monitored) has no series at all. What stands in for
what:

- dcgm-exporter (NVIDIA/dcgm-exporter: default counters, dcp-metrics-included.csv, and
  pkg/dcgmexporter/kubernetes.go, which labels a GPU's series with the `namespace`, `pod`
  and `container` the kubelet's pod-resources API lists it for): one series per physical
  GPU of the node the exporter runs on (per GPU and pod when time-slicing shares it), with
  `gpu`, `UUID`, `device`, `modelName`, `Hostname`, `pci_bus_id`, `DCGM_FI_DRIVER_VERSION`.
  A GPU is held by the pods bound to the node that request it and are not terminal, in
  name order. Utilization follows the device the workload computes on (infer.py: `--device
  cpu`, or no GPU visible, computes on the CPU): BUSY_UTIL % while a holder runs on the GPU,
  0 otherwise; framebuffer used is the working set it reserves (`--gpu-memory-gb`);
- kube-state-metrics v2 (docs/metrics/workload/pod-metrics.md, node-metrics.md,
  resourcequota-metrics.md, namespace-metrics.md, job-metrics.md): pods, containers
  (waiting reasons, restarts), requests and limits (`nvidia.com/gpu` as `nvidia_com_gpu`),
  nodes, ResourceQuotas (status.used as the quota controller computes it from the pods),
  namespaces with the labels the chart allowlists, Jobs;
- the kubelet (/metrics: kubelet_node_name, kubelet_running_pods; /metrics/cadvisor: CPU,
  memory and CFS periods per running container; /metrics/probes: prober_probe_total);
  a container's CPU demand stands in for what it does: infer.py on the CPU keeps every
  core of the node busy, on the GPU a fraction of one; CFS throttles it above its limit;
- node-exporter: CPU seconds per core and mode, memory, load;
- workload/infer.py (gpu_lab_inference_*, its own names and labels), only from a running
  pod whose target is up: throughput on the GPU or the CPU as bench/workload.py measures
  the order of magnitude;
- the rest (Prometheus, Alertmanager, the operator, Grafana, DNS, the API server):
  `up` and their build info.

The samples are constant over the span (the cluster has settled), counters grow at their
rate, and a crash-looping container restarts every 5 minutes (the kubelet's back-off cap)
up to the count the twin shows at the settled time.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Callable, Iterable, Optional

from kube.kubelet import TORCH_GPU_MEMORY
from kube.kubelet import option as _arg
from kube.objects import ObjectSet
from kube.pod_resources import resource_list
from kube.prometheus_engine import SAMPLES, SPAN, STEP, Series, counter
from kube.prometheus_targets import Target
from kube.resourcequota import hard as quota_hard
from kube.resourcequota import matching_resources, pod_usage, quota_matches
from model.gpu_catalog import CATALOG
from model.spec import ACCELERATOR_LABEL, GPU_RESOURCE, LabSpec

BUSY_UTIL = 87.0                 # % a GPU computing inference shows
DRIVER_VERSION = "535.230.02"
GPU_SAMPLES_PER_SECOND = 1800.0  # infer.py on one T4-class GPU
CPU_SAMPLES_PER_SECOND = 45.0    # infer.py on a node's CPUs
CRASH_EVERY = 300                # seconds: the kubelet's maximum back-off
MIB = 2 ** 20
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")


def labels_allowlist(objects: ObjectSet) -> dict[str, list[str]]:
    """kube-state-metrics' --metric-labels-allowlist from the chart's values
    (`kube-state-metrics.metricLabelsAllowlist`: ["namespaces=[a,b]", "nodes=[c]"]): which
    object labels become label_<name> on kube_<kind>_labels."""
    allowed: dict[str, list[str]] = {}
    for release in objects.of_kind("HelmRelease"):
        if (release.get("spec") or {}).get("chart") != "kube-prometheus-stack":
            continue
        values = (release["spec"].get("values") or {}).get("kube-state-metrics") or {}
        for entry in values.get("metricLabelsAllowlist") or []:
            kind, _, names = str(entry).partition("=")
            allowed[kind.strip()] = [n.strip() for n in names.strip("[]").split(",") if n]
    return allowed


def _uid(*parts: str) -> str:
    d = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


def ksm_label(name: str) -> str:
    """kube-state-metrics' sanitizing of names (nvidia.com/gpu -> nvidia_com_gpu)."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _resource_unit(resource: str) -> tuple[str, str]:
    if resource == "cpu":
        return "cpu", "core"
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        return ksm_label(resource), "byte"
    return ksm_label(resource), "integer"


class ClusterState:
    """What Prometheus would scrape: the cluster's objects (pods with status, nodes, the
    platform's Services and pods, Jobs with status) and the stack's spec."""

    def __init__(self, spec: LabSpec, objects: ObjectSet, nodes: list[dict]):
        self.spec = spec
        self.objects = objects
        self.nodes = nodes
        self.pods = objects.of_kind("Pod")
        self.pools = {p.name: p for p in spec.gpu_pools}
        self.allowlist = labels_allowlist(objects)

    def allowed_labels(self, kind: str, labels: dict) -> dict[str, str]:
        names = self.allowlist.get(kind) or []
        return {f"label_{ksm_label(k)}": v for k, v in labels.items()
                if k in names or "*" in names}

    def node(self, name: Optional[str]) -> Optional[dict]:
        return next((n for n in self.nodes if n["metadata"]["name"] == name), None)

    def pods_on(self, node: str) -> list[dict]:
        return sorted((p for p in self.pods if (p.get("spec") or {}).get("nodeName") == node),
                      key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))


# -- what a container does ---------------------------------------------------------------

def infer_args(container: dict) -> Optional[list[str]]:
    """infer.py's arguments, if the container runs it (kube/kubelet.py run_container)."""
    command = [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
    if len(command) > 1 and command[0].startswith("python") and command[1].endswith("infer.py"):
        return command[2:]
    return None


def container_gpus(container: dict) -> int:
    resources = container.get("resources") or {}
    amount = (resources.get("limits") or {}).get(GPU_RESOURCE) or \
        (resources.get("requests") or {}).get(GPU_RESOURCE) or 0
    return int(Decimal(str(amount)))


def running(pod: dict) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and \
        all(s.get("ready") for s in status.get("containerStatuses") or [])


def computes_on(pod: dict, container: dict) -> Optional[str]:
    """"cuda" or "cpu" for a running infer.py container (kubelet.run_infer: auto and cuda use
    a visible GPU, cpu never does), None for anything else."""
    args = infer_args(container)
    if args is None or not running(pod):
        return None
    device = _arg(args, "--device", "auto")
    return "cuda" if container_gpus(container) > 0 and device in ("auto", "cuda") else "cpu"


def _node_cores(state: ClusterState, node: Optional[str]) -> float:
    found = state.node(node)
    raw = ((found or {}).get("status") or {}).get("allocatable", {}).get("cpu", "4")
    return max(1.0, round(float(resource_list({"cpu": raw})["cpu"])))


def cpu_demand(state: ClusterState, pod: dict, container: dict) -> float:
    """Cores the container would use unthrottled. On the CPU, PyTorch runs one intra-op
    thread per core of the node (it does not read the cgroup's quota), or OMP_NUM_THREADS
    of them where the environment sets it (aten/src/ATen/ParallelCommon.cpp,
    intraop_default_num_threads)."""
    where = computes_on(pod, container)
    if where == "cpu":
        cores = _node_cores(state, (pod.get("spec") or {}).get("nodeName"))
        threads = next((e.get("value") for e in container.get("env") or []
                        if e.get("name") == "OMP_NUM_THREADS"), None)
        return min(cores, float(threads)) if str(threads or "").isdigit() and \
            int(threads) > 0 else cores
    if where == "cuda":
        return 0.35
    return 0.02


def cpu_limit(container: dict) -> Optional[float]:
    limit = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
    return float(resource_list({"cpu": limit})["cpu"]) if limit is not None else None


# -- exporters -----------------------------------------------------------------------------

Exposed = list[tuple[str, dict, object]]     # (metric, labels, values)


def dcgm_gpus(state: ClusterState, node_name: str) -> list[dict]:
    """The node's physical GPUs, each with the pods (namespace, pod, container, device it
    computes on) that hold it."""
    node = state.node(node_name)
    if node is None:
        return []
    pool = state.pools.get(node["metadata"]["labels"].get("gpu-lab/pool"))
    if pool is None:
        return []
    gpus = [{"index": i, "holders": []} for i in range(pool.gpus_per_node)]
    slots = [g for g in gpus for _ in range(max(1, pool.gpu_replicas))]
    taken = 0
    for pod in state.pods_on(node_name):
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for container in (pod.get("spec") or {}).get("containers") or []:
            for _ in range(container_gpus(container)):
                if taken < len(slots):
                    slots[taken]["holders"].append((pod, container))
                    taken += 1
    return gpus


def dcgm_exporter(state: ClusterState, target: Target) -> Exposed:
    node = state.node(target.node)
    if node is None:
        return []
    accelerator = node["metadata"]["labels"].get(ACCELERATOR_LABEL, "")
    gpu_type = CATALOG.get(accelerator)
    total = (TORCH_GPU_MEMORY.get(accelerator) or
             (gpu_type.memory_gb if gpu_type else 16) * 2 ** 30) // MIB
    exposed: Exposed = []
    for gpu in dcgm_gpus(state, target.node):
        index = gpu["index"]
        base = {"gpu": str(index), "UUID": f"GPU-{_uid(target.node, str(index))}",
                "device": f"nvidia{index}", "modelName": gpu_type.model if gpu_type else "",
                "Hostname": target.node, "pci_bus_id": f"00000000:00:{4 + index:02X}.0",
                "DCGM_FI_DRIVER_VERSION": DRIVER_VERSION}
        holders = gpu["holders"] or [None]
        busy = any(computes_on(p, c) == "cuda" for p, c in gpu["holders"])
        used = 0
        for pod, container in gpu["holders"]:
            if computes_on(pod, container) == "cuda":
                args = infer_args(container) or []
                used += int(float(_arg(args, "--gpu-memory-gb", "0")) * 1024) or 1024
        used = min(used, total)
        for holder in holders:
            labels = dict(base)
            if holder is not None:
                pod, container = holder
                labels.update(namespace=pod["metadata"]["namespace"],
                              pod=pod["metadata"]["name"], container=container["name"])
            exposed += [
                ("DCGM_FI_DEV_GPU_UTIL", labels, BUSY_UTIL if busy else 0.0),
                ("DCGM_FI_DEV_MEM_COPY_UTIL", labels, 31.0 if busy else 0.0),
                ("DCGM_FI_DEV_FB_USED", labels, float(used)),
                ("DCGM_FI_DEV_FB_FREE", labels, float(total - used)),
                ("DCGM_FI_DEV_POWER_USAGE", labels, 62.5 if busy else 11.2),
            ]
    return exposed


def _restarts(pod: dict, container: str) -> tuple[float, ...]:
    status = next((s for s in (pod.get("status") or {}).get("containerStatuses") or []
                   if s.get("name") == container), {})
    count = int(status.get("restartCount") or 0)
    if not count:
        return (0.0,) * SAMPLES
    if "CrashLoopBackOff" not in str(status.get("state")):
        return (float(count),) * SAMPLES
    # Restarted every CRASH_EVERY seconds until the settled time, when the twin shows count.
    return tuple(float(max(0, count - (SPAN - i * STEP) // CRASH_EVERY))
                 for i in range(SAMPLES))


def _owner(pod: dict) -> tuple[str, str]:
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    return (refs[0]["kind"], refs[0]["name"]) if refs else ("<none>", "<none>")


def kube_state_metrics(state: ClusterState, target: Target) -> Exposed:
    exposed: Exposed = []
    for pod in state.pods:
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        ns, name = meta["namespace"], meta["name"]
        uid = _uid(ns, name)
        base = {"namespace": ns, "pod": name, "uid": uid}
        node = spec.get("nodeName", "")
        kind, owner = _owner(pod)
        exposed.append(("kube_pod_info", {**base, "node": node, "host_ip": "",
                                          "pod_ip": status.get("podIP", ""),
                                          "created_by_kind": kind, "created_by_name": owner,
                                          "priority_class": spec.get("priorityClassName", ""),
                                          "host_network": "false"}, 1))
        exposed.append(("kube_pod_owner", {**base, "owner_kind": kind, "owner_name": owner,
                                           "owner_is_controller": "true"}, 1))
        phase = status.get("phase", "Pending")
        exposed += [("kube_pod_status_phase", {**base, "phase": p}, 1 if p == phase else 0)
                    for p in PHASES]
        ready = running(pod)
        exposed += [("kube_pod_status_ready", {**base, "condition": c},
                     1 if (c == "true") == ready and c != "unknown" else 0)
                    for c in ("true", "false", "unknown")]
        if not node:
            exposed.append(("kube_pod_status_unschedulable", base, 1))
        exposed.append(("kube_pod_status_scheduled", {**base, "condition": "true"},
                        1 if node else 0))
        for kind_key, statuses in (("container", status.get("containerStatuses") or []),
                                   ("init_container",
                                    status.get("initContainerStatuses") or [])):
            for entry in statuses:
                labels = {**base, "container": entry["name"]}
                state_now = entry.get("state") or {}
                waiting = state_now.get("waiting")
                exposed.append((f"kube_pod_{kind_key}_status_waiting", labels,
                                1 if waiting else 0))
                exposed.append((f"kube_pod_{kind_key}_status_running", labels,
                                1 if "running" in state_now else 0))
                exposed.append((f"kube_pod_{kind_key}_status_ready", labels,
                                1 if entry.get("ready") else 0))
                if waiting:
                    exposed.append((f"kube_pod_{kind_key}_status_waiting_reason",
                                    {**labels, "reason": waiting.get("reason", "")}, 1))
                if "terminated" in state_now:
                    exposed.append((f"kube_pod_{kind_key}_status_terminated_reason",
                                    {**labels, "reason": state_now["terminated"].get(
                                        "reason", "")}, 1))
                exposed.append((f"kube_pod_{kind_key}_status_restarts_total", labels,
                                _restarts(pod, entry["name"])))
        for container in spec.get("containers") or []:
            resources = container.get("resources") or {}
            for which in ("requests", "limits"):
                for resource, amount in resource_list(resources.get(which)).items():
                    name_, unit = _resource_unit(resource)
                    exposed.append((f"kube_pod_container_resource_{which}",
                                    {**base, "container": container["name"], "node": node,
                                     "resource": name_, "unit": unit}, float(amount)))
    for node in state.nodes:
        name = node["metadata"]["name"]
        exposed.append(("kube_node_info", {"node": name, "kubelet_version": "v1.33.5-gke"},
                        1))
        exposed.append(("kube_node_labels", {"node": name, **state.allowed_labels(
            "nodes", node["metadata"].get("labels") or {})}, 1))
        exposed.append(("kube_node_spec_unschedulable", {"node": name}, 0))
        for condition in ("true", "false", "unknown"):
            exposed.append(("kube_node_status_condition", {"node": name, "condition": "Ready",
                                                           "status": condition},
                            1 if condition == "true" else 0))
        for which in ("allocatable", "capacity"):
            for resource, amount in resource_list(
                    (node.get("status") or {}).get(which)).items():
                name_, unit = _resource_unit(resource)
                exposed.append((f"kube_node_status_{which}", {"node": name,
                                                              "resource": name_,
                                                              "unit": unit}, float(amount)))
        for taint in (node.get("spec") or {}).get("taints") or []:
            exposed.append(("kube_node_spec_taint", {"node": name, "key": taint.get("key", ""),
                                                     "value": taint.get("value", ""),
                                                     "effect": taint.get("effect", "")}, 1))
    for quota in state.objects.of_kind("ResourceQuota"):
        ns, name = quota["metadata"]["namespace"], quota["metadata"]["name"]
        limits = quota_hard(quota)
        counted = set(matching_resources(limits))
        used = {key: Decimal(0) for key in counted}
        for pod in state.pods:
            if pod["metadata"]["namespace"] != ns or not quota_matches(quota, pod):
                continue
            for key, amount in pod_usage(pod).items():
                if key in used:
                    used[key] += amount
        for key, amount in limits.items():
            labels = {"namespace": ns, "resourcequota": name, "resource": key}
            exposed.append(("kube_resourcequota", {**labels, "type": "hard"}, float(amount)))
            if key in used:
                exposed.append(("kube_resourcequota", {**labels, "type": "used"},
                                float(used[key])))
    for namespace in state.objects.of_kind("Namespace"):
        name = namespace["metadata"]["name"]
        labels = namespace["metadata"].get("labels") or {}
        exposed.append(("kube_namespace_labels", {
            "namespace": name, **state.allowed_labels("namespaces", labels)}, 1))
        exposed.append(("kube_namespace_status_phase", {"namespace": name, "phase": "Active"},
                        1))
    exposed += _deployments(state)
    for job in state.objects.of_kind("Job"):
        ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
        status = job.get("status") or {}
        labels = {"namespace": ns, "job_name": name}
        exposed.append(("kube_job_info", labels, 1))
        exposed.append(("kube_job_status_failed", labels, float(status.get("failed", 0))))
        exposed.append(("kube_job_status_succeeded", labels,
                        float(status.get("succeeded", 0))))
        exposed.append(("kube_job_status_active", labels, float(status.get("active", 0))))
        # kube_job_failed and kube_job_complete exist only for a Job with that condition,
        # one series per possible status (job.go, addConditionMetrics).
        for condition in status.get("conditions") or []:
            metric = {"Failed": "kube_job_failed",
                      "Complete": "kube_job_complete"}.get(condition.get("type"))
            if metric:
                exposed += [(metric, {**labels, "condition": c},
                             1 if condition.get("status", "").lower() == c else 0)
                            for c in ("true", "false", "unknown")]
    for resource in ("pods", "nodes", "namespaces", "resourcequotas", "jobs"):
        exposed.append(("kube_state_metrics_list_total", {"resource": f"*v1.{resource}",
                                                           "result": "success"},
                        counter(1 / 300)))
        exposed.append(("kube_state_metrics_watch_total", {"resource": f"*v1.{resource}",
                                                            "result": "success"},
                        counter(1 / 60)))
    exposed.append(("kube_state_metrics_total_shards", {}, 1))
    exposed.append(("kube_state_metrics_shard_ordinal", {"shard_ordinal": "0"}, 0))
    return exposed


def _deployments(state: ClusterState) -> Exposed:
    """kube_deployment_spec_replicas and kube_deployment_status_replicas
    (kube-state-metrics internal/store/deployment.go: spec.replicas, status.replicas). The
    deployment controller's status.replicas sums its ReplicaSets' (pkg/controller/deployment/
    sync.go calculateStatus), each the count of its active pods, neither Succeeded nor Failed
    (pkg/controller/replicaset/replica_set_utils.go calculateStatus, FilterActivePods): a pod
    the ReplicaSet could not create (refused by a quota) is missing from it."""
    created: dict[tuple[str, str], int] = {}
    for pod in state.pods:
        kind, owner = _owner(pod)
        if kind == "ReplicaSet" and (pod.get("status") or {}).get("phase") not in (
                "Succeeded", "Failed"):
            key = (pod["metadata"]["namespace"], owner.rsplit("-", 1)[0])
            created[key] = created.get(key, 0) + 1
    exposed: Exposed = []
    for deployment in state.objects.of_kind("Deployment"):
        ns, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        labels = {"namespace": ns, "deployment": name}
        exposed.append(("kube_deployment_spec_replicas", labels,
                        float((deployment.get("spec") or {}).get("replicas", 1))))
        exposed.append(("kube_deployment_status_replicas", labels,
                        float(created.get((ns, name), 0))))
    return exposed


def kubelet(state: ClusterState, target: Target) -> Exposed:
    pods = [p for p in state.pods_on(target.node or "")
            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    return [("kubelet_node_name", {"node": target.node}, 1),
            ("kubelet_running_pods", {}, float(len(pods))),
            ("kubelet_running_containers", {"container_state": "running"},
             float(sum(len((p.get("spec") or {}).get("containers") or []) for p in pods)))]


def cadvisor(state: ClusterState, target: Target) -> Exposed:
    exposed: Exposed = []
    for pod in state.pods_on(target.node or ""):
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        meta = pod["metadata"]
        for container in (pod.get("spec") or {}).get("containers") or []:
            labels = {"namespace": meta["namespace"], "pod": meta["name"],
                      "container": container["name"], "image": container.get("image", ""),
                      "name": _uid(meta["name"], container["name"])[:12],
                      "id": f"/kubepods/pod{_uid(meta['namespace'], meta['name'])}/"
                            f"{_uid(container['name'])[:12]}"}
            demand = cpu_demand(state, pod, container)
            limit = cpu_limit(container)
            used = min(demand, limit) if limit else demand
            throttled = max(0.0, 1 - limit / demand) if limit and demand > limit else 0.0
            periods = 10.0                        # CFS periods of 100ms per second
            exposed += [
                ("container_cpu_usage_seconds_total", labels, counter(used)),
                ("container_cpu_cfs_periods_total", labels, counter(periods)),
                ("container_cpu_cfs_throttled_periods_total", labels,
                 counter(periods * throttled)),
                ("container_memory_working_set_bytes", labels, float(256 * MIB)),
            ]
    return exposed


def probes(state: ClusterState, target: Target) -> Exposed:
    exposed: Exposed = []
    for pod in state.pods_on(target.node or ""):
        meta = pod["metadata"]
        for container in (pod.get("spec") or {}).get("containers") or []:
            if not container.get("readinessProbe"):
                continue
            result = "successful" if running(pod) else "failed"
            exposed.append(("prober_probe_total", {"namespace": meta["namespace"],
                                                   "pod": meta["name"],
                                                   "container": container["name"],
                                                   "probe_type": "Readiness",
                                                   "result": result}, counter(0.1)))
    return exposed


def node_exporter(state: ClusterState, target: Target) -> Exposed:
    cores = int(_node_cores(state, target.node))
    exposed: Exposed = [("node_uname_info", {"nodename": target.node or "",
                                             "sysname": "Linux", "machine": "x86_64"}, 1),
                        ("node_memory_MemTotal_bytes", {}, float(15 * 2 ** 30)),
                        ("node_memory_MemAvailable_bytes", {}, float(9 * 2 ** 30)),
                        ("node_load1", {}, 0.4)]
    for cpu in range(cores):
        for mode, share in (("idle", 0.85), ("user", 0.1), ("system", 0.05)):
            exposed.append(("node_cpu_seconds_total", {"cpu": str(cpu), "mode": mode},
                            counter(share)))
    return exposed


def infer(state: ClusterState, target: Target) -> Exposed:
    pod = target.pod or {}
    container = next((c for c in (pod.get("spec") or {}).get("containers") or []
                      if c.get("name") == target.labels.get("container")), None)
    if container is None:
        return []
    where = computes_on(pod, container)
    if where is None:
        return []
    args = infer_args(container) or []
    batch = int(_arg(args, "--batch-size", "16"))
    rate = GPU_SAMPLES_PER_SECOND if where == "cuda" else CPU_SAMPLES_PER_SECOND
    latency = batch / rate
    node = state.node((pod.get("spec") or {}).get("nodeName"))
    accelerator = (node or {}).get("metadata", {}).get("labels", {}).get(ACCELERATOR_LABEL, "")
    gpu_name = CATALOG[accelerator].model if where == "cuda" and accelerator in CATALOG else ""
    batches = rate / batch
    exposed: Exposed = [
        ("gpu_lab_inference_batches_total", {}, counter(batches)),
        ("gpu_lab_inference_samples_total", {}, counter(rate)),
        ("gpu_lab_inference_samples_per_second", {}, rate),
        ("gpu_lab_inference_device_info", {"device": where, "gpu_name": gpu_name}, 1),
        ("gpu_lab_inference_gpu_memory_allocated_bytes", {},
         float(float(_arg(args, "--gpu-memory-gb", "0")) * 2 ** 30) if where == "cuda"
         else 0.0),
        ("gpu_lab_inference_model_parameters", {}, 3_290_112.0),
        ("gpu_lab_inference_batch_latency_seconds_count", {}, counter(batches)),
        ("gpu_lab_inference_batch_latency_seconds_sum", {}, counter(batches * latency)),
    ]
    for bound in (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5):
        exposed.append(("gpu_lab_inference_batch_latency_seconds_bucket", {"le": str(bound)},
                        counter(batches if latency <= bound else 0.0)))
    exposed.append(("gpu_lab_inference_batch_latency_seconds_bucket", {"le": "+Inf"},
                    counter(batches)))
    return exposed


def build_info(name: str) -> Callable[[ClusterState, Target], Exposed]:
    return lambda state, target: [(name, {"version": "stand-in"}, 1)]


def exporter_of(target: Target) -> Optional[Callable[[ClusterState, Target], Exposed]]:
    """Which program answers at the target: by the pod's labels and container, or for a
    node's kubelet by the path."""
    pod = target.pod
    if pod is None:
        if target.labels.get("service") == "kubernetes":
            return build_info("kubernetes_build_info")
        return {"/metrics": kubelet, "/metrics/cadvisor": cadvisor,
                "/metrics/probes": probes}.get(target.metrics_path)
    labels = pod["metadata"].get("labels") or {}
    if labels.get("app") == "nvidia-dcgm-exporter":
        return dcgm_exporter
    name = labels.get("app.kubernetes.io/name")
    if name == "kube-state-metrics":
        return kube_state_metrics
    if name == "prometheus-node-exporter":
        return node_exporter
    if name in ("prometheus", "alertmanager", "grafana"):
        return build_info(f"{name}_build_info")
    container = next((c for c in (pod.get("spec") or {}).get("containers") or []
                      if c.get("name") == target.labels.get("container")), None)
    if container is not None and infer_args(container) is not None:
        port = int(target.labels.get("instance", ":0").rsplit(":", 1)[1] or 0)
        metrics_port = int(_arg(infer_args(container), "--metrics-port", "8000"))
        return infer if port == metrics_port else None
    return None


def attach(exposed_labels: dict, target: Target) -> dict:
    """Prometheus' scrape: the target's labels onto the sample (honor_labels decides a
    clash), then the enforced namespace label (metric_relabel_configs)."""
    labels = {k: str(v) for k, v in exposed_labels.items() if v not in (None, "")}
    for name, value in target.labels.items():
        if name in labels:
            if target.honor_labels:
                continue
            labels[f"exported_{name}"] = labels[name]
        labels[name] = value
    if target.enforced is not None:
        labels[target.enforced[0]] = target.enforced[1]
    return labels


def series(state: ClusterState, targets: Iterable[Target]) -> list[Series]:
    """Every series Prometheus holds: `up` per target, and what each up target exposes."""
    found: dict[tuple, Series] = {}
    for target in targets:
        up = Series.of("up", target.labels, 1.0 if target.up else 0.0)
        found.setdefault(up.labels, up)
        if not target.up:
            continue
        program = exporter_of(target)
        for name, labels, values in (program(state, target) if program else []):
            one = Series.of(name, attach(labels, target), values)
            found.setdefault(one.labels, one)
    return list(found.values())
