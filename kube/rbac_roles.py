"""The ClusterRoles Kubernetes itself creates, and aggregated ClusterRoles as the cluster's
aggregation controller fills them.

Ported from kubernetes/kubernetes:

- plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, ClusterRoles(), as its golden
  file testdata/cluster-roles.yaml renders them: cluster-admin; admin, edit and view, which
  carry an aggregationRule and no rules of their own; system:aggregate-to-admin, -edit and
  -view, which hold the rules. The labels chain them: admin aggregates what is labelled
  aggregate-to-admin (edit and system:aggregate-to-admin), edit what is labelled
  aggregate-to-edit (view and system:aggregate-to-edit), view what is labelled
  aggregate-to-view (system:aggregate-to-view). Any ClusterRole a chart or a candidate labels
  so joins them (kube-prometheus-stack's do).
- pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go, syncClusterRole:
  an aggregated role's rules become, selector by selector and role by role in name order,
  every rule of every other ClusterRole the selector matches, each rule once; whatever rules
  the role had are replaced. The controller resyncs every aggregated role on any change, so
  a chain (admin <- edit <- view) settles to a fixed point; that is what is computed here.

The other bootstrap ClusterRoles (system:node, system:heapster, the system:controller:*
roles, ...) are known by name only: what they grant is not modelled, so a binding to one is
"cannot tell" (`unknown_cluster_role`), never "grants nothing".
"""

from __future__ import annotations

import weakref
from typing import Optional

from kube.objects import ObjectSet
from kube.selectors import selector_matches

AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
BOOTSTRAP_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}

_GLW = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


AGGREGATE_TO_ADMIN_RULES = [
    _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    _rule(["rbac.authorization.k8s.io"], ["rolebindings", "roles"], _ALL),
]
AGGREGATE_TO_EDIT_RULES = [
    _rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
                 "services/proxy"], _GLW),
    _rule([""], ["serviceaccounts"], ["impersonate"]),
    _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], _WRITE),
    _rule([""], ["pods/eviction"], ["create"]),
    _rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                 "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
                 "services/proxy"], _WRITE),
    _rule([""], ["serviceaccounts/token"], ["create"]),
    _rule(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                     "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"],
          _WRITE),
    _rule(["autoscaling"], ["horizontalpodautoscalers"], _WRITE),
    _rule(["batch"], ["cronjobs", "jobs"], _WRITE),
    _rule(["extensions"], ["daemonsets", "deployments", "deployments/rollback",
                           "deployments/scale", "ingresses", "networkpolicies", "replicasets",
                           "replicasets/scale", "replicationcontrollers/scale"], _WRITE),
    _rule(["policy"], ["poddisruptionbudgets"], _WRITE),
    _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _WRITE),
    _rule(["coordination.k8s.io"], ["leases"], _ALL),
]
AGGREGATE_TO_VIEW_RULES = [
    _rule([""], ["configmaps", "endpoints", "persistentvolumeclaims",
                 "persistentvolumeclaims/status", "pods", "replicationcontrollers",
                 "replicationcontrollers/scale", "serviceaccounts", "services",
                 "services/status"], _GLW),
    _rule([""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log",
                 "pods/status", "replicationcontrollers/status", "resourcequotas",
                 "resourcequotas/status"], _GLW),
    _rule([""], ["namespaces"], _GLW),
    _rule(["discovery.k8s.io"], ["endpointslices"], _GLW),
    _rule(["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
                     "deployments/scale", "deployments/status", "replicasets",
                     "replicasets/scale", "replicasets/status", "statefulsets",
                     "statefulsets/scale", "statefulsets/status"], _GLW),
    _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"],
          _GLW),
    _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], _GLW),
    _rule(["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                           "deployments/status", "ingresses", "ingresses/status",
                           "networkpolicies", "replicasets", "replicasets/scale",
                           "replicasets/status", "replicationcontrollers/scale"], _GLW),
    _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], _GLW),
    _rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], _GLW),
]


def _cluster_role(name: str, rules: Optional[list[dict]] = None, labels: Optional[dict] = None,
                  aggregate: Optional[str] = None) -> dict:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {**BOOTSTRAP_LABEL, **(labels or {})},
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "rules": rules}
    if aggregate:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {AGGREGATE + aggregate: "true"}}]}
    return role


# The modelled bootstrap ClusterRoles, as the API server creates them (aggregated ones with
# no rules: the controller fills them).
BOOTSTRAP_CLUSTER_ROLES: dict[str, dict] = {r["metadata"]["name"]: r for r in (
    _cluster_role("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                    {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
    _cluster_role("admin", aggregate="admin"),
    _cluster_role("edit", labels={AGGREGATE + "admin": "true"}, aggregate="edit"),
    _cluster_role("view", labels={AGGREGATE + "edit": "true"}, aggregate="view"),
    _cluster_role("system:aggregate-to-admin", AGGREGATE_TO_ADMIN_RULES,
                  labels={AGGREGATE + "admin": "true"}),
    _cluster_role("system:aggregate-to-edit", AGGREGATE_TO_EDIT_RULES,
                  labels={AGGREGATE + "edit": "true"}),
    _cluster_role("system:aggregate-to-view", AGGREGATE_TO_VIEW_RULES,
                  labels={AGGREGATE + "view": "true"}),
)}

# Every other ClusterRole policy.go bootstraps (testdata/cluster-roles.yaml), known by name
# only, and the prefix of the controllers' roles (controller_policy.go).
OTHER_BOOTSTRAP_NAMES = frozenset((
    "system:auth-delegator", "system:basic-user",
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
    "system:certificates.k8s.io:kube-apiserver-client-approver",
    "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
    "system:certificates.k8s.io:kubelet-serving-approver",
    "system:certificates.k8s.io:legacy-unknown-approver", "system:discovery",
    "system:heapster", "system:kube-aggregator", "system:kube-controller-manager",
    "system:kube-dns", "system:kube-scheduler", "system:kubelet-api-admin", "system:monitoring",
    "system:node", "system:node-bootstrapper", "system:node-problem-detector",
    "system:node-proxier", "system:persistent-volume-provisioner", "system:public-info-viewer",
    "system:service-account-issuer-discovery", "system:volume-scheduler",
))
CONTROLLER_PREFIX = "system:controller:"


def _name(role: dict) -> str:
    return (role.get("metadata") or {}).get("name", "")


def aggregate(roles: list[dict]) -> dict[str, list[dict]]:
    """Every ClusterRole's rules once the aggregation controller has settled: an aggregated
    role's are the distinct rules of the other roles its selectors match (selector by
    selector, roles by name), computed again until nothing changes."""
    rules = {_name(r): list(r.get("rules") or []) for r in roles}
    ordered = sorted(roles, key=_name)
    aggregated = [r for r in ordered if r.get("aggregationRule") is not None]
    for _ in range(len(aggregated) + 1):
        changed = False
        for role in aggregated:
            combined: list[dict] = []
            for selector in (role["aggregationRule"].get("clusterRoleSelectors") or []):
                for other in ordered:
                    if _name(other) == _name(role) or not selector_matches(
                            selector, (other.get("metadata") or {}).get("labels") or {}):
                        continue
                    combined += [rule for rule in rules[_name(other)] if rule not in combined]
            if combined != rules[_name(role)]:
                rules[_name(role)] = combined
                changed = True
        if not changed:
            break
    return rules


def cluster_roles(objects: ObjectSet) -> list[dict]:
    """The ClusterRoles of a state: its own, and the modelled bootstrap ones it does not
    carry (a rendering has none; a cluster has them all)."""
    own = objects.of_kind("ClusterRole")
    names = {_name(r) for r in own}
    return own + [r for name, r in BOOTSTRAP_CLUSTER_ROLES.items() if name not in names]


_settled: "weakref.WeakKeyDictionary[ObjectSet, tuple[tuple, dict]]" = \
    weakref.WeakKeyDictionary()


def settled_rules(objects: ObjectSet) -> dict[str, list[dict]]:
    """aggregate(cluster_roles(objects)), computed once per set of ClusterRoles."""
    key = tuple(id(r) for r in objects.of_kind("ClusterRole"))
    cached = _settled.get(objects)
    if cached is None or cached[0] != key:
        cached = (key, aggregate(cluster_roles(objects)))
        _settled[objects] = cached
    return cached[1]


def cluster_role_rules(objects: ObjectSet, name: str) -> Optional[list[dict]]:
    """The rules a ClusterRole grants in this state (aggregation settled); None when no such
    role is known (see unknown_cluster_role for whether that means "none")."""
    return settled_rules(objects).get(name)


def lists_cluster_roles(objects: ObjectSet) -> bool:
    """Does the state carry the cluster's own ClusterRoles (a cluster or a full dump of one),
    so that a role it lacks does not exist? Every cluster has cluster-admin; a rendering of
    the lab does not create it."""
    return objects.get("ClusterRole", "cluster-admin") is not None


def unknown_cluster_role(objects: ObjectSet, name: str) -> Optional[str]:
    """Why what a ClusterRole grants cannot be told from this state, or None when it can (it
    is there, it is modelled, or the state lists the cluster's roles and it is not among
    them: a binding to a missing role grants nothing)."""
    if name in settled_rules(objects):
        return None
    if lists_cluster_roles(objects):
        return None
    if name in OTHER_BOOTSTRAP_NAMES or name.startswith(CONTROLLER_PREFIX):
        return f"ClusterRole {name} is one Kubernetes creates, whose rules are not modelled here"
    return (f"ClusterRole {name} is not among the objects judged (a chart or the cluster may "
            f"create it)")
