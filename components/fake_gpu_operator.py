"""FakeGpuOperator: simulated GPUs for clusters without any (platform `existing`, e.g. kind).

run:ai's fake-gpu-operator advertises nvidia.com/gpu on labelled nodes and exports
DCGM-style metrics (DCGM_FI_DEV_GPU_UTIL, ...) from a topology derived from the GPU
pools in config, so quotas, scheduling, dashboards and alerts behave as on GKE.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core.v1 import NodePatch
from pulumi_kubernetes.helm.v3 import Release

from components.gpu_operator import (
    NAMESPACE, critical_pods_quota, dcgm_service_monitor, operator_namespace,
)
from components.options import child_options
from model.gpu_catalog import CATALOG
from model.spec import LabSpec

CHART = "oci://ghcr.io/run-ai/fake-gpu-operator/fake-gpu-operator"
POOL_LABEL_KEY = "run.ai/simulated-gpu-node-pool"
DCGM_SERVICE = "nvidia-dcgm-exporter"   # the chart's exporter Service, as on a real operator


def fake_operator_values(spec: LabSpec) -> dict[str, Any]:
    """The simulated topology: one fake node pool per GPU pool (memory in MiB)."""
    return {
        "topology": {
            "nodePoolLabelKey": POOL_LABEL_KEY,
            "migStrategy": spec.addons.gpu_operator.mig_strategy,
            "nodePools": {
                pool.name: {
                    "gpuProduct": CATALOG[pool.accelerator].model.replace(" ", "-"),
                    "gpuCount": pool.schedulable_gpus_per_node,
                    "gpuMemory": pool.gpu_memory_gb * 1024,
                }
                for pool in spec.gpu_pools
            },
        },
    }


class FakeGpuOperator(pulumi.ComponentResource):
    def __init__(self, name: str, spec: LabSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpu-lab:addons:FakeGpuOperator", name, None, opts)
        child = child_options(self, opts)

        self.namespace = operator_namespace(name, child)
        self.quota = critical_pods_quota(name, self.namespace, child)

        # The nodes that play each GPU pool carry the pool labels a GKE node would have, and
        # the fake operator's pool label where the pool's operand labels allow its device
        # plugin.
        self.node_labels = [
            NodePatch(f"{name}-node-{node}", metadata={"name": node, "labels": {
                **pool.labels,
                **({POOL_LABEL_KEY: pool.name} if pool.operator_plugin_allowed else {})}},
                opts=child)
            for pool in spec.gpu_pools for node in pool.nodes
        ]

        self.release = Release(
            f"{name}-release", name="fake-gpu-operator", namespace=NAMESPACE,
            chart=CHART, version=spec.addons.gpu_operator.fake_chart_version,
            values=fake_operator_values(spec), timeout=600,
            opts=child_options(self, opts, self.namespace, self.quota, *self.node_labels))

        # The fake exporter ships a Service but no ServiceMonitor; scrape it like the
        # real operator's DCGM exporter (same job name, workload labels kept).
        self.service_monitor = None
        if dcgm_service_monitor(spec):
            self.service_monitor = CustomResource(
                f"{name}-dcgm-servicemonitor", api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata={"name": DCGM_SERVICE, "namespace": NAMESPACE},
                spec={"selector": {"matchLabels": {"app": DCGM_SERVICE}},
                      "endpoints": [{"port": "gpu-metrics", "interval": "15s",
                                     "honorLabels": True}]},
                opts=child_options(self, opts, self.release))

        self.register_outputs({"namespace": NAMESPACE})
