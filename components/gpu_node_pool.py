"""GpuNodePool: an autoscaling GKE node pool of one accelerator type."""

from __future__ import annotations

import pulumi
from pulumi_gcp import container

from components import node_settings
from components.cluster import GkeCluster
from model.spec import GpuPoolSpec, LabSpec

# GKE spells taint effects in its own enum.
TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE",
                 "NoExecute": "NO_EXECUTE"}


class GpuNodePool(pulumi.ComponentResource):
    def __init__(self, name: str, spec: LabSpec, pool: GpuPoolSpec, cluster: GkeCluster,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpu-lab:cluster:GpuNodePool", name, None, opts)

        accelerator = container.NodePoolNodeConfigGuestAcceleratorArgs(
            type=pool.accelerator, count=pool.gpus_per_node,
            # GKE installs the NVIDIA driver; the GPU Operator (if any) runs with
            # driver.enabled=false and uses the driver GKE put in /home/kubernetes/bin/nvidia.
            gpu_driver_installation_config=container
            .NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                gpu_driver_version=pool.driver_version),
            # Without the GPU Operator on the pool, time-slicing is GKE's: the node then
            # advertises each GPU max_shared_clients_per_gpu times, as the operator would.
            gpu_sharing_config=container
            .NodePoolNodeConfigGuestAcceleratorGpuSharingConfigArgs(
                gpu_sharing_strategy="TIME_SHARING",
                max_shared_clients_per_gpu=pool.gpu_replicas) if pool.gke_time_sharing else None)

        # Zones default to every zone of the region that offers the GPU (model/config.py);
        # minNodes/maxNodes stay totals over them (autoscaling uses total_* limits), and
        # spread() keeps GKE's per-zone initial count between the two.
        zones, initial_per_zone = node_settings.spread(spec.cluster, pool.min_nodes,
                                                       pool.max_nodes, pool.zones)
        self.node_pool = container.NodePool(
            name, name=pool.name, project=spec.gcp.project,
            cluster=cluster.cluster.name, location=spec.cluster.location,
            node_locations=list(zones) or None,
            initial_node_count=initial_per_zone,
            # Spot capacity is scarce: let the autoscaler take any zone that has it.
            autoscaling=node_settings.autoscaling(pool.min_nodes, pool.max_nodes,
                                                  "ANY" if pool.spot else "BALANCED"),
            management=container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=container.NodePoolNodeConfigArgs(
                machine_type=pool.machine_type, disk_size_gb=pool.disk_size_gb,
                disk_type="pd-balanced", spot=pool.spot, image_type="COS_CONTAINERD",
                guest_accelerators=[accelerator],
                # Kubernetes node labels: gpu-lab's own and the pool's `labels`. A change to
                # them is an in-place update of the node pool: GKE relabels its existing nodes.
                labels=pool.labels,
                tags=[pool.network_tag],
                # GKE taints GPU nodes with this itself only when the pool joins a cluster
                # that already runs a non-GPU pool; the pools here are created alongside the
                # system pool, so the taint is declared (the same key, value and effect).
                taints=[container.NodePoolNodeConfigTaintArgs(
                    key=t["key"], value=t["value"], effect=TAINT_EFFECTS[t["effect"]])
                    for t in pool.taints],
                service_account=cluster.node_account.email,
                oauth_scopes=node_settings.NODE_OAUTH_SCOPES,
                metadata={"disable-legacy-endpoints": "true"},
                workload_metadata_config=node_settings.workload_identity_metadata(),
                shielded_instance_config=node_settings.shielded_nodes()),
            opts=pulumi.ResourceOptions(parent=self))

        self.register_outputs({"name": self.node_pool.name})
