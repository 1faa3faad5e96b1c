"""Tenant: one team's namespace with its quotas, limits, roles, identities and network isolation."""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
from pulumi_gcp import serviceaccount
from pulumi_kubernetes.core.v1 import LimitRange, Namespace, ResourceQuota, ServiceAccount
from pulumi_kubernetes.networking.v1 import NetworkPolicy
from pulumi_kubernetes.rbac.v1 import Role, RoleBinding

from components.options import child_options
from components.tenant_rbac import ROLES
from model.frozen import thaw
from model.spec import GPU_RESOURCE, RoleBindingSpec, TenantSpec

MONITORING_NAMESPACE = "monitoring"


def _namespace_selector(name: str) -> dict:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


class Tenant(pulumi.ComponentResource):
    def __init__(self, name: str, tenant: TenantSpec, gcp_project: Optional[str] = None,
                 refused_priority_classes: Sequence[str] = (),
                 opts: pulumi.ResourceOptions | None = None):
        """gcp_project: on GKE, the project whose Workload Identity pool the cluster uses.
        refused_priority_classes: the PriorityClasses above the tenant's own; its pods may
        not use them (a quota of zero pods scoped to each)."""
        super().__init__("gpu-lab:tenant:Tenant", name, None, opts)
        self.spec = tenant
        ns = tenant.namespace
        child = child_options(self, opts)

        self.namespace = Namespace(f"{name}-namespace", metadata={
            "name": ns,
            "labels": {
                "tenant": tenant.name, "team": tenant.team, "cost-center": tenant.cost_center,
                "gpu-lab/tenant": "true",
                # Pod Security Admission: restricted unless the tenant opts down.
                "pod-security.kubernetes.io/enforce": tenant.pod_security,
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        }, opts=child)
        # Everything else lives in the namespace, so it waits for it.
        in_ns = child_options(self, opts, self.namespace)

        def meta(object_name: str, **extra) -> dict:
            return {"name": object_name, "namespace": ns,
                    "labels": {"tenant": tenant.name, "app.kubernetes.io/managed-by": "gpu-lab"},
                    **extra}

        self.quota = ResourceQuota(f"{name}-quota", metadata=meta("compute"),
                                   spec={"hard": dict(tenant.quota_hard)}, opts=in_ns)
        self.priority_quotas = [
            ResourceQuota(f"{name}-quota-{priority}", metadata=meta(f"gpus-{priority}"), spec={
                "hard": {f"requests.{GPU_RESOURCE}": str(gpus)},
                "scopeSelector": {"matchExpressions": [
                    {"scopeName": "PriorityClass", "operator": "In", "values": [priority]}]},
            }, opts=in_ns)
            for priority, gpus in tenant.gpu_priority_quotas
        ]
        # A tenant may use its own PriorityClass and lower ones only: a higher class would
        # let its pods preempt other tenants' GPU pods.
        self.refused_priority_quotas = [
            ResourceQuota(f"{name}-deny-priority-{priority}",
                          metadata=meta(f"deny-priority-{priority}"), spec={
                "hard": {"pods": "0"},
                "scopeSelector": {"matchExpressions": [
                    {"scopeName": "PriorityClass", "operator": "In", "values": [priority]}]},
            }, opts=in_ns)
            for priority in refused_priority_classes
        ]

        # The API server copies a Container item's max into its default (and default into
        # defaultRequest) where they are unset (SetDefaults_LimitRangeItem), so a GPU max
        # alone would hand every container that names no GPU the maximum: the GPU default
        # is 0, explicitly.
        self.limit_range = LimitRange(f"{name}-limits", metadata=meta("defaults"), spec={
            "limits": [
                {"type": "Container",
                 "defaultRequest": {"cpu": tenant.default_cpu_request,
                                    "memory": tenant.default_memory_request,
                                    GPU_RESOURCE: "0"},
                 "default": {"cpu": tenant.default_cpu_limit,
                             "memory": tenant.default_memory_limit, GPU_RESOURCE: "0"},
                 "max": {GPU_RESOURCE: str(tenant.max_gpus_per_pod)}},
                {"type": "Pod", "max": {GPU_RESOURCE: str(tenant.max_gpus_per_pod)}},
            ],
        }, opts=in_ns)

        self.roles = {role: Role(f"{name}-role-{role}", metadata=meta(role), rules=rules,
                                 opts=in_ns)
                      for role, rules in ROLES.items()}

        workload_annotations = ({"iam.gke.io/gcp-service-account": tenant.gcp_service_account}
                                if tenant.gcp_service_account else {})
        self.service_accounts = {
            # The AI workloads run as `workload`; they never call the Kubernetes API.
            "workload": ServiceAccount(f"{name}-sa-workload",
                                       metadata=meta("workload", annotations=workload_annotations),
                                       automount_service_account_token=False, opts=in_ns),
            "job-submitter": ServiceAccount(f"{name}-sa-job-submitter",
                                            metadata=meta("job-submitter"), opts=in_ns),
            **{account: ServiceAccount(f"{name}-sa-{account}", metadata=meta(account),
                                       opts=in_ns)
               for account in tenant.extra_service_accounts},
        }

        # Workload Identity: the annotation says which GCP service account the `workload`
        # KSA acts as; this grant lets it do so (without it every GCP call gets 403).
        self.workload_identity = None
        if gcp_project and tenant.gcp_service_account:
            self.workload_identity = serviceaccount.IAMMember(
                f"{name}-workload-identity",
                service_account_id=service_account_path(tenant.gcp_service_account,
                                                        gcp_project),
                role="roles/iam.workloadIdentityUser",
                member=f"serviceAccount:{gcp_project}.svc.id.goog[{ns}/workload]",
                opts=child)

        self.role_bindings = [
            RoleBinding(f"{name}-binding-{binding.name}", metadata=meta(binding.name),
                        role_ref={"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": binding.role_kind, "name": binding.role},
                        subjects=_subjects(binding, ns),
                        opts=child_options(self, opts, self.namespace,
                                           *self.service_accounts.values()))
            for binding in tenant.role_bindings
        ]

        self.network_policies = [NetworkPolicy(f"{name}-netpol-{policy_name}",
                                               metadata=meta(policy_name), spec=spec, opts=in_ns)
                                 for policy_name, spec in _network_policies(tenant)]

        self.register_outputs({"namespace": ns})


def service_account_path(email: str, default_project: str) -> str:
    """projects/<project>/serviceAccounts/<email>: the project is the one the account lives
    in (its e-mail says so for user-managed accounts)."""
    domain = email.partition("@")[2]
    project = (domain.removesuffix(".iam.gserviceaccount.com")
               if domain.endswith(".iam.gserviceaccount.com") else default_project)
    return f"projects/{project}/serviceAccounts/{email}"


def _subjects(binding: RoleBindingSpec, namespace: str) -> list[dict]:
    subjects = [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": g}
                for g in binding.groups]
    subjects += [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": u}
                 for u in binding.users]
    for account in binding.service_accounts:
        sa_namespace, _, sa_name = account.rpartition("/")
        subjects.append({"kind": "ServiceAccount", "name": sa_name,
                         "namespace": sa_namespace or namespace})
    return subjects


def _network_policies(tenant: TenantSpec) -> list[tuple[str, dict]]:
    """Default deny both ways, then the holes a tenant needs."""
    everything = {}
    policies = [
        ("default-deny", {"podSelector": everything, "policyTypes": ["Ingress", "Egress"]}),
        ("allow-same-namespace", {
            "podSelector": everything, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": everything}]}],
            "egress": [{"to": [{"podSelector": everything}]}],
        }),
        ("allow-dns", {
            "podSelector": everything, "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"namespaceSelector": _namespace_selector("kube-system"),
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }],
        }),
        ("allow-monitoring-scrape", {
            "podSelector": everything, "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"namespaceSelector": _namespace_selector(MONITORING_NAMESPACE)}],
                "ports": [{"protocol": "TCP", "port": port} for port in tenant.metrics_ports],
            }],
        }),
    ]
    # The tenant's own egress rules (by default the internet and the metadata server:
    # tenants/defaults.py).
    if tenant.egress:
        policies.append(("allow-internet-egress", {
            "podSelector": everything, "policyTypes": ["Egress"],
            "egress": [thaw(rule) for rule in tenant.egress],
        }))
    return policies
