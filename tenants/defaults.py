"""What every tenant gets unless its definition or the stack config says otherwise."""

from model.spec import PriorityClassSpec

# Namespaces the platform owns; a tenant may not take one of these names.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease",
                       "gpu-operator", "monitoring")

# Not "the internet": private ranges (nodes, pods, services, other VPCs) and link-local
# (the node's metadata server; the GKE metadata ports are opened on their own below).
NOT_INTERNET = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
# Workload Identity's metadata server on GKE Dataplane V2 (169.254.169.252:988) and the
# metadata address pods call (169.254.169.254:80).
GKE_METADATA = (("169.254.169.252/32", 988), ("169.254.169.254/32", 80))

TENANT_DEFAULTS = {
    "gpus": 1,
    "cpu": "8",
    "memory": "32Gi",
    "maxPods": 20,
    "priorityClass": "training-medium",
    # NetworkPolicy egress rules beyond DNS and the tenant's own namespace: public
    # registries and APIs, but not other tenants, nodes or the VPC; and the metadata server.
    "egress": [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NOT_INTERNET)}}]},
        *({"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"protocol": "TCP", "port": port}]}
          for cidr, port in GKE_METADATA),
    ],
}

# The rest of every tenant's ResourceQuota `compute` (spec.hard), after its GPU, CPU, memory
# and pod entries.
QUOTA_DEFAULTS = {
    "persistentvolumeclaims": "10", "services": "10",
    "services.loadbalancers": "0", "services.nodeports": "0",
}

# Shared by all tenants, created once per cluster. Values stay below the
# system-* classes (2e9 and up) so platform pods always win.
PRIORITY_CLASSES = (
    PriorityClassSpec(
        name="production-high", value=100000, preemption_policy="PreemptLowerPriority",
        description="Online inference that serves users; may preempt training and experiments."),
    PriorityClassSpec(
        name="training-medium", value=10000, preemption_policy="PreemptLowerPriority",
        description="Training and batch inference; may preempt experiments."),
    PriorityClassSpec(
        name="experiment-low", value=1000, preemption_policy="Never",
        description="Notebooks and experiments; waits for free GPUs, never preempts."),
)


def default_role_bindings(admin_groups, developer_groups):
    """The bindings every tenant namespace has: its admins, its developers, its CI identity."""
    from model.spec import RoleBindingSpec

    return (
        RoleBindingSpec(name="tenant-admins", role="tenant-admin", groups=tuple(admin_groups)),
        RoleBindingSpec(name="tenant-developers", role="tenant-developer",
                        groups=tuple(developer_groups)),
        RoleBindingSpec(name="job-submitter", role="job-submitter",
                        service_accounts=("job-submitter",)),
    )
