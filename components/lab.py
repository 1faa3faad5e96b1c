"""Lab: one interview environment, composed from the spec."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import GkeCluster
from components.fake_gpu_operator import FakeGpuOperator
from components.gpu_node_pool import GpuNodePool
from components.gpu_operator import GpuOperator
from components.monitoring import Monitoring
from components.network import Network
from components.priority_classes import PriorityClasses
from components.tenant import Tenant
from components.workload import InferenceWorkload
from model.spec import LabSpec


class Lab(pulumi.ComponentResource):
    def __init__(self, name: str, spec: LabSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpu-lab:lab:Lab", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.outputs: dict = {"platform": spec.platform}

        nodes_ready: list[pulumi.Resource] = []
        if spec.platform == "gke":
            self.network = Network(f"{name}-network", spec.gcp, spec.cluster, opts=child)
            self.cluster = GkeCluster(f"{name}-gke", spec, self.network, opts=child)
            self.gpu_pools = [GpuNodePool(f"{name}-gpu-{pool.name}", spec, pool, self.cluster,
                                          opts=child)
                              for pool in spec.gpu_pools]
            provider = self.cluster.provider
            # What runs on nodes waits for the node pools: the add-ons' releases for somewhere
            # to run, and on destroy the namespaces and workloads are gone before their nodes
            # (a pod on a deleted node keeps its namespace Terminating).
            nodes_ready = [self.cluster.system_pool, *(p.node_pool for p in self.gpu_pools)]
            self.outputs.update({
                "clusterName": self.cluster.cluster.name,
                "location": self.cluster.cluster.location,
                "endpoint": self.cluster.cluster.endpoint,
                "kubeconfig": self.cluster.kubeconfig,
            })
        else:
            # An existing cluster (kind, minikube, any kubeconfig context).
            provider = k8s.Provider(f"{name}-k8s", context=spec.cluster.kube_context,
                                    enable_server_side_apply=True, opts=child)
            self.outputs["kubeContext"] = spec.cluster.kube_context or "(current context)"
        self.outputs["nodePools"] = node_pool_summary(spec)

        in_cluster = pulumi.ResourceOptions(parent=self, providers={"kubernetes": provider})

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(
                depends_on=[r for r in resources if r is not None]))

        self.monitoring = None
        if spec.addons.monitoring.enabled:
            self.monitoring = Monitoring(f"{name}-monitoring", spec, opts=after(*nodes_ready))
            self.outputs["grafanaAdminPassword"] = self.monitoring.grafana_admin_password
        # The operator's DCGM ServiceMonitor needs the Prometheus CRDs first.
        gpu_stack_after = after(*nodes_ready, self.monitoring and self.monitoring.release)
        self.gpu_operator = None
        if spec.platform == "existing":
            self.gpu_operator = FakeGpuOperator(f"{name}-fake-gpu-operator", spec,
                                                opts=gpu_stack_after)
        elif spec.addons.gpu_operator.enabled:
            self.gpu_operator = GpuOperator(f"{name}-gpu-operator", spec, opts=gpu_stack_after)

        self.priority_classes = PriorityClasses(f"{name}-priorities", spec.priority_classes,
                                                opts=in_cluster)
        gcp_project = spec.gcp.project if spec.platform == "gke" else None
        self.tenants = [Tenant(f"{name}-{tenant.name}", tenant, gcp_project=gcp_project,
                               refused_priority_classes=_classes_above(
                                   spec.priority_classes, tenant.priority_class),
                               opts=after(self.priority_classes, *nodes_ready))
                        for tenant in spec.tenants]
        self.outputs["tenants"] = [t.name for t in spec.tenants]

        tenant_by_name = {t.spec.name: t for t in self.tenants}
        self.workloads = [
            InferenceWorkload(f"{name}-{w.tenant}-{w.name}", w,
                              monitored=spec.addons.monitoring.enabled, opts=after(
                tenant_by_name[w.tenant], self.monitoring and self.monitoring.release,
                self.gpu_operator))
            for w in spec.workloads
        ]
        self.outputs["workloads"] = [f"{w.tenant}/{w.name}" for w in spec.workloads]

        self.candidate_access = None
        if spec.candidate_login:
            from components.candidate_access import CandidateAccess

            self.candidate_access = CandidateAccess(
                f"{name}-candidate", spec,
                tenant_namespaces={t.spec.name: t.namespace for t in self.tenants},
                monitoring=self.monitoring and self.monitoring.namespace,
                gpu_operator=self.gpu_operator and self.gpu_operator.namespace,
                opts=in_cluster)

        self.register_outputs(self.outputs)


def node_pool_summary(spec: LabSpec) -> list[dict]:
    system = spec.system_pool
    summary = [{"name": p.name, "role": "gpu", "machineType": p.machine_type,
                "accelerator": p.accelerator, "gpusPerNode": p.gpus_per_node,
                "gpuMemoryGb": p.gpu_memory_gb, "minNodes": p.min_nodes,
                "maxNodes": p.max_nodes, "spot": p.spot} for p in spec.gpu_pools]
    if spec.platform == "gke":
        summary.insert(0, {"name": system.name, "role": "system",
                           "machineType": system.machine_type, "minNodes": system.min_nodes,
                           "maxNodes": system.max_nodes})
    return summary


def _classes_above(classes, own: str) -> tuple[str, ...]:
    """The PriorityClasses a tenant whose own class is `own` may not use: every one with a
    higher value."""
    value = next(pc.value for pc in classes if pc.name == own)
    return tuple(pc.name for pc in classes if pc.value > value)
