"""Lab: one interview environment, composed from the spec."""

from __future__ import annotations

import pulumi

from components.cluster import GkeCluster
from components.gpu_node_pool import GpuNodePool
from components.network import Network
from components.priority_classes import PriorityClasses
from components.tenant import Tenant
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

        # Everything in the cluster goes through its provider.
        in_cluster = pulumi.ResourceOptions(parent=self,
                                            providers={"kubernetes": self.cluster.provider})
        self.priority_classes = PriorityClasses(f"{name}-priorities", spec.priority_classes,
                                                opts=in_cluster)
        self.tenants = [Tenant(f"{name}-{tenant.name}", tenant,
                               opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(
                                   depends_on=[self.priority_classes])))
                        for tenant in spec.tenants]

        self.outputs = {
            "clusterName": self.cluster.cluster.name,
            "location": self.cluster.cluster.location,
            "endpoint": self.cluster.cluster.endpoint,
            "kubeconfig": self.cluster.kubeconfig,
            "nodePools": node_pool_summary(spec),
            "tenants": [t.name for t in spec.tenants],
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
