"""The namespace-scoped roles every tenant gets, as Kubernetes RBAC rules.

Developers run workloads and debug them; admins also manage who is a developer.
Neither may change quotas, limit ranges or the network policies the platform owns.
"""

ALL = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
READ = ["get", "list", "watch"]

DEVELOPER_RULES = [
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps", "secrets",
                                      "persistentvolumeclaims"], "verbs": ALL},
    {"apiGroups": [""], "resources": ["pods/log", "pods/status"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods/exec", "pods/portforward"], "verbs": ["create", "get"]},
    {"apiGroups": [""], "resources": ["events", "resourcequotas", "limitranges",
                                      "serviceaccounts", "endpoints"], "verbs": READ},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets"],
     "verbs": ALL},
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "update", "patch"]},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ALL},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ALL},
    {"apiGroups": ["monitoring.coreos.com"], "resources": ["podmonitors", "servicemonitors",
                                                           "prometheusrules"], "verbs": ALL},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": READ},
]

ADMIN_RULES = DEVELOPER_RULES + [
    # Admins decide who in their team is a developer: bindings in their own namespace.
    # RBAC's escalation check keeps them from granting more than they hold.
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ALL},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": READ},
    {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ALL},
]

# A CI identity: submits Jobs and follows them, nothing else.
JOB_SUBMITTER_RULES = [
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch",
                                                            "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": READ},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
]

ROLES = {
    "tenant-admin": ADMIN_RULES,
    "tenant-developer": DEVELOPER_RULES,
    "job-submitter": JOB_SUBMITTER_RULES,
}
