"""Node settings every gpu-lab node pool shares: scopes, metadata, shielding."""

from __future__ import annotations

import math

from pulumi_gcp import container

from model.spec import ClusterSpec

# GKE's default scope set: just enough to pull images and write logs and metrics.
# What a node may do beyond that is decided by its service account's IAM roles.
NODE_OAUTH_SCOPES = [
    "https://www.googleapis.com/auth/devstorage.read_only",
    "https://www.googleapis.com/auth/logging.write",
    "https://www.googleapis.com/auth/monitoring",
    "https://www.googleapis.com/auth/service.management.readonly",
    "https://www.googleapis.com/auth/servicecontrol",
    "https://www.googleapis.com/auth/trace.append",
]


def shielded_nodes() -> container.NodePoolNodeConfigShieldedInstanceConfigArgs:
    return container.NodePoolNodeConfigShieldedInstanceConfigArgs(
        enable_secure_boot=True, enable_integrity_monitoring=True)


def workload_identity_metadata() -> container.NodePoolNodeConfigWorkloadMetadataConfigArgs:
    # Pods see the GKE metadata server, so Workload Identity (not the node's
    # service account) decides what a pod can reach in GCP.
    return container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA")


def autoscaling(min_nodes: int, max_nodes: int,
                location_policy: str) -> container.NodePoolAutoscalingArgs:
    # total_*: the limits count nodes across all of the pool's zones, as the spec means.
    return container.NodePoolAutoscalingArgs(
        total_min_node_count=min_nodes, total_max_node_count=max_nodes,
        location_policy=location_policy)


def initial_nodes_per_zone(cluster: ClusterSpec, min_nodes: int, zones: tuple[str, ...]) -> int:
    """GKE's initial node count is per zone; a regional cluster spreads over 3 zones."""
    zone_count = len(zones) or (3 if cluster.regional else 1)
    return math.ceil(min_nodes / zone_count)
