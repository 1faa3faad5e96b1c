"""InferenceWorkload: workload/infer.py as a Deployment (online) or Job (batch) in a tenant,
with its Service and PodMonitor.

By default it runs a pinned public PyTorch CUDA image with infer.py mounted from a
ConfigMap and its Python dependencies installed into a shared volume by an init
container, so no private registry is needed. Everything else (image, GPUs, GPU memory,
extra args and env, placement, the scrape endpoint) comes from the WorkloadSpec as it is.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.apps.v1 import Deployment
from pulumi_kubernetes.batch.v1 import Job
from pulumi_kubernetes.core.v1 import ConfigMap, Service

from components.options import child_options
from model.frozen import thaw
from model.spec import GPU_RESOURCE, GPU_TAINT, POOL_LABEL, WorkloadSpec
from model.workloads import INSTALL_LIMITS, INSTALL_REQUESTS

PROGRAM = Path(__file__).resolve().parent.parent / "workload" / "infer.py"
DEPENDENCIES = ["prometheus-client==0.26.0"]
USER = 1000
# A failing Job's pod restarts in place, with the kubelet's back-off, up to this many times.
JOB_BACKOFF_LIMIT = 200

# Pod Security "restricted" (warned in tenant namespaces) asks for all of this.
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                      "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": USER, "runAsGroup": USER, "fsGroup": USER,
                "seccompProfile": {"type": "RuntimeDefault"}}


def infer_args(workload: WorkloadSpec) -> list[str]:
    """infer.py's arguments: the ones the spec's fields give, then the workload's own args
    (infer.py's parser takes the last of a repeated option)."""
    return ["--batches", str(workload.batches),
            "--batch-size", str(workload.batch_size), "--seq-len", str(workload.seq_len),
            "--hidden", str(workload.hidden), "--layers", str(workload.layers),
            "--heads", "8" if workload.hidden % 8 == 0 else "1",
            "--gpu-memory-gb", f"{workload.gpu_memory_gb:g}",
            "--metrics-port", str(workload.metrics_port), *workload.args]


def pod_template(workload: WorkloadSpec, restart_policy: str) -> dict:
    resources = {"cpu": workload.cpu, "memory": workload.memory}
    if workload.gpus:
        resources[GPU_RESOURCE] = str(workload.gpus)
    volumes = [{"name": "tmp", "emptyDir": {}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    env = [{"name": "PYTHONUNBUFFERED", "value": "1"}, {"name": "HOME", "value": "/tmp"}]
    init_containers = []
    # A custom image (workload/Dockerfile) carries infer.py at the same path.
    if not workload.custom_image:
        volumes += [{"name": "app", "configMap": {"name": f"{workload.name}-program"}},
                    {"name": "deps", "emptyDir": {}}]
        mounts += [{"name": "app", "mountPath": "/app", "readOnly": True},
                   {"name": "deps", "mountPath": "/deps"}]
        env.append({"name": "PYTHONPATH", "value": "/deps"})
        init_containers.append({
            "name": "install-deps", "image": workload.image,
            "command": ["python", "-m", "pip", "install", "--no-cache-dir", "--target",
                        "/deps", *DEPENDENCIES],
            "env": [{"name": "HOME", "value": "/tmp"}],
            "volumeMounts": [{"name": "deps", "mountPath": "/deps"},
                             {"name": "tmp", "mountPath": "/tmp"}],
            "resources": {"requests": dict(INSTALL_REQUESTS), "limits": dict(INSTALL_LIMITS)},
            "securityContext": CONTAINER_SECURITY,
        })
    container = {
        "name": "infer", "image": workload.image, "command": ["python", "/app/infer.py"],
        "args": infer_args(workload),
        "env": env + [{"name": name, "value": value} for name, value in workload.env],
        "ports": [{"name": "metrics", "containerPort": workload.metrics_port,
                   "protocol": "TCP"}],
        # GPU requests equal limits (extended resources cannot be overcommitted), and
        # CPU/memory too: a Guaranteed pod is the last to be evicted.
        "resources": {"requests": resources, "limits": dict(resources)},
        "volumeMounts": mounts,
        "securityContext": CONTAINER_SECURITY,
    }
    if workload.kind == "Deployment":
        container["readinessProbe"] = {"httpGet": {"path": "/metrics", "port": "metrics"},
                                       "periodSeconds": 10}
    spec: dict = {
        "serviceAccountName": "workload",
        "automountServiceAccountToken": False,
        "priorityClassName": workload.priority_class,
        "nodeSelector": {POOL_LABEL: workload.pool},
        "tolerations": [{"key": GPU_TAINT["key"], "operator": "Exists",
                         "effect": GPU_TAINT["effect"]}],
        "securityContext": POD_SECURITY,
        "restartPolicy": restart_policy,
        "initContainers": init_containers,
        "containers": [container],
        "volumes": volumes,
    }
    if workload.topology_spread_constraints:
        spec["topologySpreadConstraints"] = thaw(workload.topology_spread_constraints)
    if workload.affinity:
        spec["affinity"] = thaw(workload.affinity)
    return {"metadata": {"labels": workload.labels}, "spec": spec}


class InferenceWorkload(pulumi.ComponentResource):
    def __init__(self, name: str, workload: WorkloadSpec, monitored: bool = True,
                 opts: pulumi.ResourceOptions | None = None):
        """monitored: the Prometheus Operator's CRDs exist (the monitoring add-on is on)."""
        super().__init__("gpu-lab:workload:InferenceWorkload", name, None, opts)
        child = child_options(self, opts)
        # `pulumi up` does not wait for the pods to become ready, nor for the Service's
        # endpoints: a GPU pod may wait a long time for a node to scale up or free a GPU, and
        # `kubectl get pods` shows how it is doing.
        meta = {"name": workload.name, "namespace": workload.tenant, "labels": workload.labels,
                "annotations": {"pulumi.com/skipAwait": "true"}}

        self.program = None
        if not workload.custom_image:
            self.program = ConfigMap(f"{name}-program", metadata={
                **meta, "name": f"{workload.name}-program"},
                data={"infer.py": PROGRAM.read_text()}, opts=child)

        match = {"app.kubernetes.io/name": workload.name}
        if workload.kind == "Deployment":
            self.controller = Deployment(f"{name}-deployment", metadata=meta, spec={
                "replicas": workload.replicas,
                "selector": {"matchLabels": match},
                # A rolling update would briefly need one more GPU than the quota holds.
                "strategy": {"type": "Recreate"},
                "template": pod_template(workload, "Always"),
            }, opts=child)
        else:
            # restartPolicy OnFailure: a failing pod restarts where it is.
            self.controller = Job(f"{name}-job", metadata=meta, spec={
                "completions": workload.replicas, "parallelism": workload.replicas,
                "backoffLimit": JOB_BACKOFF_LIMIT,
                "template": pod_template(workload, "OnFailure"),
            }, opts=child)

        self.service = Service(f"{name}-service", metadata=meta, spec={
            "selector": match,
            "ports": [{"name": "metrics", "port": workload.metrics_port,
                       "targetPort": "metrics", "protocol": "TCP"}],
        }, opts=child)
        self.pod_monitor = None
        if monitored:
            endpoint = workload.pod_metrics_endpoint
            self.pod_monitor = CustomResource(
                f"{name}-podmonitor", api_version="monitoring.coreos.com/v1", kind="PodMonitor",
                metadata=meta, spec={
                    "selector": {"matchLabels": workload.selector},
                    "podMetricsEndpoints": [{"port": endpoint.port, "path": endpoint.path,
                                             "interval": endpoint.interval}],
                }, opts=child)

        self.register_outputs({"namespace": workload.tenant, "name": workload.name})
