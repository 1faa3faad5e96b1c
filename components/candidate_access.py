"""CandidateAccess: the candidate's login, ServiceAccount gpu-lab-candidate/candidate.

A login that can do the exercise and nothing else:
- ClusterRole gpu-lab-candidate (bound cluster-wide): read what the exercise's kubectl
  commands look at (nodes, workloads, quotas, network policies, RBAC objects, the
  Prometheus Operator's monitors, the GPU Operator's ClusterPolicy, metrics), and create
  SubjectAccessReviews: "may this user, group or service account do X?" is asked of the API
  server without acting as them (`kubectl auth can-i` answers for the login itself);
- ClusterRole gpu-lab-candidate-tenant, bound by a RoleBinding in every tenant namespace that
  enforces Pod Security baseline or restricted: deploy (Pods, Deployments, Jobs), exec,
  attach and port-forward there (nvidia-smi runs in a GPU pod of a tenant);
- a Role in monitoring: port-forward to the Prometheus pod, by name.
Never: Secrets (anywhere), writes to RBAC objects, escalate or bind, impersonation (of
anyone: a tenant group's members hold Secrets and RoleBindings in their namespace), tokens
for other identities, exec/attach/port-forward in gpu-operator or into any pod of monitoring
but Prometheus (node-exporter runs on the host network there). ConfigMaps are not read
either. Running a pod as another ServiceAccount of a tenant namespace is possible (Kubernetes
checks no RBAC on serviceAccountName): no ServiceAccount there may do more than the login
(tests/test_escalation.py).
"""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
from pulumi_kubernetes.core.v1 import Namespace, ServiceAccount
from pulumi_kubernetes.rbac.v1 import ClusterRole, ClusterRoleBinding, Role, RoleBinding

from components.monitoring import NAMESPACE as MONITORING_NAMESPACE, RELEASE
from components.options import child_options
from model.config import CANDIDATE_ACCOUNT, CANDIDATE_NAMESPACE
from model.spec import LabSpec

RBAC = "rbac.authorization.k8s.io"
READ = ["get", "list", "watch"]
DEPLOY = ["create", "update", "patch", "delete"]
CONNECT = ["create", "get"]     # exec and port-forward: POST (SPDY) or GET (WebSocket)
NAME = "gpu-lab-candidate"
TENANT_ROLE = "gpu-lab-candidate-tenant"
# The Prometheus Operator names the pods of Prometheus <release>-prometheus after their
# StatefulSet, prometheus-<name>-<ordinal>: the one pod the login may port-forward to.
PROMETHEUS_POD = f"prometheus-{RELEASE}-prometheus-0"
PROMETHEUS_SERVICE = f"{RELEASE}-prometheus"
# Pod Security levels under which the login may deploy and exec: at `privileged` a pod it
# makes could be root on its node.
DEPLOYABLE_LEVELS = ("baseline", "restricted")

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
    # "May user U in group G do X?" without acting as them: `kubectl create -f` of a
    # SubjectAccessReview; the answer is all it returns.
    {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"],
     "verbs": ["create"]},
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

MONITORING_RULES = [{"apiGroups": [""], "resources": ["pods/portforward"], "verbs": CONNECT,
                     "resourceNames": [PROMETHEUS_POD]}]


def deployable_tenants(spec: LabSpec) -> list:
    """The tenants whose namespaces the login deploys into: those enforcing baseline or
    restricted (a tenant at privileged admits pods that own their node)."""
    return [t for t in spec.tenants if t.pod_security in DEPLOYABLE_LEVELS]


class CandidateAccess(pulumi.ComponentResource):
    def __init__(self, name: str, spec: LabSpec,
                 tenant_namespaces: Mapping[str, pulumi.Resource],
                 monitoring: Optional[pulumi.Resource] = None,
                 gpu_operator: Optional[pulumi.Resource] = None,
                 opts: pulumi.ResourceOptions | None = None):
        """tenant_namespaces: tenant name -> its Namespace resource; monitoring: that
        namespace, when the stack has it. gpu_operator is accepted and unused: the login has
        no rights in gpu-operator beyond reading it."""
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
                                        rules=READ_RULES, opts=child)
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
            for tenant in deployable_tenants(spec)]

        self.namespace_roles = []
        if monitoring is not None:
            meta = {"name": NAME, "namespace": MONITORING_NAMESPACE, "labels": labels}
            role = Role(f"{name}-{MONITORING_NAMESPACE}", metadata=meta,
                        rules=MONITORING_RULES, opts=child_options(self, opts, monitoring))
            binding = RoleBinding(f"{name}-{MONITORING_NAMESPACE}-binding", metadata=meta,
                                  role_ref=role_ref("Role", NAME), subjects=subject,
                                  opts=child_options(self, opts, role, self.service_account))
            self.namespace_roles.append((role, binding))

        self.register_outputs({"serviceAccount": f"{CANDIDATE_NAMESPACE}/{CANDIDATE_ACCOUNT}"})
