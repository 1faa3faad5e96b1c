"""can_i: would the RBAC authorizer allow this request? Kubernetes semantics, offline.

Covers Roles and ClusterRoles, RoleBindings (including a RoleBinding to a ClusterRole,
which grants it only in that namespace) and ClusterRoleBindings; users, groups and
service accounts (with their system:serviceaccounts[:<ns>] groups); wildcards in verbs,
apiGroups and resources; */subresource; resourceNames; aggregated ClusterRoles; and
impersonation (`kubectl --as/--as-group`) as the API server's impersonation filter asks it.
Against a live cluster `lab verify` asks the API server itself (SubjectAccessReview).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from kube.answer import Answer
from kube.objects import ObjectSet, ref
from kube.selectors import selector_matches

RBAC_GROUP = "rbac.authorization.k8s.io"

# The API group of the resources the checks ask about; "jobs.batch" style overrides.
API_GROUPS = {
    "pods": "", "services": "", "secrets": "", "configmaps": "", "events": "",
    "persistentvolumeclaims": "", "serviceaccounts": "", "resourcequotas": "",
    "limitranges": "", "namespaces": "", "nodes": "", "endpoints": "",
    "deployments": "apps", "replicasets": "apps", "statefulsets": "apps", "daemonsets": "apps",
    "jobs": "batch", "cronjobs": "batch",
    "roles": RBAC_GROUP, "rolebindings": RBAC_GROUP, "clusterroles": RBAC_GROUP,
    "clusterrolebindings": RBAC_GROUP,
    "networkpolicies": "networking.k8s.io",
    "podmonitors": "monitoring.coreos.com", "servicemonitors": "monitoring.coreos.com",
    "prometheusrules": "monitoring.coreos.com", "prometheuses": "monitoring.coreos.com",
    "priorityclasses": "scheduling.k8s.io", "runtimeclasses": "node.k8s.io",
    "horizontalpodautoscalers": "autoscaling", "endpointslices": "discovery.k8s.io",
    "customresourcedefinitions": "apiextensions.k8s.io", "clusterpolicies": "nvidia.com",
    # impersonation's resources (users, groups, serviceaccounts) are in the core group
}
SERVICE_ACCOUNT_USER = "system:serviceaccount:"

_READ = ["get", "list", "watch"]
_WRITE = ["create", "update", "patch", "delete", "deletecollection"]
_VIEWABLE = [
    {"apiGroups": [""], "resources": ["pods", "pods/log", "pods/status", "services",
                                      "configmaps", "endpoints", "persistentvolumeclaims",
                                      "events", "resourcequotas", "limitranges",
                                      "serviceaccounts", "replicationcontrollers"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets",
                                          "daemonsets"]},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"]},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies", "ingresses"]},
]
# The default user-facing ClusterRoles every cluster has, in outline (they are
# aggregated on a real cluster). Objects in the set take precedence.
BUILTIN_CLUSTER_ROLES = {
    "cluster-admin": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    "view": [{**r, "verbs": _READ} for r in _VIEWABLE],
    "edit": [{**r, "verbs": _READ + _WRITE} for r in _VIEWABLE]
    + [{"apiGroups": [""], "resources": ["secrets"], "verbs": _READ + _WRITE},
       {"apiGroups": [""], "resources": ["pods/exec", "pods/portforward"],
        "verbs": ["create", "get"]}],
}
BUILTIN_CLUSTER_ROLES["admin"] = BUILTIN_CLUSTER_ROLES["edit"] + [
    {"apiGroups": [RBAC_GROUP], "resources": ["roles", "rolebindings"],
     "verbs": _READ + _WRITE}]


@dataclass(frozen=True)
class Subject:
    """Who is asking: a user name and the groups the authenticator put them in."""
    user: str = ""
    groups: tuple[str, ...] = ()

    @classmethod
    def group(cls, name: str) -> "Subject":
        """Someone whose only membership that matters is `name` (kubectl --as-group)."""
        return cls(user=f"member-of:{name}", groups=(name, "system:authenticated"))

    @classmethod
    def service_account(cls, namespace: str, name: str) -> "Subject":
        return cls(user=f"system:serviceaccount:{namespace}:{name}",
                   groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                           "system:authenticated"))

    def __str__(self) -> str:
        named = [g for g in self.groups if g not in ("system:authenticated",
                                                     "system:serviceaccounts")]
        if self.user.startswith("member-of:"):
            return f"group {self.groups[0]}"
        return self.user + (f" (groups {', '.join(named)})" if named else "")


def bound(subject: Subject, binding: dict) -> Optional[dict]:
    """The binding's subject entry that is `subject`, if any."""
    binding_ns = binding.get("metadata", {}).get("namespace", "")
    for entry in binding.get("subjects") or []:
        kind, name = entry.get("kind"), entry.get("name")
        if kind == "User" and name == subject.user:
            return entry
        if kind == "Group" and name in subject.groups:
            return entry
        if kind == "ServiceAccount":
            namespace = entry.get("namespace") or binding_ns
            if subject.user == f"system:serviceaccount:{namespace}:{name}":
                return entry
    return None


def parse_resource(resource: str, api_group: Optional[str]) -> tuple[str, str, str]:
    """'pods/log' -> ('', 'pods', 'log'); 'jobs.batch' -> ('batch', 'jobs', '')."""
    base, _, subresource = resource.partition("/")
    if api_group is None and "." in base:
        base, _, api_group = base.partition(".")
    if api_group is None:
        api_group = API_GROUPS.get(base, "")
    return api_group, base, subresource


def rule_allows(rule: dict, verb: str, group: str, resource: str, subresource: str,
                name: Optional[str]) -> bool:
    verbs = rule.get("verbs") or []
    if verb not in verbs and "*" not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if group not in groups and "*" not in groups:
        return False
    combined = f"{resource}/{subresource}" if subresource else resource
    resources = rule.get("resources") or []
    if not any(r == "*" or r == combined or
               (subresource and r == f"*/{subresource}") for r in resources):
        return False
    names = rule.get("resourceNames") or []
    # A rule restricted to names never covers list/create/watch of the collection.
    return not names or (name is not None and name in names)


def _cluster_role_rules(objects: ObjectSet, name: str) -> Optional[list[dict]]:
    role = objects.get("ClusterRole", name)
    if role is None:
        return BUILTIN_CLUSTER_ROLES.get(name)
    rules = list(role.get("rules") or [])
    aggregation = role.get("aggregationRule")
    if aggregation and not rules:
        for other in objects.of_kind("ClusterRole"):
            labels = other.get("metadata", {}).get("labels") or {}
            if other is not role and any(selector_matches(sel, labels) for sel in
                                         aggregation.get("clusterRoleSelectors") or []):
                rules += other.get("rules") or []
    return rules


def _role_rules(objects: ObjectSet, binding: dict) -> tuple[str, Optional[list[dict]]]:
    role_ref = binding.get("roleRef") or {}
    kind, name = role_ref.get("kind"), role_ref.get("name", "")
    if kind == "ClusterRole":
        return f"ClusterRole {name}", _cluster_role_rules(objects, name)
    namespace = binding.get("metadata", {}).get("namespace")
    role = objects.get("Role", name, namespace)
    return f"Role {namespace}/{name}", (role or {}).get("rules") if role else None


def can_i(objects: ObjectSet, subject: Subject, verb: str, resource: str,
          namespace: Optional[str] = None, name: Optional[str] = None,
          api_group: Optional[str] = None) -> Answer:
    """Like `kubectl auth can-i VERB RESOURCE[/SUB] [NAME] -n NAMESPACE --as ...`."""
    group, base, subresource = parse_resource(resource, api_group)
    bindings = objects.of_kind("ClusterRoleBinding")
    if namespace is not None:
        bindings += objects.of_kind("RoleBinding", namespace)
    for binding in bindings:
        entry = bound(subject, binding)
        if entry is None:
            continue
        role_name, rules = _role_rules(objects, binding)
        for rule in rules or []:
            if rule_allows(rule, verb, group, base, subresource, name):
                return Answer(True, f"{ref(binding)} binds {entry['kind']} {entry['name']} "
                                    f"to {role_name}, whose rule {_rule_text(rule)} allows it")
    where = f"in namespace {namespace}" if namespace else "cluster-wide"
    what = f"{verb} {resource}" + (f" {name}" if name else "")
    return Answer(False, f"no binding grants {subject} {what} {where}")


def impersonation_requests(user: Optional[str],
                           groups: tuple[str, ...] = ()) -> list[tuple[str, Optional[str], str]]:
    """(resource, namespace, name) the API server authorizes, verb impersonate, for
    `--as=user --as-group=g...`: a service account's user name is checked as serviceaccounts
    in its namespace, any other user as users, each group as groups (the groups it adds
    itself, system:authenticated and a service account's, are not checked)."""
    requests: list[tuple[str, Optional[str], str]] = []
    if user:
        namespace, _, name = user.removeprefix(SERVICE_ACCOUNT_USER).partition(":")
        if user.startswith(SERVICE_ACCOUNT_USER) and namespace and name and ":" not in name:
            requests.append(("serviceaccounts", namespace, name))
        else:
            requests.append(("users", None, user))
    requests += [("groups", None, group) for group in groups]
    return requests


def can_impersonate(objects: ObjectSet, subject: Subject, user: Optional[str],
                    groups: tuple[str, ...] = ()) -> Answer:
    """Like `kubectl ... --as=user --as-group=g`: may `subject` act as them? Every requested
    identity must be allowed; groups alone (no user) are refused, as the API server does."""
    if groups and not user:
        return Answer(False, "impersonating groups needs a user too (--as)")
    reasons = []
    for resource, namespace, name in impersonation_requests(user, groups):
        answer = can_i(objects, subject, "impersonate", resource, namespace, name=name,
                       api_group="")
        if not answer:
            return Answer(False, f"cannot impersonate {resource} {name}: {answer.reason}")
        reasons.append(answer.reason)
    return Answer(True, "; ".join(reasons) or "nothing to impersonate")


def impersonated(user: str, groups: tuple[str, ...] = ()) -> Subject:
    """Who the API server takes the request to come from once impersonation is allowed."""
    if user.startswith(SERVICE_ACCOUNT_USER) and not groups:
        namespace, _, name = user.removeprefix(SERVICE_ACCOUNT_USER).partition(":")
        return Subject.service_account(namespace, name)
    return Subject(user=user, groups=tuple(groups) + ("system:authenticated",))


def _rule_text(rule: dict) -> str:
    parts = [f"{key}=" + (",".join(rule[key]) or '""') for key in
             ("verbs", "apiGroups", "resources", "resourceNames") if rule.get(key) is not None]
    return "{" + " ".join(parts) + "}"


def cluster_wide_grants(objects: ObjectSet) -> list[tuple[str, str]]:
    """(ClusterRoleBinding, subject) for every subject bound cluster-wide."""
    return [(ref(b), f"{s.get('kind')} {s.get('name')}")
            for b in objects.of_kind("ClusterRoleBinding") for s in b.get("subjects") or []]
