"""The nodes a stack's pools bring up, as Node objects, for the twin and the offline checks.

Each pool stands at its maximum size: the cluster autoscaler adds a node whenever a
pending pod would fit a new node of a pool, so once the cluster settles every pool that
has pending pods it could take is as large as it may grow. Allocatable CPU and memory
follow GKE's reservations (model/machines.py). `nvidia.com/gpu` is on a node only when a
device plugin runs there and could pull its images: GKE's own plugin (from Google's
registries, reachable through Private Google Access) unless the node is labelled to keep
it off, or the GPU Operator's (from nvcr.io, so it needs the node's way to the internet).
On a live cluster `lab verify` reads the real nodes instead.

Each node says its container runtime (as status.nodeInfo.containerRuntimeVersion would, in
the annotation gpu-lab/container-runtime), which
decides what a single foreign-architecture manifest comes to (kube/kubelet.py,
foreign_manifest). GKE: "Linux nodes that run GKE 1.32 or earlier use containerd 1.7 or
earlier; Linux nodes that run GKE 1.33 use containerd 2.0", and users cannot change it (GKE,
"Migrate nodes to containerd 2", which announces containerd 2.2's config removals "with a
GKE version yet to be announced"). The release channels run 1.32 (EXTENDED, while it is
supported) or later, so containerd 1.7 or 2.0, and the CRI of both pulls with client.Pull:
the twin gives GKE nodes containerd 2.0. On platform existing
(kind) the node image sets discard_unpacked_layers (kind images/base/files/etc/containerd/
config.toml, every release since v0.20), which keeps the CRI on the local pull whatever its
containerd (kind v0.32 ships 2.3.1): the twin's nodes there carry gpu-lab/cri-image-pull:
local.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

from kube.kubelet import CRI_PULL_ANNOTATION, RUNTIME_ANNOTATION, NodeNetwork
from model import kind
from model.errors import ConfigError, Problem
from model.machines import machine
from kube.objects import ObjectSet
from model.quantity import format_quantity
from model.spec import (
    GPU_RESOURCE, NO_GKE_DEVICE_PLUGIN_LABEL, NO_OPERATOR_DEVICE_PLUGIN_LABEL,
    NO_OPERATOR_OPERANDS_LABEL, POOL_LABEL, GpuPoolSpec, LabSpec,
)

ARCH_LABEL = "kubernetes.io/arch"
OPERATOR_REGISTRY = "nvcr.io"
# platform `existing` (kind and the like): the nodes are whatever the cluster has; these
# are the sizes gpu-lab assumes for them.
EXISTING_NODE = {"cpu": "4", "memory": "16Gi"}
GKE_CONTAINERD = "containerd://2.0"
KIND_CONTAINERD = "containerd://2.3.1"        # kind v0.32.0's node image


def _node(name: str, labels: dict, taints: list, allocatable: dict,
          runtime: str = GKE_CONTAINERD, annotations: Optional[dict] = None) -> dict:
    # The runtime goes in an annotation: a Node's status.nodeInfo has ten required fields
    # (kernel, OS image, machine ID, ...) the twin cannot know.
    metadata = {"name": name, "labels": {**labels, "kubernetes.io/hostname": name},
                "annotations": {RUNTIME_ANNOTATION: runtime, **(annotations or {})}}
    return {"apiVersion": "v1", "kind": "Node", "metadata": metadata,
            "spec": {"taints": taints}, "status": {"allocatable": allocatable,
                                                   "capacity": dict(allocatable)}}


def _allocatable(spec: LabSpec, machine_type: str) -> dict:
    if spec.platform == "existing":
        return {**EXISTING_NODE, "pods": "110"}
    m = machine(machine_type)
    mib = (m.allocatable_memory / (Decimal(2) ** 20)).quantize(Decimal(1))
    return {"cpu": f"{format_quantity(m.allocatable_cpu * 1000)}m",
            "memory": f"{format_quantity(mib)}Mi", "pods": "110"}


def denied_tags(objects: Optional[ObjectSet]) -> set[str]:
    """Network tags whose nodes a firewall rule keeps from the internet."""
    if objects is None:
        return set()
    return {tag for fw in objects.of_kind("GcpFirewall")
            if fw["spec"].get("direction") == "EGRESS" and fw["spec"].get("denies")
            and "0.0.0.0/0" in (fw["spec"].get("destinationRanges") or [])
            for tag in fw["spec"].get("targetTags") or []}


def pool_network(pool: GpuPoolSpec, objects: Optional[ObjectSet]) -> NodeNetwork:
    return NodeNetwork(internet=pool.network_tag not in denied_tags(objects))


def _operator_device_plugin(objects: Optional[ObjectSet]) -> Optional[bool]:
    """Is the GPU Operator's device plugin enabled (None: no operator release)?"""
    release = objects.get("HelmRelease", "gpu-operator", "gpu-operator") if objects else None
    if release is None:
        return None
    values = release["spec"].get("values") or {}
    return bool((values.get("devicePlugin") or {}).get("enabled", True))


def advertises_gpus(spec: LabSpec, pool: GpuPoolSpec,
                    objects: Optional[ObjectSet] = None) -> bool:
    """Does a device plugin put nvidia.com/gpu on this pool's nodes?"""
    labels = pool.labels
    if spec.platform == "existing":
        return pool.operator_plugin_allowed      # the fake GPU operator's plugin
    gke_plugin = labels.get(NO_GKE_DEVICE_PLUGIN_LABEL) != "true"
    if objects is None:
        operator = spec.addons.gpu_operator.enabled and spec.addons.gpu_operator.device_plugin
    else:
        operator = bool(_operator_device_plugin(objects))
    operator = (operator and labels.get(NO_OPERATOR_DEVICE_PLUGIN_LABEL) != "false"
                and labels.get(NO_OPERATOR_OPERANDS_LABEL) != "false"
                and pool_network(pool, objects).reaches_registry(OPERATOR_REGISTRY))
    return gke_plugin or operator


def nodes_from_spec(spec: LabSpec, objects: Optional[ObjectSet] = None) -> list[dict]:
    system = spec.system_pool
    nodes = []
    if spec.platform == "gke":
        nodes = [_node(f"{system.name}-{i}", {POOL_LABEL: system.name, ARCH_LABEL: "amd64"},
                       [], _allocatable(spec, system.machine_type))
                 for i in range(system.max_nodes)]
    for pool in spec.gpu_pools:
        allocatable = _allocatable(spec, pool.machine_type)
        if advertises_gpus(spec, pool, objects):
            allocatable[GPU_RESOURCE] = str(pool.schedulable_gpus_per_node)
        count = len(pool.nodes) if spec.platform == "existing" and pool.nodes \
            else pool.max_nodes
        names = list(pool.nodes) if spec.platform == "existing" and pool.nodes \
            else [f"{pool.name}-{i}" for i in range(count)]
        runtime, annotations = (KIND_CONTAINERD, {CRI_PULL_ANNOTATION: "local"}) \
            if spec.platform == "existing" else (GKE_CONTAINERD, None)
        nodes += [_node(name, {**pool.labels, ARCH_LABEL: pool.architecture},
                        [dict(t) for t in pool.taints], dict(allocatable), runtime,
                        annotations)
                  for name in names]
    return nodes


def node_pools(spec: LabSpec) -> dict[str, GpuPoolSpec]:
    """GPU pool of each node name nodes_from_spec gives."""
    found = {}
    for node in nodes_from_spec(spec):
        pool_name = node["metadata"]["labels"].get(POOL_LABEL)
        for pool in spec.gpu_pools:
            if pool.name == pool_name:
                found[node["metadata"]["name"]] = pool
    return found


# -- kind ----------------------------------------------------------------------------------

def kind_cluster(spec: LabSpec) -> dict:
    """The kind cluster (kind.x-k8s.io/v1alpha4 Cluster) whose nodes are the ones the stack's
    GPU pools list: a control plane and the workers up to the last one listed (kind names
    workers by their place in the list, model/kind.py). Raises ConfigError when the stack
    is not on platform existing, its context is not a kind cluster's, or a pool lists a node
    kind would not create.

    No node label is set here: gpu-lab labels the nodes of its pools itself (the fake GPU
    operator's NodePatches, on `pulumi up`). Labels kind sets are the kubelet's (it
    registers the node with them), and server-side apply refuses to change another
    manager's value: the same cluster could then not play another scenario's pools."""
    if spec.platform != "existing":
        raise ConfigError([Problem("gpu-lab:platform", spec.platform, "a kind cluster plays "
                                   "the cluster of a platform existing stack, such as local "
                                   "(on gke the stack creates its own cluster)")])
    cluster = kind.cluster_name(spec.cluster.kube_context)
    if cluster is None:
        raise ConfigError([Problem("gpu-lab:cluster.kubeContext", spec.cluster.kube_context,
                                   "is not a kind cluster's context (kind-<cluster>): kind "
                                   "names its contexts so")])
    playing: dict[int, str] = {}       # worker index -> GPU pool
    control_plane: Optional[str] = None
    problems = []
    for i, pool in enumerate(spec.gpu_pools):
        for node in pool.nodes:
            index = kind.worker_index(cluster, node)
            if index is not None:
                playing[index] = pool.name
            elif node == kind.control_plane(cluster):
                control_plane = pool.name
            else:
                problems.append(Problem(f"gpu-lab:gpuPools[{i}].nodes", node, f"is not a node "
                                        f"kind creates for cluster {cluster}: its nodes are "
                                        f"{kind.control_plane(cluster)}, "
                                        f"{kind.worker(cluster, 1)}, "
                                        f"{kind.worker(cluster, 2)}, ..."))
    if control_plane is not None and playing:
        problems.append(Problem("gpu-lab:gpuPools", kind.control_plane(cluster), "kind's "
                                "control plane keeps its NoSchedule taint when the cluster has "
                                "workers, so tenant pods would not run there: list workers "
                                "only"))
    if problems:
        raise ConfigError(problems)
    nodes: list[dict] = [{"role": "control-plane"}]
    nodes += [{"role": "worker"} for _ in range(max(playing, default=0))]
    return {"kind": "Cluster", "apiVersion": kind.API_VERSION, "name": cluster, "nodes": nodes}


def kind_config_yaml(spec: LabSpec, notes: tuple[str, ...] = ()) -> str:
    """kind_cluster as YAML, each node commented with the name kind gives it and the pool it
    plays; `notes` go first, as comments."""
    config = kind_cluster(spec)
    cluster = config["name"]
    pool_of = {node: pool.name for pool in spec.gpu_pools for node in pool.nodes}
    lines = [f"# {note}" for note in notes]
    lines += [f"kind: {config['kind']}", f"apiVersion: {config['apiVersion']}",
              f"name: {cluster}", "nodes:"]
    workers = 0
    for node in config["nodes"]:
        if node["role"] == "worker":
            workers += 1
            name = kind.worker(cluster, workers)
        else:
            name = kind.control_plane(cluster)
        plays = f": plays GPU pool {pool_of[name]}" if name in pool_of else ""
        lines.append(f"- role: {node['role']:14} # {name}{plays}")
    return "\n".join(lines) + "\n"
