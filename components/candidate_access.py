"""CandidateAccess: the candidate's login, ServiceAccount gpu-lab-candidate/candidate.

What the exercise needs and nothing more:
- ClusterRole gpu-lab-candidate (bound cluster-wide): read what the exercise's kubectl
  commands look at (nodes, workloads, quotas, network policies, RBAC objects, the
  Prometheus Operator's monitors, the GPU Operator's ClusterPolicy, metrics), and impersonate
  the tenants' groups and users, so `kubectl auth can-i --as=... --as-group=...` answers for
  them;
- ClusterRole gpu-lab-candidate-tenant, bound by a RoleBinding in every tenant namespace:
  deploy (Pods, Deployments, Jobs), exec, attach and port-forward;
- a Role in monitoring: port-forward to Prometheus and Grafana;
- a Role in gpu-operator: exec into the operator's pods (nvidia-smi).
Never: Secrets (anywhere), writes to RBAC objects, escalate or bind, impersonating system:*
groups or any other service account. ConfigMaps are not read either.
"""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
from pulumi_kubernetes.core.v1 import Namespace, ServiceAccount
from pulumi_kubernetes.rbac.v1 import ClusterRole, ClusterRoleBinding, Role, RoleBinding

from components.gpu_operator import NAMESPACE as GPU_OPERATOR_NAMESPACE
from components.monitoring import NAMESPACE as MONITORING_NAMESPACE
from components.options import child_options
from model.config import CANDIDATE_ACCOUNT, CANDIDATE_NAMESPACE
from model.spec import LabSpec

RBAC = "rbac.authorization.k8s.io"
READ = ["get", "list", "watch"]
DEPLOY = ["create", "update", "patch", "delete"]
CONNECT = ["create", "get"]     # exec and port-forward: POST (SPDY) or GET (WebSocket)
NAME = "gpu-lab-candidate"
TENANT_ROLE = "gpu-lab-candidate-tenant"
# A user no binding names: `kubectl auth can-i ... --as=dev@example.com --as-group=<group>`
# asks what the group's members may do.
EXAMPLE_USERS = ("dev@example.com",)
# The tenants' CI identity (tenants/defaults.py): it may do less than the candidate may
# in a tenant namespace, so impersonating it reveals, and grants, nothing more.

# Read, cluster-wide: what the exercise's kubectl commands and `kubectl get all` need.
READ_RULES = [
    {"apiGroups": [""], "resources": [
        "nodes", "namespaces", "pods", "pods/log", "events", "services", "endpoints",
        "resourcequotas", "limitranges", "serviceaccounts", "replicationcontrollers"],
     "verbs": READ},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "daemonsets",
                                          "statefulsets"], "verbs": READ},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": READ},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": READ},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": READ},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": READ},
    {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": READ},
    {"apiGroups": ["node.k8s.io"], "resources": ["runtimeclasses"], "verbs": READ},
    {"apiGroups": [RBAC], "resources": ["roles", "rolebindings", "clusterroles",
                                        "clusterrolebindings"], "verbs": READ},
    {"apiGroups": ["monitoring.coreos.com"], "resources": [
        "podmonitors", "servicemonitors", "prometheusrules", "prometheuses"], "verbs": READ},
    {"apiGroups": ["nvidia.com"], "resources": ["clusterpolicies"], "verbs": READ},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
     "verbs": READ},
    {"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": READ},
]

# In every tenant namespace (a RoleBinding to a ClusterRole grants it only there).
TENANT_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": DEPLOY},
    {"apiGroups": [""], "resources": ["pods/exec", "pods/attach", "pods/portforward"],
     "verbs": CONNECT},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": DEPLOY},
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "update",
                                                                          "patch"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": DEPLOY},
]

MONITORING_RULES = [{"apiGroups": [""], "resources": ["pods/portforward"], "verbs": CONNECT}]
GPU_OPERATOR_RULES = [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": CONNECT}]


def _not_system(names) -> list[str]:
    return sorted({n for n in names if n and not n.startswith("system:")})


def impersonable_groups(spec: LabSpec) -> list[str]:
    """The tenants' admin and developer groups (never a system:* group)."""
    return _not_system(g for t in spec.tenants for g in t.admin_groups + t.developer_groups)


def impersonable_users(spec: LabSpec) -> list[str]:
    """The users the tenants' bindings name, and the example user."""
    return _not_system([*EXAMPLE_USERS, *(u for t in spec.tenants for b in t.role_bindings
                                         for u in b.users)])


def cluster_rules(spec: LabSpec) -> list[dict]:
    """READ_RULES plus impersonation by name. An empty resourceNames would mean every name,
    so a kind with no names gets no rule at all."""
    rules = list(READ_RULES)
    for resource, names in (("users", impersonable_users(spec)),
                            ("groups", impersonable_groups(spec))):
        if names:
            rules.append({"apiGroups": [""], "resources": [resource], "verbs": ["impersonate"],
                          "resourceNames": names})
    return rules


class CandidateAccess(pulumi.ComponentResource):
    def __init__(self, name: str, spec: LabSpec,
                 tenant_namespaces: Mapping[str, pulumi.Resource],
                 monitoring: Optional[pulumi.Resource] = None,
                 gpu_operator: Optional[pulumi.Resource] = None,
                 opts: pulumi.ResourceOptions | None = None):
        """tenant_namespaces: tenant name -> its Namespace resource; monitoring and
        gpu_operator: those namespaces, when the stack has them."""
        super().__init__("gpu-lab:access:CandidateAccess", name, None, opts)
        child = child_options(self, opts)
        labels = {"app.kubernetes.io/managed-by": "gpu-lab"}
        subject = [{"kind": "ServiceAccount", "name": CANDIDATE_ACCOUNT,
                    "namespace": CANDIDATE_NAMESPACE}]

        self.namespace = Namespace(f"{name}-namespace", metadata={
            "name": CANDIDATE_NAMESPACE, "labels": {
                **labels, "pod-security.kubernetes.io/enforce": "restricted"}}, opts=child)
        # Replaced (never created beside the old one): a new ServiceAccount revokes every
        # token of the old one, which is how `lab reset` retires a candidate's login.
        self.service_account = ServiceAccount(
            f"{name}-account", metadata={"name": CANDIDATE_ACCOUNT,
                                         "namespace": CANDIDATE_NAMESPACE, "labels": labels},
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions.merge(child_options(self, opts, self.namespace),
                                              pulumi.ResourceOptions(delete_before_replace=True)))

        def role_ref(kind: str, role: str) -> dict:
            return {"apiGroup": RBAC, "kind": kind, "name": role}

        self.cluster_role = ClusterRole(f"{name}-read", metadata={"name": NAME, "labels": labels},
                                        rules=cluster_rules(spec), opts=child)
        self.cluster_role_binding = ClusterRoleBinding(
            f"{name}-read-binding", metadata={"name": NAME, "labels": labels},
            role_ref=role_ref("ClusterRole", NAME), subjects=subject,
            opts=child_options(self, opts, self.cluster_role, self.service_account))

        self.tenant_role = ClusterRole(f"{name}-tenant", metadata={"name": TENANT_ROLE,
                                                                   "labels": labels},
                                       rules=TENANT_RULES, opts=child)
        self.tenant_bindings = [
            RoleBinding(f"{name}-{tenant.name}", metadata={
                "name": NAME, "namespace": tenant.namespace, "labels": labels},
                role_ref=role_ref("ClusterRole", TENANT_ROLE), subjects=subject,
                opts=child_options(self, opts, tenant_namespaces.get(tenant.name),
                                   self.tenant_role, self.service_account))
            for tenant in spec.tenants]

        self.namespace_roles = []
        for namespace, resource, rules in ((MONITORING_NAMESPACE, monitoring, MONITORING_RULES),
                                           (GPU_OPERATOR_NAMESPACE, gpu_operator,
                                            GPU_OPERATOR_RULES)):
            if resource is None:
                continue
            meta = {"name": NAME, "namespace": namespace, "labels": labels}
            role = Role(f"{name}-{namespace}", metadata=meta, rules=rules,
                        opts=child_options(self, opts, resource))
            binding = RoleBinding(f"{name}-{namespace}-binding", metadata=meta,
                                  role_ref=role_ref("Role", NAME), subjects=subject,
                                  opts=child_options(self, opts, role, self.service_account))
            self.namespace_roles.append((role, binding))

        self.register_outputs({"serviceAccount": f"{CANDIDATE_NAMESPACE}/{CANDIDATE_ACCOUNT}"})
