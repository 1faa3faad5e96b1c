"""LabSpec: everything one gpu-lab stack contains, as frozen dataclasses.

The spec is the single source of truth. New specs derive from it (dataclasses.replace);
components render it. Nothing here knows about Pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from model.gpu_catalog import CATALOG, NODE_ARCHITECTURE
from model.frozen import FrozenDict
from model.quantity import parse_quantity

GPU_RESOURCE = "nvidia.com/gpu"
# The ResourceQuota keys that name nvidia.com/gpu.
GPU_QUOTA_KEYS = (f"requests.{GPU_RESOURCE}", f"limits.{GPU_RESOURCE}", GPU_RESOURCE)
GPU_TAINT = {"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}
# GKE's own device plugin stays away from nodes that carry this label.
NO_GKE_DEVICE_PLUGIN_LABEL = "gke-no-default-nvidia-gpu-device-plugin"
# The GPU Operator's per-operand node label for its device plugin.
NO_OPERATOR_DEVICE_PLUGIN_LABEL = "nvidia.com/gpu.deploy.device-plugin"
# ... and every operand (driver, toolkit, device plugin, DCGM exporter, validator).
NO_OPERATOR_OPERANDS_LABEL = "nvidia.com/gpu.deploy.operands"
# Node labels gpu-lab sets on every platform (GKE's own cloud.google.com/* labels exist
# only on GKE); workloads select GPU pools by these.
POOL_LABEL = "gpu-lab/pool"
ACCELERATOR_LABEL = "gpu-lab/accelerator"
MIG_CAPABLE = ("nvidia-tesla-a100", "nvidia-a100-80gb", "nvidia-h100-80gb")


@dataclass(frozen=True)
class GcpSpec:
    project: str
    region: str


@dataclass(frozen=True)
class FirewallProtocolSpec:
    """One entry of a firewall rule's allows or denies: a protocol and, for tcp, udp and
    sctp, its ports ("443", "8000-8100"; none: every port)."""
    protocol: str
    ports: tuple[str, ...] = ()


@dataclass(frozen=True)
class FirewallRuleSpec:
    """A VPC firewall rule of the stack's network (compute.Firewall's arguments). Its GCP
    name is the cluster's name, '-', then `name`."""
    name: str
    direction: str = "INGRESS"            # INGRESS or EGRESS
    priority: int = 1000                  # 0 (highest) to 65535
    allows: tuple[FirewallProtocolSpec, ...] = ()
    denies: tuple[FirewallProtocolSpec, ...] = ()
    source_ranges: tuple[str, ...] = ()
    destination_ranges: tuple[str, ...] = ()
    target_tags: tuple[str, ...] = ()     # network tags of the nodes it applies to
    description: Optional[str] = None

    @property
    def denies_internet_egress(self) -> bool:
        """An egress rule that denies traffic to 0.0.0.0/0."""
        return self.direction == "EGRESS" and bool(self.denies) and \
            "0.0.0.0/0" in self.destination_ranges


@dataclass(frozen=True)
class NetworkSpec:
    subnet_cidr: str
    pods_cidr: str
    services_cidr: str
    master_cidr: str
    firewall_rules: tuple[FirewallRuleSpec, ...] = ()   # beyond the ones the network always has

    @property
    def internal_cidrs(self) -> list[str]:
        return [self.subnet_cidr, self.pods_cidr, self.services_cidr, self.master_cidr]

    @property
    def internet_denied_tags(self) -> tuple[str, ...]:
        """Network tags a firewall rule keeps from reaching the internet, in rule order."""
        return tuple(dict.fromkeys(tag for rule in self.firewall_rules
                                   if rule.denies_internet_egress for tag in rule.target_tags))


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    location: str                 # a zone (zonal cluster) or a region (regional cluster)
    release_channel: str
    deletion_protection: bool
    network: NetworkSpec
    master_authorized_cidrs: tuple[str, ...]
    rbac_security_group: Optional[str]  # gke-security-groups@<domain>, for Google Groups in RBAC
    kube_context: Optional[str] = None  # platform "existing": the kubeconfig context to use

    @property
    def regional(self) -> bool:
        return self.location.count("-") == 1


@dataclass(frozen=True)
class NodePoolSpec:
    """The CPU pool that runs add-ons (operators, Prometheus, DNS)."""
    name: str
    machine_type: str
    min_nodes: int
    max_nodes: int
    disk_size_gb: int
    spot: bool


@dataclass(frozen=True)
class GpuPoolSpec:
    name: str
    accelerator: str
    gpus_per_node: int
    machine_type: str
    min_nodes: int
    max_nodes: int
    disk_size_gb: int
    spot: bool
    zones: tuple[str, ...]
    driver_version: str           # GKE installs the driver: DEFAULT, LATEST or INSTALLATION_DISABLED
    gke_device_plugin: bool       # False: GKE's plugin is off, the GPU Operator's advertises GPUs
    architecture: str = NODE_ARCHITECTURE
    nodes: tuple[str, ...] = ()   # platform "existing": the nodes that simulate this pool
    # Time-slicing: how many containers share one physical GPU. The GPU Operator's device
    # plugin advertises each GPU this many times on its pools; on pools GKE serves, GKE's own
    # GPU time-sharing does (gke_time_sharing).
    gpu_replicas: int = 1
    # Kubernetes labels set on the pool's nodes, beyond the ones gpu-lab derives (`labels`).
    node_labels: FrozenDict = FrozenDict()
    # False: GKE's own driver and device plugin serve this pool and the GPU Operator keeps
    # its operands off it
    gpu_operator: bool = True

    @property
    def network_tag(self) -> str:
        """The GCE network tag of this pool's nodes (firewall rules target it)."""
        return f"gpu-lab-pool-{self.name}"

    @property
    def gke_time_sharing(self) -> bool:
        """GKE shares this pool's GPUs (the node pool's gpu_sharing_config)."""
        return not self.gpu_operator and self.gpu_replicas > 1

    @property
    def schedulable_gpus_per_node(self) -> int:
        """nvidia.com/gpu a node advertises (time-slicing multiplies the physical count)."""
        return self.gpus_per_node * self.gpu_replicas

    @property
    def gpu_memory_gb(self) -> int:
        return CATALOG[self.accelerator].memory_gb

    @property
    def max_gpus(self) -> int:
        return self.max_nodes * self.schedulable_gpus_per_node

    @property
    def taints(self) -> tuple[dict, ...]:
        return (GPU_TAINT,)

    @property
    def derived_labels(self) -> dict[str, str]:
        """The node labels gpu-lab sets from the pool's settings."""
        labels = {POOL_LABEL: self.name, ACCELERATOR_LABEL: self.accelerator}
        if not self.gke_device_plugin:
            labels[NO_GKE_DEVICE_PLUGIN_LABEL] = "true"
        if not self.gpu_operator:
            labels[NO_OPERATOR_OPERANDS_LABEL] = "false"
        return labels

    @property
    def labels(self) -> dict[str, str]:
        """Every label the pool's nodes carry: the derived ones, then node_labels."""
        return {**self.derived_labels, **self.node_labels}

    @property
    def operator_plugin_allowed(self) -> bool:
        """The pool's value of the GPU Operator's device-plugin operand label."""
        return self.labels.get(NO_OPERATOR_DEVICE_PLUGIN_LABEL) != "false"


@dataclass(frozen=True)
class RoleBindingSpec:
    """A RoleBinding in the tenant's namespace: role `role` granted to these subjects."""
    name: str
    role: str
    groups: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    service_accounts: tuple[str, ...] = ()   # "<namespace>/<name>" or "<name>" in the tenant's namespace
    role_kind: str = "Role"


@dataclass(frozen=True)
class TenantSpec:
    name: str
    team: str
    cost_center: str
    # The spec.hard of the namespace's ResourceQuota `compute`: resource name -> quantity,
    # in the order written.
    quota_hard: FrozenDict
    # NetworkPolicyEgressRule objects (model/frozen.py) its pods may send to, beyond DNS and
    # their own namespace.
    egress: tuple[FrozenDict, ...]
    max_gpus_per_pod: int
    admin_groups: tuple[str, ...]
    developer_groups: tuple[str, ...]
    priority_class: str
    gcp_service_account: Optional[str]
    role_bindings: tuple[RoleBindingSpec, ...] = ()
    extra_service_accounts: tuple[str, ...] = ()   # e.g. "candidate", for an interview login
    metrics_ports: tuple[int, ...] = (9400, 8000)
    default_cpu_request: str = "250m"
    default_memory_request: str = "512Mi"
    default_cpu_limit: str = "2"
    default_memory_limit: str = "4Gi"
    gpu_priority_quotas: tuple[tuple[str, int], ...] = ()  # (priority class, GPUs) scoped quotas
    pod_security: str = "restricted"   # Pod Security Standard enforced in its namespace

    @property
    def namespace(self) -> str:
        return self.name

    @property
    def gpus(self) -> int:
        """The GPUs its quota names: the smallest of its requests.nvidia.com/gpu,
        limits.nvidia.com/gpu and nvidia.com/gpu entries (0 when it has none)."""
        named = [parse_quantity(value) for key, value in self.quota_hard.items()
                 if key in GPU_QUOTA_KEYS]
        return int(min(named)) if named else 0

    def with_gpus(self, gpus: int) -> "TenantSpec":
        """The tenant with every nvidia.com/gpu entry of its quota set to `gpus`."""
        return replace(self, quota_hard=FrozenDict(tuple(
            (key, str(gpus) if key in GPU_QUOTA_KEYS else value)
            for key, value in self.quota_hard.items())))


@dataclass(frozen=True)
class PriorityClassSpec:
    name: str
    value: int
    preemption_policy: str        # PreemptLowerPriority or Never
    description: str


@dataclass(frozen=True)
class GpuOperatorSpec:
    enabled: bool
    chart_version: str
    device_plugin: bool           # the operator's device plugin advertises nvidia.com/gpu
    dcgm_exporter: bool
    service_monitor: bool         # the chart's dcgmExporter.serviceMonitor.enabled
    time_slicing_replicas: int    # 0: off; N >= 2: every GPU is advertised N times
    mig_strategy: str             # none, single or mixed
    fake_chart_version: str       # platform "existing": run:ai's fake-gpu-operator


@dataclass(frozen=True)
class MonitoringSpec:
    enabled: bool
    chart_version: str
    retention: str
    alertmanager: bool


@dataclass(frozen=True)
class AddonsSpec:
    gpu_operator: GpuOperatorSpec
    monitoring: MonitoringSpec


@dataclass(frozen=True)
class PodMetricsEndpoint:
    """A PodMonitor's podMetricsEndpoints item."""
    port: str = "metrics"         # a container port name
    path: str = "/metrics"
    interval: str = "15s"


@dataclass(frozen=True)
class WorkloadSpec:
    """One AI inference workload in a tenant's namespace."""
    name: str
    tenant: str
    kind: str                     # Deployment (online, serves until stopped) or Job (batch)
    replicas: int                 # Deployment replicas, or Job completions run in parallel
    gpus: int                     # per pod; requests equal limits
    gpu_memory_gb: float          # the model's working set, allocated on the GPU at start
    image: str
    image_architecture: str       # the CPU architecture the image is built for
    custom_image: bool            # built from workload/Dockerfile (infer.py inside)
    pool: str                     # the node pool its node selector names
    priority_class: str
    batches: int                  # Job: batches before exiting; 0 for a Deployment
    batch_size: int
    seq_len: int
    hidden: int
    layers: int
    cpu: str
    memory: str
    metrics_port: int = 8000
    args: tuple[str, ...] = ()              # infer.py arguments after the computed ones
    env: tuple[tuple[str, str], ...] = ()   # (name, value) added to the container's env
    pod_metrics_endpoint: PodMetricsEndpoint = PodMetricsEndpoint()   # its PodMonitor's
    monitor_selector: tuple[tuple[str, str], ...] = ()   # labels it selects; () = the pod's
    # The pod template's topologySpreadConstraints and affinity, as Kubernetes objects
    # (model/frozen.py); () and an empty affinity leave them out of the pod.
    topology_spread_constraints: tuple[FrozenDict, ...] = ()
    affinity: FrozenDict = FrozenDict()

    @property
    def labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name, "app.kubernetes.io/part-of": "gpu-lab",
                "tenant": self.tenant}

    @property
    def selector(self) -> dict[str, str]:
        return dict(self.monitor_selector) if self.monitor_selector else {
            "app.kubernetes.io/name": self.name}


# interviewer-only: begin (lab/handout.py leaves these lines out of the candidate's copy)
@dataclass(frozen=True)
class FaultRef:
    id: str
    params: tuple[tuple[str, object], ...] = ()
# interviewer-only: end


@dataclass(frozen=True)
class LabSpec:
    platform: str                 # "gke": GCP + GKE; "existing": the current kubeconfig context
    stack: str
    gcp: GcpSpec
    cluster: ClusterSpec
    system_pool: NodePoolSpec
    gpu_pools: tuple[GpuPoolSpec, ...]
    tenants: tuple[TenantSpec, ...]
    priority_classes: tuple[PriorityClassSpec, ...]
    addons: AddonsSpec
    workloads: tuple[WorkloadSpec, ...] = ()
    # interviewer-only: begin
    faults: tuple[FaultRef, ...] = field(default=())
    allow_faults: bool = False
    scenario: Optional[str] = None
    # Notes on how the stack's settings were chosen, one line each (not config).
    dressing: tuple[str, ...] = ()
    # interviewer-only: end
    expires_at: Optional[str] = None   # ISO 8601 UTC: when this interview stack should be gone
    candidate_tenant: Optional[str] = None   # the tenant the candidate logs in to
    candidate_login: bool = False   # the candidate's login: components/candidate_access.py

    def tenant(self, name: str) -> TenantSpec:
        for tenant in self.tenants:
            if tenant.name == name:
                return tenant
        raise KeyError(name)

    def pool(self, name: str) -> GpuPoolSpec:
        for pool in self.gpu_pools:
            if pool.name == name:
                return pool
        raise KeyError(name)

    def workload(self, tenant: str, name: str) -> WorkloadSpec:
        for workload in self.workloads:
            if (workload.tenant, workload.name) == (tenant, name):
                return workload
        raise KeyError(f"{tenant}/{name}")
