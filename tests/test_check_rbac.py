"""can_i against hand-written cases of Kubernetes RBAC semantics, granting and denying."""

import pytest

from kube import ObjectSet, Subject, can_i


def role(name, namespace, *rules, kind="Role", labels=None, aggregation=None):
    meta = {"name": name, **({"namespace": namespace} if namespace else {}),
            **({"labels": labels} if labels else {})}
    obj = {"kind": kind, "metadata": meta, "rules": list(rules)}
    if aggregation:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregation}]}
    return obj


def binding(name, namespace, role_name, *subjects, role_kind="Role"):
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "metadata": meta, "subjects": list(subjects),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                        "name": role_name}}


def group(name):
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def rule(verbs, resources, groups=("",), names=None):
    r = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if names:
        r["resourceNames"] = list(names)
    return r


DEVS = Subject.group("devs@example.com")


def test_role_binding_grants_only_in_its_namespace():
    objects = ObjectSet([role("reader", "a", rule(["list"], ["pods"])),
                         binding("devs", "a", "reader", group("devs@example.com"))])
    allowed = can_i(objects, DEVS, "list", "pods", "a")
    assert allowed and "RoleBinding/a/devs" in allowed.reason and "Role a/reader" in allowed.reason
    assert not can_i(objects, DEVS, "list", "pods", "b")
    assert not can_i(objects, DEVS, "delete", "pods", "a")
    assert not can_i(objects, DEVS, "list", "pods")      # not cluster-wide
    assert not can_i(objects, Subject.group("other@example.com"), "list", "pods", "a")


def test_role_binding_to_a_role_of_another_namespace_grants_nothing():
    objects = ObjectSet([role("reader", "b", rule(["list"], ["pods"])),
                         binding("devs", "a", "reader", group("devs@example.com"))])
    assert not can_i(objects, DEVS, "list", "pods", "a")


def test_cluster_role_bound_by_a_role_binding_is_namespaced():
    objects = ObjectSet([
        role("pod-reader", None, rule(["get", "list"], ["pods"]), kind="ClusterRole"),
        binding("leak", "b", "pod-reader", group("devs@example.com"), role_kind="ClusterRole")])
    answer = can_i(objects, DEVS, "list", "pods", "b")
    assert answer and "ClusterRole pod-reader" in answer.reason
    assert not can_i(objects, DEVS, "list", "pods", "c")


def test_cluster_role_binding_grants_everywhere():
    objects = ObjectSet([
        role("pod-reader", None, rule(["list"], ["pods"]), kind="ClusterRole"),
        binding("everywhere", None, "pod-reader", group("devs@example.com"),
                role_kind="ClusterRole")])
    for namespace in ("a", "b", None):
        assert can_i(objects, DEVS, "list", "pods", namespace)


def test_wildcards_in_verbs_groups_and_resources():
    objects = ObjectSet([role("all", "a", rule(["*"], ["*"], groups=["*"])),
                         binding("devs", "a", "all", group("devs@example.com"))])
    assert can_i(objects, DEVS, "delete", "jobs", "a")
    assert can_i(objects, DEVS, "get", "pods/log", "a")     # "*" covers subresources
    assert can_i(objects, DEVS, "escalate", "roles", "a")


def test_api_group_must_match():
    objects = ObjectSet([role("jobs", "a", rule(["create"], ["jobs"], groups=[""])),
                         binding("devs", "a", "jobs", group("devs@example.com"))])
    assert not can_i(objects, DEVS, "create", "jobs", "a")   # jobs live in batch
    assert can_i(objects, DEVS, "create", "jobs", "a", api_group="")
    assert not can_i(objects, DEVS, "create", "jobs.batch", "a")


def test_subresources_need_their_own_rule():
    objects = ObjectSet([role("pods", "a", rule(["get"], ["pods"])),
                         role("logs", "a", rule(["get"], ["*/log"])),
                         binding("devs", "a", "pods", group("devs@example.com"))])
    assert can_i(objects, DEVS, "get", "pods", "a")
    assert not can_i(objects, DEVS, "get", "pods/log", "a")
    objects = ObjectSet([*objects.objects,
                         binding("logs", "a", "logs", group("devs@example.com"))])
    assert can_i(objects, DEVS, "get", "pods/log", "a")
    assert not can_i(objects, DEVS, "create", "pods/exec", "a")


def test_resource_names_restrict_to_named_objects():
    objects = ObjectSet([role("one-secret", "a", rule(["get", "list"], ["secrets"],
                                                      names=["registry"])),
                         binding("devs", "a", "one-secret", group("devs@example.com"))])
    assert can_i(objects, DEVS, "get", "secrets", "a", name="registry")
    assert not can_i(objects, DEVS, "get", "secrets", "a", name="db-password")
    assert not can_i(objects, DEVS, "list", "secrets", "a")   # listing names no object


def test_service_accounts_by_name_and_by_group():
    ci = Subject.service_account("a", "job-submitter")
    objects = ObjectSet([
        role("submit", "a", rule(["create"], ["jobs"], groups=["batch"])),
        binding("ci", "a", "submit", {"kind": "ServiceAccount", "name": "job-submitter",
                                      "namespace": "a"})])
    assert can_i(objects, ci, "create", "jobs", "a")
    assert not can_i(objects, Subject.service_account("a", "workload"), "create", "jobs", "a")
    assert not can_i(objects, Subject.service_account("b", "job-submitter"), "create", "jobs", "a")

    all_in_b = ObjectSet([
        role("submit", "a", rule(["create"], ["jobs"], groups=["batch"])),
        binding("from-b", "a", "submit", group("system:serviceaccounts:b"))])
    assert can_i(all_in_b, Subject.service_account("b", "anything"), "create", "jobs", "a")
    assert not can_i(all_in_b, ci, "create", "jobs", "a")


def test_service_account_subject_defaults_to_the_binding_namespace():
    objects = ObjectSet([role("submit", "a", rule(["create"], ["jobs"], groups=["batch"])),
                         binding("ci", "a", "submit", {"kind": "ServiceAccount",
                                                       "name": "job-submitter"})])
    assert can_i(objects, Subject.service_account("a", "job-submitter"), "create", "jobs", "a")


def test_users_match_by_name():
    alice = Subject(user="alice@example.com", groups=("system:authenticated",))
    objects = ObjectSet([role("reader", "a", rule(["get"], ["pods"])),
                         binding("alice", "a", "reader",
                                 {"kind": "User", "name": "alice@example.com"})])
    assert can_i(objects, alice, "get", "pods", "a")
    assert not can_i(objects, Subject(user="bob@example.com"), "get", "pods", "a")


def test_all_authenticated_users():
    objects = ObjectSet([role("reader", "a", rule(["get"], ["pods"])),
                         binding("everyone", "a", "reader", group("system:authenticated"))])
    assert can_i(objects, DEVS, "get", "pods", "a")


def test_aggregated_cluster_role_collects_labelled_rules():
    objects = ObjectSet([
        role("monitoring-view", None, kind="ClusterRole", aggregation={"agg/view": "true"}),
        role("view-podmonitors", None, rule(["list"], ["podmonitors"],
                                            groups=["monitoring.coreos.com"]),
             kind="ClusterRole", labels={"agg/view": "true"}),
        binding("devs", "a", "monitoring-view", group("devs@example.com"),
                role_kind="ClusterRole")])
    assert can_i(objects, DEVS, "list", "podmonitors", "a")
    assert not can_i(objects, DEVS, "delete", "podmonitors", "a")


@pytest.mark.parametrize("builtin,verb,resource,allowed", [
    ("view", "list", "pods", True), ("view", "get", "secrets", False),
    ("edit", "get", "secrets", True), ("edit", "create", "rolebindings", False),
    ("admin", "create", "rolebindings", True), ("cluster-admin", "delete", "nodes", True),
])
def test_builtin_cluster_roles_are_known(builtin, verb, resource, allowed):
    objects = ObjectSet([binding("b", "a", builtin, group("devs@example.com"),
                                 role_kind="ClusterRole")])
    assert bool(can_i(objects, DEVS, verb, resource, "a")) is allowed


def test_binding_to_a_missing_role_grants_nothing():
    objects = ObjectSet([binding("devs", "a", "ghost", group("devs@example.com"))])
    answer = can_i(objects, DEVS, "get", "pods", "a")
    assert not answer
    assert answer.reason == "no binding grants group devs@example.com get pods in namespace a"


# -- impersonation (kubectl --as / --as-group), as the API server's impersonation filter ------

def impersonator(*rules, namespace=None):
    kind = "Role" if namespace else "ClusterRole"
    return [role("imp", namespace, *rules, kind=kind),
            binding("imp", namespace, "imp", {"kind": "ServiceAccount", "name": "me",
                                               "namespace": "ops"}, role_kind=kind)]


ME = Subject.service_account("ops", "me")


def test_impersonating_users_and_groups_is_by_name():
    from kube.rbac import can_impersonate
    objects = ObjectSet(impersonator(
        rule(["impersonate"], ["users"], names=["dev@example.com"]),
        rule(["impersonate"], ["groups"], names=["devs@example.com"])))
    assert can_impersonate(objects, ME, "dev@example.com", ("devs@example.com",))
    assert can_impersonate(objects, ME, "dev@example.com")
    denied = can_impersonate(objects, ME, "dev@example.com", ("devs@example.com",
                                                             "system:masters"))
    assert not denied and "groups system:masters" in denied.reason
    assert not can_impersonate(objects, ME, "admin@example.com")
    # groups alone are refused: the API server needs a user to act as
    assert not can_impersonate(objects, ME, None, ("devs@example.com",))


def test_impersonating_a_service_account_is_checked_in_its_namespace():
    from kube.rbac import ImpersonationRequest as Request, can_impersonate, \
        impersonation_requests
    sa = "system:serviceaccount:a:job-submitter"
    assert impersonation_requests(sa) == [Request("serviceaccounts", "job-submitter", "a")]
    assert impersonation_requests("dev@example.com", ("g",)) == [
        Request("users", "dev@example.com"), Request("groups", "g")]
    # not a valid service account user name (serviceaccount.SplitUsername): an ordinary user
    for user in ("system:serviceaccount:a", "system:serviceaccount:a:b:c",
                 "system:serviceaccount:A:b", "system:serviceaccount::b"):
        assert impersonation_requests(user) == [Request("users", user)]
    # a users rule does not cover a service account's user name, nor the reverse
    by_user = ObjectSet(impersonator(rule(["impersonate"], ["users"], names=[sa])))
    assert not can_impersonate(by_user, ME, sa)
    in_a = ObjectSet(impersonator(rule(["impersonate"], ["serviceaccounts"],
                                       names=["job-submitter"]), namespace="a"))
    assert can_impersonate(in_a, ME, sa)
    assert not can_impersonate(in_a, ME, "system:serviceaccount:b:job-submitter")
    assert not can_impersonate(in_a, ME, "system:serviceaccount:a:workload")


def test_an_empty_or_wildcard_rule_impersonates_anyone():
    from kube.rbac import can_impersonate
    objects = ObjectSet(impersonator(rule(["impersonate"], ["users", "groups"])))
    assert can_impersonate(objects, ME, "anyone", ("system:masters",))


def test_the_impersonated_identity():
    from kube.rbac import impersonated
    assert impersonated("system:serviceaccount:a:ci") == Subject.service_account("a", "ci")
    assert impersonated("dev@example.com", ("devs",)) == Subject(
        user="dev@example.com", groups=("devs", "system:authenticated"))
