"""The nodes a stack's pools would bring up, as Node objects, for offline scheduling checks.

On a live cluster `lab verify` reads the real nodes instead. CPU and memory here are
rough (GKE keeps some of each for itself); GPUs, labels and taints are exact.
"""

from __future__ import annotations

import re

from model.spec import GPU_RESOURCE, POOL_LABEL, GpuPoolSpec, LabSpec

ARCH_LABEL = "kubernetes.io/arch"


def _vcpus(machine_type: str) -> int:
    match = re.search(r"-(\d+)(g)?$", machine_type)
    if not match:
        return 4
    if match.group(2):          # a2-highgpu-1g: 12 vCPUs per GPU
        return 12 * int(match.group(1))
    return int(match.group(1))


def _node(name: str, labels: dict, taints: list, vcpus: int, gpus: int) -> dict:
    allocatable = {"cpu": f"{vcpus * 930}m", "memory": f"{vcpus * 3}Gi", "pods": "110"}
    if gpus:
        allocatable[GPU_RESOURCE] = str(gpus)
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {**labels, "kubernetes.io/hostname": name}},
            "spec": {"taints": taints}, "status": {"allocatable": allocatable}}


def advertises_gpus(spec: LabSpec, pool: GpuPoolSpec) -> bool:
    """Does a device plugin put nvidia.com/gpu on this pool's nodes?"""
    if not pool.gpu_advertised:
        return False
    if spec.platform == "existing":
        return True                      # the fake GPU operator's plugin
    operator = spec.addons.gpu_operator
    return pool.gke_device_plugin or (operator.enabled and operator.device_plugin)


def nodes_from_spec(spec: LabSpec) -> list[dict]:
    system = spec.system_pool
    nodes = [_node(f"{system.name}-{i}", {POOL_LABEL: system.name, ARCH_LABEL: "amd64"}, [],
                   _vcpus(system.machine_type), 0)
             for i in range(system.max_nodes)]
    for pool in spec.gpu_pools:
        gpus = pool.schedulable_gpus_per_node if advertises_gpus(spec, pool) else 0
        nodes += [_node(f"{pool.name}-{i}", {**pool.labels, ARCH_LABEL: pool.architecture},
                        [dict(t) for t in pool.taints], _vcpus(pool.machine_type), gpus)
                  for i in range(pool.max_nodes)]
    return nodes
