"""The ClusterRoles Kubernetes creates itself, and aggregation as its controller does it
(kube/rbac_roles.py), with upstream's test cases:

- pkg/controller/clusterroleaggregation/clusterroleaggregation_controller_test.go,
  TestSyncClusterRole (the hammer, chisel and saw roles);
- plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy_test.go, TestCovers,
  TestAdminEditRelationship and TestEditViewRelationship (with its escalating and ungettable
  resources), on the aggregated roles as a cluster holds them.
"""

import pytest

from kube.objects import ObjectSet
from kube.rbac import Subject, can_i, covers
from kube.rbac_roles import aggregate, cluster_role_rules, settled_rules, unknown_cluster_role

HAMMER = [{"verbs": ["hammer"], "resources": ["nails"]},
          {"verbs": ["hammer"], "resources": ["wedges"]}]
CHISEL = [{"verbs": ["chisel"], "resources": ["mortises"]}]
SAW = [{"verbs": ["saw"], "resources": ["boards"]}]


def role(name, labels, rules):
    return {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels}, "rules": rules}


def combined(selectors, *rules):
    return {"kind": "ClusterRole", "metadata": {"name": "combined"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": s} for s in selectors]},
            "rules": [r for group in rules for r in group]}


@pytest.mark.parametrize("name,roles,expected", [
    ("remove dead rules",
     [role("hammer", {"foo": "bar"}, HAMMER), combined([{"foo": "bar"}], SAW)], HAMMER),
    ("strip rules",
     [role("hammer", {"foo": "not-bar"}, HAMMER), combined([{"foo": "bar"}], HAMMER)], []),
    ("select properly and put in order",
     [role("hammer", {"foo": "bar"}, HAMMER), role("chisel", {"foo": "bar"}, CHISEL),
      role("saw", {"foo": "not-bar"}, SAW), combined([{"foo": "bar"}])], CHISEL + HAMMER),
    ("select properly with multiple selectors",
     [role("hammer", {"foo": "bar"}, HAMMER), role("chisel", {"foo": "bar"}, CHISEL),
      role("saw", {"foo": "not-bar"}, SAW), combined([{"foo": "bar"}, {"foo": "not-bar"}])],
     CHISEL + HAMMER + SAW),
    ("select properly remove duplicates",
     [role("hammer", {"foo": "bar"}, HAMMER), role("chisel", {"foo": "bar"}, CHISEL),
      role("saw", {"foo": "bar"}, SAW), role("other-saw", {"foo": "not-bar"}, SAW),
      combined([{"foo": "bar"}, {"foo": "not-bar"}])], CHISEL + HAMMER + SAW),
    ("no diff skip",
     [role("hammer", {"foo": "bar"}, HAMMER), combined([{"foo": "bar"}], HAMMER)], HAMMER),
])
def test_sync_cluster_role(name, roles, expected):
    assert aggregate(roles)["combined"] == expected


def test_chains_settle_whatever_the_order():
    """admin <- edit <- view: the controller resyncs every aggregated role on any change."""
    rules = settled_rules(ObjectSet([]))
    view, edit, admin = rules["view"], rules["edit"], rules["admin"]
    assert view and all(r in edit for r in view) and all(r in admin for r in edit)


def _read_only(rules):
    return [{**r, "verbs": [v for v in r["verbs"] if v in ("get", "list", "watch")]}
            for r in rules if any(v in ("get", "list", "watch") for v in r["verbs"])]


def test_covers():
    rules = settled_rules(ObjectSet([]))
    assert covers(rules["admin"], rules["edit"])[0]
    assert covers(rules["admin"], rules["view"])[0]
    assert covers(rules["edit"], rules["view"])[0]


ADDITIONAL_ADMIN_POWERS = [
    {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"],
     "verbs": ["create"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete",
               "deletecollection"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete",
               "deletecollection"]},
]


def test_admin_edit_relationship():
    rules = settled_rules(ObjectSet([]))
    for power in ADDITIONAL_ADMIN_POWERS:
        assert not covers(rules["edit"], [power])[0], power
    edit = rules["edit"] + ADDITIONAL_ADMIN_POWERS
    assert covers(rules["admin"], edit)[0]
    assert covers(edit, rules["admin"])[0]


VIEW_ESCALATING = [{"apiGroups": [""], "resources": [resource], "verbs": ["get", "list", "watch"]}
                   for resource in ("pods/attach", "pods/proxy", "pods/exec", "pods/portforward",
                                    "secrets", "services/proxy")]


UNGETTABLE = [{"apiGroups": ["apps", "extensions"], "resources": ["deployments/rollback"],
               "verbs": ["get", "list", "watch"]}]


def test_edit_view_relationship():
    """view holds no rule that escalates by reading (pods/exec, secrets, ...) and nothing
    that cannot be read; edit, made read-only, covers it."""
    rules = settled_rules(ObjectSet([]))
    for power in VIEW_ESCALATING + UNGETTABLE:
        assert not covers(rules["view"], [power])[0], power
    assert covers(_read_only(rules["edit"]), rules["view"])[0]


# -- what a binding to them grants -----------------------------------------------------------

def binding(role_name, group="dev@example.com", namespace="tenant-b"):
    return {"kind": "RoleBinding", "metadata": {"name": "b", "namespace": namespace},
            "roleRef": {"kind": "ClusterRole", "name": role_name},
            "subjects": [{"kind": "Group", "name": group}]}


DEV = Subject.group("dev@example.com")


@pytest.mark.parametrize("role_name", ["view", "system:aggregate-to-view", "edit", "admin"])
def test_every_role_that_takes_in_view_reads_pods_and_logs(role_name):
    objects = ObjectSet([binding(role_name)])
    for verb, resource in (("get", "pods"), ("list", "pods"), ("watch", "pods"),
                           ("get", "pods/log")):
        assert can_i(objects, DEV, verb, resource, "tenant-b"), (role_name, verb, resource)
    assert not can_i(objects, DEV, "list", "pods", "tenant-a")


def test_a_role_labelled_to_aggregate_joins_view():
    """A chart's (or a candidate's) ClusterRole labelled aggregate-to-view extends view."""
    extra = role("crd-reader", {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
                 [{"apiGroups": ["monitoring.coreos.com"], "resources": ["podmonitors"],
                   "verbs": ["get"]}])
    objects = ObjectSet([binding("view"), extra])
    assert can_i(objects, DEV, "get", "podmonitors", "tenant-b")
    assert "podmonitors" not in str(cluster_role_rules(ObjectSet([]), "view"))


def test_unknown_roles_are_cannot_tell_unless_the_cluster_lists_its_roles():
    rendered = ObjectSet([binding("dashboard-reader")])
    assert "not among the objects" in unknown_cluster_role(rendered, "dashboard-reader")
    assert "not modelled" in unknown_cluster_role(rendered, "system:node")
    assert unknown_cluster_role(rendered, "system:aggregate-to-view") is None
    cluster = ObjectSet([binding("dashboard-reader"),
                         role("cluster-admin", {}, [{"apiGroups": ["*"], "resources": ["*"],
                                                     "verbs": ["*"]}])])
    assert unknown_cluster_role(cluster, "dashboard-reader") is None    # missing: grants none
