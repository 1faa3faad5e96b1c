"""Lab: one interview environment, composed from the spec."""

from __future__ import annotations

import pulumi

from components.cluster import GkeCluster
from components.gpu_node_pool import GpuNodePool
from components.network import Network
from model.spec import LabSpec


class Lab(pulumi.ComponentResource):
    def __init__(self, name: str, spec: LabSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpu-lab:lab:Lab", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.network = Network(f"{name}-network", spec.gcp, spec.cluster, opts=child)
        self.cluster = GkeCluster(f"{name}-gke", spec, self.network, opts=child)
        self.gpu_pools = [GpuNodePool(f"{name}-gpu-{pool.name}", spec, pool, self.cluster,
                                      opts=child)
                          for pool in spec.gpu_pools]

        self.outputs = {
            "clusterName": self.cluster.cluster.name,
            "location": self.cluster.cluster.location,
            "endpoint": self.cluster.cluster.endpoint,
            "kubeconfig": self.cluster.kubeconfig,
            "nodePools": node_pool_summary(spec),
        }
        self.register_outputs(self.outputs)


def node_pool_summary(spec: LabSpec) -> list[dict]:
    system = spec.system_pool
    return [
        {"name": system.name, "role": "system", "machineType": system.machine_type,
         "minNodes": system.min_nodes, "maxNodes": system.max_nodes},
        *({"name": p.name, "role": "gpu", "machineType": p.machine_type,
           "accelerator": p.accelerator, "gpusPerNode": p.gpus_per_node,
           "gpuMemoryGb": p.gpu_memory_gb, "minNodes": p.min_nodes, "maxNodes": p.max_nodes,
           "spot": p.spot} for p in spec.gpu_pools),
    ]
