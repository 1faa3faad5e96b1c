"""What every tenant gets unless its definition or the stack config says otherwise."""

from model.spec import PriorityClassSpec

# Namespaces the platform owns; a tenant may not take one of these names.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease",
                       "gpu-operator", "monitoring")

TENANT_DEFAULTS = {
    "gpus": 1,
    "cpu": "8",
    "memory": "32Gi",
    "maxPods": 20,
    "priorityClass": "training-medium",
    "internetEgress": True,
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
