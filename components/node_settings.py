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


def initial_nodes_per_zone(cluster: ClusterSpec, min_nodes: int, zones: tuple[str, ...],
                           max_nodes: int | None = None) -> int:
    """GKE creates `initial_node_count` nodes in EVERY zone of a pool (a regional cluster's
    pools spread over its 3 zones), while the spec's minNodes/maxNodes are totals: start
    with at least minNodes in all and, when max_nodes is given, never above it."""
    zone_count = len(zones) or (3 if cluster.regional else 1)
    per_zone = math.ceil(min_nodes / zone_count)
    if max_nodes is not None and per_zone * zone_count > max_nodes:
        per_zone = max_nodes // zone_count
    return per_zone


def spread(cluster: ClusterSpec, min_nodes: int, max_nodes: int,
           zones: tuple[str, ...]) -> tuple[tuple[str, ...], int]:
    """(the zones to create a pool in, its initial nodes per zone).

    GKE starts the same number of nodes in every zone of a pool, and its autoscaler applies
    minNodes only when scaling down: a pool below its minimum stays there until a pod needs
    a node. So a pool is created in as many of its zones as can start it with between
    minNodes and maxNodes nodes: minNodes 0 -> every zone, 0 nodes; minNodes 1 over 3 zones
    -> all 3 with 1 node each when maxNodes >= 3 (the autoscaler removes the idle ones down
    to 1), a single zone when maxNodes is 1; minNodes 2, maxNodes 2 -> 2 zones with 1 node
    each. The cluster's own zone comes first when the pool may use it.
    """
    if not zones:
        return (), initial_nodes_per_zone(cluster, min_nodes, zones, max_nodes)
    ordered = sorted(zones, key=lambda zone: zone != cluster.location)
    for count in range(len(zones), 0, -1):
        per_zone = math.ceil(min_nodes / count)
        if per_zone * count <= max_nodes:
            return (tuple(zones) if count == len(zones) else tuple(ordered[:count])), per_zone
    return tuple(ordered[:1]), min_nodes          # unreachable while min_nodes <= max_nodes
