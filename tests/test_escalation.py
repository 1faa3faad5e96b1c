"""No way out of the candidate's login: every path from ServiceAccount gpu-lab-candidate/
candidate to another identity, a Secret, an RBAC write or a node, as the API server evaluates
it, over the rendered objects of every shipped stack, shown closed; and `lab reset` leaves the
tenant namespaces exactly as the stack manages them.

kube/rbac.py stands in for the API server. Its semantics are ported from upstream and tested
here with upstream's own cases:
- the impersonation filter: staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation/
  impersonation.go, cases of impersonation_test.go (TestImpersonationFilter);
- Covers, the escalation check on Roles and bindings: pkg/registry/rbac/validation/
  policy_comparator.go and rule.go (ConfirmNoEscalation), cases of policy_comparator_test.go;
- bind and escalate: pkg/registry/rbac/escalation_check.go (EscalationAllowed,
  BindingAuthorized, RoleEscalationAuthorized) as rolebinding/policybased/storage.go and
  role/policybased/storage.go use them;
- the authorizer: plugin/pkg/auth/authorizer/rbac/rbac.go (RuleAllows, VisitRulesFor).
What Kubernetes does not check (a pod's serviceAccountName, the Secrets it mounts: the
ServiceAccount admission plugin only wants them to exist) is a path of its own: whoever makes
pods in a namespace acts as every ServiceAccount there and reads every Secret there.
"""

from __future__ import annotations

import copy

import pytest

from components.candidate_access import PROMETHEUS_POD
from faults import build_spec
from kube import ObjectSet, Subject, can_i
from kube.rbac import (
    Reach, can_bind, can_impersonate, can_write_role, covers, exceeds, impersonated,
    non_resource_url_covers, reach,
)
from lab.render import render
from model.config import CANDIDATE_ACCOUNT, CANDIDATE_NAMESPACE
from tests.helpers import stack_values

ME = Subject.service_account(CANDIDATE_NAMESPACE, CANDIDATE_ACCOUNT)
SHIPPED = ("dev", "pairing", "all-faults", "local")
SAFE_PODS = {"monitoring": {PROMETHEUS_POD}}
RBAC = "rbac.authorization.k8s.io"


def rule(verbs, resources, groups=("",), names=None):
    found = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if names:
        found["resourceNames"] = list(names)
    return found


def cluster_role(name, *rules):
    return {"kind": "ClusterRole", "metadata": {"name": name}, "rules": list(rules)}


def role(name, namespace, *rules):
    return {"kind": "Role", "metadata": {"name": name, "namespace": namespace},
            "rules": list(rules)}


def grant(name, role_name, *subjects, namespace=None, kind="ClusterRole"):
    binding = "RoleBinding" if namespace else "ClusterRoleBinding"
    return {"kind": binding, "metadata": {"name": name,
                                          **({"namespace": namespace} if namespace else {})},
            "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role_name},
            "subjects": list(subjects)}


def user(name):
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def group(name):
    return {"kind": "Group", "apiGroup": RBAC, "name": name}


def account(namespace, name):
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


# -- the impersonation filter, with impersonation_test.go's cases ------------------------------

# impersonateAuthorizer of impersonation_test.go, as RBAC objects: system:admin may do
# anything; the other rights hang on the requestor's groups.
FILTER_AUTHORIZER = ObjectSet([
    grant("admin", "cluster-admin", user("system:admin")),
    cluster_role("users", rule(["impersonate"], ["users"])),
    cluster_role("serviceaccounts", rule(["impersonate"], ["serviceaccounts"])),
    cluster_role("groups", rule(["impersonate"], ["groups"])),
    cluster_role("scopes", rule(["impersonate"], ["userextras/scopes"],
                                groups=["authentication.k8s.io"])),
    cluster_role("scope-a", rule(["impersonate"], ["userextras/scopes"],
                                 groups=["authentication.k8s.io"], names=["scope-a"])),
    cluster_role("project", rule(["impersonate"], ["userextras/project"],
                                 groups=["authentication.k8s.io"])),
    cluster_role("uid", rule(["impersonate"], ["uids"], groups=["authentication.k8s.io"],
                             names=["some-uid"])),
    grant("wheel", "users", group("wheel")),
    grant("regular", "users", group("regular-impersonater")),
    grant("sa", "serviceaccounts", group("sa-impersonater")),
    grant("groups", "groups", group("group-impersonater")),
    grant("scopes", "scopes", group("extra-setter-scopes")),
    grant("scope-a", "scope-a", group("extra-setter-particular-scopes")),
    grant("project", "project", group("extra-setter-project")),
    *(grant(f"everything-{r}", r, group("everything-impersonater"))
      for r in ("users", "groups", "scopes", "uid")),
])

# (name in TestImpersonationFilter, requestor, --as, --as-group, extras, uid,
#  expected user and groups, or the HTTP status of the refusal)
FILTER_CASES = [
    ("impersonating-error", Subject("tester"), "anyone", (), None, None, 403),
    ("impersonating-group-without-user", Subject("tester"), None, ("some-group",), None, None,
     400),
    ("impersonating-extra-without-user", Subject("tester"), None, (), {"scopes": ["scope-a"]},
     None, 400),
    ("impersonating-uid-without-user", Subject("tester"), None, (), None, "some-uid", 400),
    ("disallowed-group", Subject("dev", ("wheel",)), "system:admin", ("some-group",), None,
     None, 403),
    ("allowed-group", Subject("dev", ("wheel", "group-impersonater")), "system:admin",
     ("some-group",), None, None, ("system:admin", ("some-group", "system:authenticated"))),
    ("disallowed-userextra-1", Subject("dev", ("wheel",)), "system:admin", ("some-group",),
     {"scopes": ["scope-a"]}, None, 403),
    ("disallowed-userextra-2", Subject("dev", ("wheel", "extra-setter-project")),
     "system:admin", ("some-group",), {"scopes": ["scope-a"]}, None, 403),
    ("disallowed-userextra-3", Subject("dev", ("wheel", "extra-setter-particular-scopes")),
     "system:admin", ("some-group",), {"scopes": ["scope-a", "scope-b"]}, None, 403),
    ("allowed-userextras", Subject("dev", ("wheel", "extra-setter-scopes")), "system:admin",
     (), {"scopes": ["scope-a", "scope-b"]}, None, ("system:admin", ("system:authenticated",))),
    ("allowed-users-impersonation", Subject("dev", ("regular-impersonater",)), "tester", (),
     None, None, ("tester", ("system:authenticated",))),
    ("disallowed-impersonating", Subject("dev", ("sa-impersonater",)), "tester", (), None,
     None, 403),
    ("allowed-sa-impersonating", Subject("dev", ("sa-impersonater",)),
     "system:serviceaccount:foo:default", (), None, None,
     ("system:serviceaccount:foo:default",
      ("system:serviceaccounts", "system:serviceaccounts:foo", "system:authenticated"))),
    ("anonymous-username-prevents-adding-authenticated-group", Subject("system:admin"),
     "system:anonymous", (), None, None, ("system:anonymous", ("system:unauthenticated",))),
    ("unauthenticated-group-prevents-adding-authenticated-group", Subject("system:admin"),
     "unknown", ("system:unauthenticated",), None, None,
     ("unknown", ("system:unauthenticated",))),
    ("unauthenticated-group-prevents-double-adding-authenticated-group",
     Subject("system:admin"), "unknown", ("system:authenticated",), None, None,
     ("unknown", ("system:authenticated",))),
    ("specified-authenticated-group-prevents-double-adding-authenticated-group",
     Subject("dev", ("wheel", "group-impersonater")), "system:admin",
     ("some-group", "system:authenticated"), None, None,
     ("system:admin", ("some-group", "system:authenticated"))),
    ("anonymous-user-prevents-double-adding-unauthenticated-group", Subject("system:admin"),
     "system:anonymous", ("system:unauthenticated",), None, None,
     ("system:anonymous", ("system:unauthenticated",))),
    ("allowed-user-impersonation-with-uid", Subject("dev", ("everything-impersonater",)),
     "tester", (), None, "some-uid", ("tester", ("system:authenticated",))),
    ("disallowed-user-impersonation-with-uid", Subject("dev", ("everything-impersonater",)),
     "tester", (), None, "disallowed-uid", 403),
    ("allowed-impersonation-with-all-headers", Subject("dev", ("everything-impersonater",)),
     "tester", ("system:authenticated",), {"scopes": ["scope-a", "scope-b"]}, "some-uid",
     ("tester", ("system:authenticated",))),
]


@pytest.mark.parametrize("name,requestor,as_user,as_groups,extras,uid,expected",
                         FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_impersonation_filter_as_upstream(name, requestor, as_user, as_groups, extras, uid,
                                          expected):
    answer = can_impersonate(FILTER_AUTHORIZER, requestor, as_user, as_groups, extras, uid)
    if expected == 400:
        assert not answer and "without impersonating a user" in answer.reason
    elif expected == 403:
        assert not answer and "cannot impersonate" in answer.reason
    else:
        assert answer, answer.reason
        assert impersonated(as_user, as_groups) == Subject(*expected)


# -- Covers, as policy_comparator_test.go ---------------------------------------------------

def r(groups=None, verbs=(), resources=None, names=None, urls=None):
    found = {"verbs": list(verbs)}
    if groups is not None:
        found["apiGroups"] = list(groups)
    if resources is not None:
        found["resources"] = list(resources)
    if names:
        found["resourceNames"] = list(names)
    if urls is not None:
        found["nonResourceURLs"] = list(urls)
    return found


COVERS_CASES = [   # (Test... in policy_comparator_test.go, owner, servant, uncovered)
    ("CoversExactMatch", [r(["v1"], ["get"], ["builds"])], [r(["v1"], ["get"], ["builds"])],
     []),
    ("CoversSubresourceWildcard", [r(["v1"], ["get"], ["*/scale"])],
     [r(["v1"], ["get"], ["foo/scale"])], []),
    ("CoversMultipleRulesCoveringSingleRule",
     [r(["v1"], ["delete"], ["deployments"]), r(["v1"], ["delete"], ["builds"]),
      r(["v1"], ["update"], ["builds", "deployments"])],
     [r(["v1"], ["delete", "update"], ["builds", "deployments"])], []),
    ("CoversMultipleAPIGroupsCoveringSingleRule",
     [r([g], verbs, res) for g in ("group1", "group2") for verbs, res in
      ((["delete"], ["deployments"]), (["delete"], ["builds"]),
       (["update"], ["builds", "deployments"]))],
     [r(["group1", "group2"], ["delete", "update"], ["builds", "deployments"])], []),
    ("CoversSingleAPIGroupsCoveringMultiple",
     [r(["group1", "group2"], ["delete", "update"], ["builds", "deployments"])],
     [r([g], verbs, res) for g in ("group1", "group2") for verbs, res in
      ((["delete"], ["deployments"]), (["delete"], ["builds"]),
       (["update"], ["builds", "deployments"]))], []),
    ("CoversMultipleRulesMissingSingleVerbResourceCombination",
     [r(["v1"], ["delete", "update"], ["builds", "deployments"]),
      r(["v1"], ["delete"], ["pods"])],
     [r(["v1"], ["delete", "update"], ["builds", "deployments", "pods"])],
     [r(["v1"], ["update"], ["pods"])]),
    ("CoversAPIGroupStarCoveringMultiple", [r(["*"], ["get"], ["roles"])],
     [r(["group1", "group2"], ["get"], ["roles"])], []),
    ("CoversEnumerationNotCoveringAPIGroupStar", [r(["dummy-group"], ["get"], ["roles"])],
     [r(["*"], ["get"], ["roles"])], [r(["*"], ["get"], ["roles"])]),
    ("CoversAPIGroupStarCoveringStar", [r(["*"], ["get"], ["roles"])],
     [r(["*"], ["get"], ["roles"])], []),
    ("CoversVerbStarCoveringMultiple", [r(["v1"], ["*"], ["roles"])],
     [r(["v1"], ["watch", "list"], ["roles"])], []),
    ("CoversEnumerationNotCoveringVerbStar",
     [r(["v1"], ["get", "list", "watch", "create", "update", "delete", "exec"], ["roles"])],
     [r(["v1"], ["*"], ["roles"])], [r(["v1"], ["*"], ["roles"])]),
    ("CoversVerbStarCoveringStar", [r(["v1"], ["*"], ["roles"])],
     [r(["v1"], ["*"], ["roles"])], []),
    ("CoversResourceStarCoveringMultiple", [r(["v1"], ["get"], ["*"])],
     [r(["v1"], ["get"], ["resourcegroup:deployments"])], []),
    ("CoversEnumerationNotCoveringResourceStar",
     [r(["v1"], ["get"], ["roles", "resourcegroup:deployments"])],
     [r(["v1"], ["get"], ["*"])], [r(["v1"], ["get"], ["*"])]),
    ("CoversResourceStarCoveringStar", [r(["v1"], ["get"], ["*"])],
     [r(["v1"], ["get"], ["*"])], []),
    ("CoversResourceNameEmptyCoveringMultiple", [r(["v1"], ["get"], ["pods"])],
     [r(["v1"], ["get"], ["pods"], names=["foo", "bar"])], []),
    ("CoversEnumerationNotCoveringResourceNameEmpty",
     [r(["v1"], ["get"], ["pods"], names=["foo", "bar"])], [r(["v1"], ["get"], ["pods"])],
     [r(["v1"], ["get"], ["pods"])]),
    ("CoversNonResourceURLs", [r(verbs=["*"], urls=["/apis"])],
     [r(verbs=["*"], urls=["/apis"])], []),
    ("CoversNonResourceURLsStar", [r(verbs=["*"], urls=["*"])],
     [r(verbs=["*"], urls=["/apis", "/apis/v1", "/"])], []),
    ("CoversNonResourceURLsStarAfterPrefixDoesntCover", [r(verbs=["*"], urls=["/apis/*"])],
     [r(verbs=["get"], urls=["/apis", "/apis/v1"])], [r(verbs=["get"], urls=["/apis"])]),
    ("CoversNonResourceURLsStarAfterPrefix", [r(verbs=["*"], urls=["/apis/*"])],
     [r(verbs=["get"], urls=["/apis/v1/foo", "/apis/v1"])], []),
    ("CoversNonResourceURLsWithOtherFields",
     [{**r(["v1"], ["get"], ["builds"]), "nonResourceURLs": ["/apis"]}],
     [{**r(["v1"], ["get"], ["builds"]), "nonResourceURLs": ["/apis"]}], []),
    ("CoversNonResourceURLsWithOtherFieldsFailure", [r(["v1"], ["get"], ["builds"])],
     [{**r(["v1"], ["get"], ["builds"]), "nonResourceURLs": ["/apis"]}],
     [r(verbs=["get"], urls=["/apis"])]),
]


@pytest.mark.parametrize("name,owner,servant,uncovered", COVERS_CASES,
                         ids=[c[0] for c in COVERS_CASES])
def test_covers_as_upstream(name, owner, servant, uncovered):
    ok, missing = covers(owner, servant)
    assert ok is (not uncovered)
    canonical = lambda rules: sorted(repr(sorted(r.items())) for r in rules)  # noqa: E731
    assert canonical(missing) == canonical(uncovered)


@pytest.mark.parametrize("owner,requested,want", [    # TestNonResourceURLCovers
    ("*", "", True), ("*", "/", True), ("*", "/api", True), ("/*", "", False),
    ("/*", "/", True), ("/*", "/foo", True), ("/api", "/api", True), ("/apis", "/api", False),
    ("/api/v1", "/api", False), ("/api/v1", "/api/v1", True), ("/api/*", "/api/v1", True),
    ("/api/*", "/api", False), ("/api/*/*", "/api/v1", False), ("/*/v1/*", "/api/v1", False),
])
def test_non_resource_url_covers_as_upstream(owner, requested, want):
    assert non_resource_url_covers(owner, requested) is want


# -- bind and escalate, as the RBAC registry checks them ----------------------------------------

LEAD = Subject("lead@example.com", ("leads", "system:authenticated"))


def rbac_world(*lead_rules):
    return ObjectSet([
        cluster_role("pod-reader", rule(["get", "list"], ["pods"])),
        cluster_role("secret-reader", rule(["get"], ["secrets"])),
        role("lead", "a", *lead_rules),
        grant("lead", "lead", group("leads"), namespace="a", kind="Role")])


def test_a_binding_grants_only_rules_its_author_holds():
    """ConfirmNoEscalation: create on rolebindings is not enough, the author must hold every
    rule of the role it binds, in the binding's namespace."""
    world = rbac_world(rule(["create"], ["rolebindings"], groups=[RBAC]),
                       rule(["get", "list"], ["pods"]))
    readers = grant("x", "pod-reader", user("bob"), namespace="a")
    assert can_bind(world, LEAD, readers)
    refused = can_bind(world, LEAD, grant("y", "secret-reader", user("bob"), namespace="a"))
    assert not refused and "not currently held" in refused.reason
    assert "secrets" in refused.reason
    # a ClusterRoleBinding needs create on clusterrolebindings, and rules held cluster-wide
    assert not can_bind(world, LEAD, grant("z", "pod-reader", user("bob")))
    # no create: nothing else matters
    assert not can_bind(rbac_world(rule(["get", "list"], ["pods"])), LEAD, readers)


def test_bind_lets_one_grant_a_named_role_one_does_not_hold():
    """BindingAuthorized: `bind` on the role (by name, in the binding's namespace)."""
    world = rbac_world(rule(["create"], ["rolebindings"], groups=[RBAC]),
                       rule(["bind"], ["clusterroles"], groups=[RBAC], names=["secret-reader"]))
    assert can_bind(world, LEAD, grant("y", "secret-reader", user("bob"), namespace="a"))
    assert not can_bind(world, LEAD, grant("x", "pod-reader", user("bob"), namespace="a"))
    assert not can_bind(world, LEAD, grant("y", "secret-reader", user("bob"), namespace="b"))


def test_escalate_lets_one_write_a_role_with_rules_one_does_not_hold():
    """RoleEscalationAuthorized: `escalate` on roles; without it, ConfirmNoEscalation."""
    wanted = role("more", "a", rule(["get"], ["secrets"]))
    plain = rbac_world(rule(["create"], ["roles"], groups=[RBAC]))
    assert not can_write_role(plain, LEAD, wanted)
    assert can_write_role(plain, LEAD, role("less", "a", rule(["create"], ["roles"],
                                                              groups=[RBAC])))
    escalating = rbac_world(rule(["create", "escalate"], ["roles"], groups=[RBAC]))
    assert can_write_role(escalating, LEAD, wanted)


def test_system_masters_may_grant_anything():
    world = ObjectSet([cluster_role("binder", rule(["create"], ["rolebindings"],
                                                   groups=[RBAC])),
                       grant("binder", "binder", group("system:masters"))])
    root = Subject("root", ("system:masters", "system:authenticated"))
    assert can_bind(world, root, grant("y", "cluster-admin", user("bob"), namespace="a"))


# -- the shipped stacks: the login reaches no one with more rights ---------------------------

@pytest.fixture(scope="module", params=SHIPPED)
def stack(request):
    """A shipped stack with the login as `lab new` sets it (dev and local have none of
    their own): (name, spec, objects)."""
    values = stack_values(request.param)
    login = dict(values.get("gpu-lab:candidate") or {})
    values["gpu-lab:candidate"] = {**login, "login": True}
    spec = build_spec(values, stack=request.param)
    return request.param, spec, ObjectSet(render(values, stack=request.param)
                                          .kubernetes_objects())


def namespaces_of(objects: ObjectSet) -> list[str]:
    return sorted(set(objects.namespaces()) | {"default", "kube-system", "kube-public",
                                                "kube-node-lease"})


def test_the_login_has_no_way_out(stack):
    _, _, objects = stack
    found = reach(objects, ME, safe_pods=SAFE_PODS)
    assert [str(f) for f in found.findings] == []


def test_whoever_the_login_acts_as_may_do_no_more_than_the_login(stack):
    """Every identity on a path from the login (here: the ServiceAccounts of the tenant
    namespaces, through pods it makes) holds no rule the login does not, cluster-wide and in
    every namespace, as Covers compares rules."""
    _, spec, objects = stack
    found = reach(objects, ME, safe_pods=SAFE_PODS)
    assert found.paths, "the login makes pods in the tenant namespaces"
    for path in found.paths:
        extra = exceeds(objects, path.identity, ME, namespaces_of(objects))
        assert extra == [], f"{' -> '.join(path.steps)}: {extra}"


def test_the_login_acts_only_as_the_tenants_service_accounts(stack):
    _, spec, objects = stack
    found = reach(objects, ME, safe_pods=SAFE_PODS)
    expected = {f"system:serviceaccount:{t.namespace}:{sa}" for t in spec.tenants
                for sa in ("default", "workload", "job-submitter", *t.extra_service_accounts)}
    assert {s.user for s in found.identities()} == expected
    assert all(path.steps[0].startswith(("creates pods in", "exec pod", "attach pod",
                                         "changes the image of pod"))
               for path in found.paths), [p.steps for p in found.paths]


FORBIDDEN_EVERYWHERE = (("get", "secrets"), ("list", "secrets"), ("watch", "secrets"),
                        ("create", "secrets"), ("create", "serviceaccounts/token"),
                        ("create", "rolebindings"), ("update", "rolebindings"),
                        ("create", "roles"), ("bind", "roles"), ("escalate", "roles"),
                        ("bind", "clusterroles"), ("escalate", "clusterroles"),
                        ("create", "serviceaccounts"), ("impersonate", "users"),
                        ("impersonate", "groups"), ("impersonate", "serviceaccounts"),
                        ("patch", "pods/ephemeralcontainers"), ("get", "nodes/proxy"))
FORBIDDEN_CLUSTER_WIDE = (("create", "clusterrolebindings"), ("create", "clusterroles"),
                          ("create", "certificatesigningrequests"), ("patch", "namespaces"),
                          ("create", "persistentvolumes"))


def test_no_one_on_a_path_from_the_login_reaches_the_forbidden_list(stack):
    _, spec, objects = stack
    found = reach(objects, ME, safe_pods=SAFE_PODS)
    platform = ("gpu-operator", "monitoring", "kube-system", "default", CANDIDATE_NAMESPACE)
    for who in [ME, *found.identities()]:
        for namespace in [None, *namespaces_of(objects)]:
            for verb, resource in FORBIDDEN_EVERYWHERE:
                answer = can_i(objects, who, verb, resource, namespace, name="x")
                assert not answer, (str(who), answer.reason)
        for verb, resource in FORBIDDEN_CLUSTER_WIDE:
            assert not can_i(objects, who, verb, resource), (str(who), verb, resource)
        for namespace in platform:
            for verb, resource in (("create", "pods/exec"), ("get", "pods/exec"),
                                   ("create", "pods/attach"), ("create", "pods")):
                assert not can_i(objects, who, verb, resource, namespace), \
                    (str(who), verb, resource, namespace)
            for pod in ("nvidia-driver-daemonset-abcde", "gpu-operator-7d9f8-xyz12",
                        "kube-prometheus-stack-prometheus-node-exporter-abcde",
                        "kube-prometheus-stack-grafana-5d8f7c9b6-abcde"):
                assert not can_i(objects, who, "create", "pods/portforward", namespace,
                                 name=pod), (str(who), pod, namespace)


def test_no_secret_and_no_gcp_identity_where_the_login_makes_pods(stack):
    """A pod the login makes may mount any Secret of its namespace and run as any
    ServiceAccount there: the tenant namespaces hold no Secret, and no ServiceAccount there
    carries a GCP identity (Workload Identity) in the shipped stacks."""
    _, spec, objects = stack
    for tenant in spec.tenants:
        if not can_i(objects, ME, "create", "pods", tenant.namespace):
            continue
        assert objects.of_kind("Secret", tenant.namespace) == []
        for sa in objects.of_kind("ServiceAccount", tenant.namespace):
            assert "iam.gke.io/gcp-service-account" not in (
                sa["metadata"].get("annotations") or {}), sa["metadata"]["name"]


# -- the paths are real: each is found when it is open ------------------------------------------

@pytest.fixture(scope="module")
def pairing():
    values = stack_values("pairing")
    return ObjectSet(render(values, stack="pairing").kubernetes_objects())


def with_objects(objects: ObjectSet, *extra: dict) -> ObjectSet:
    return ObjectSet([*copy.deepcopy(objects.objects), *extra])


def findings(objects: ObjectSet) -> list[str]:
    return [str(f) for f in reach(objects, ME, safe_pods=SAFE_PODS).findings]


def login_grant(name, role_name, namespace=None, kind="ClusterRole"):
    return grant(name, role_name, account(CANDIDATE_NAMESPACE, CANDIDATE_ACCOUNT),
                 namespace=namespace, kind=kind)


def test_impersonating_a_tenant_group_is_found_as_the_way_out_it_was(pairing):
    """The login as it was: impersonate dev@example.com and the tenants' groups, which made
    it a tenant admin (Secrets, RoleBindings, ServiceAccounts of that namespace)."""
    opened = with_objects(pairing, cluster_role("was", rule(
        ["impersonate"], ["users"], names=["dev@example.com"]), rule(
        ["impersonate"], ["groups"], names=["tenant-a-admins@example.com",
                                            "tenant-a-developers@example.com"])),
        login_grant("was", "was"))
    found = findings(opened)
    via = "impersonates user dev@example.com with groups tenant-a-admins@example.com"
    assert any(f.startswith(via) and f.endswith("may get Secrets in tenant-a") for f in found)
    assert any(f.startswith(via) and f.endswith("may create rolebindings in tenant-a")
               for f in found)
    assert any(f.startswith(via) and "creates a service-account-token Secret" in f
               for f in found) or any("may create Secrets in tenant-a" in f for f in found)
    admin = impersonated("dev@example.com", ("tenant-a-admins@example.com",))
    assert exceeds(opened, admin, ME, ["tenant-a"])


def test_impersonating_any_group_is_every_right(pairing):
    opened = with_objects(pairing, cluster_role("imp", rule(["impersonate"],
                                                            ["users", "groups"])),
                          login_grant("imp", "imp"))
    found = findings(opened)
    assert "impersonates any group (system:masters: every right)" in found
    assert "impersonates any user (system:admin, system:kube-controller-manager)" in found


def test_a_privileged_service_account_in_a_tenant_namespace_is_found(pairing):
    """No RBAC check on serviceAccountName: a ServiceAccount bound to tenant-admin in a
    namespace where the login makes pods is the login's, with its Secrets and bindings."""
    opened = with_objects(pairing, {"kind": "ServiceAccount",
                                    "metadata": {"name": "ci-admin", "namespace": "tenant-a"}},
                          grant("ci-admin", "tenant-admin", account("tenant-a", "ci-admin"),
                                namespace="tenant-a", kind="Role"))
    found = reach(opened, ME, safe_pods=SAFE_PODS)
    [path] = [p for p in found.paths if p.identity.user.endswith(":tenant-a:ci-admin")]
    assert path.steps == ("creates pods in tenant-a running as ServiceAccount "
                          "tenant-a/ci-admin",)
    assert any(str(f).endswith("may get Secrets in tenant-a") for f in found.findings)
    assert exceeds(opened, path.identity, ME, ["tenant-a"])


def test_a_secret_in_a_tenant_namespace_is_found_through_a_pod_that_mounts_it(pairing):
    opened = with_objects(pairing, {"kind": "Secret", "type": "Opaque", "metadata": {
        "name": "hf-token", "namespace": "tenant-b"}})
    assert "creates pods in tenant-b that mounts Secret tenant-b/hf-token" in findings(opened)


def test_token_requests_and_token_secrets_are_found(pairing):
    tokens = with_objects(pairing, role("t", "tenant-a", rule(
        ["create"], ["serviceaccounts/token"], names=["job-submitter"])),
        login_grant("t", "t", namespace="tenant-a", kind="Role"))
    paths = reach(tokens, ME, safe_pods=SAFE_PODS).paths
    assert any(p.steps == ("requests a token (serviceaccounts/token) of ServiceAccount "
                           "tenant-a/job-submitter",) for p in paths)
    secrets = with_objects(pairing, role("s", "tenant-a", rule(["create"], ["secrets"])),
                           login_grant("s", "s", namespace="tenant-a", kind="Role"))
    assert "may create Secrets in tenant-a" in findings(secrets)


def test_exec_into_the_gpu_operator_and_port_forward_in_monitoring_are_found(pairing):
    """What the login had: exec in gpu-operator (privileged operands, node root) and
    port-forward to any pod of monitoring (node-exporter is on the host network)."""
    opened = with_objects(
        pairing, role("x", "gpu-operator", rule(["create"], ["pods/exec"])),
        login_grant("x", "x", namespace="gpu-operator", kind="Role"),
        role("y", "monitoring", rule(["create"], ["pods/portforward"])),
        login_grant("y", "y", namespace="monitoring", kind="Role"))
    found = findings(opened)
    assert any(f.startswith("exec any pod in gpu-operator, which enforces Pod Security "
                            "'privileged'") for f in found)
    assert any(f.startswith("port-forward any pod in monitoring") for f in found)
    named = with_objects(pairing, role("z", "monitoring", rule(
        ["create"], ["pods/portforward"], names=[PROMETHEUS_POD, "grafana-0"])),
        login_grant("z", "z", namespace="monitoring", kind="Role"))
    assert findings(named) == ["port-forward pod monitoring/grafana-0, not known to be "
                               "unprivileged"]


def test_pods_in_a_privileged_namespace_and_rbac_writes_are_found(pairing):
    opened = with_objects(pairing, role("p", "kube-system", rule(["create"], ["pods"]),
                                        rule(["create"], ["rolebindings"], groups=[RBAC])),
                          login_grant("p", "p", namespace="kube-system", kind="Role"))
    found = findings(opened)
    assert "creates pods in kube-system, which enforces Pod Security 'privileged': a " \
           "privileged pod is root on its node" in found
    assert "may create rolebindings in kube-system" in found


def test_two_hops_and_workload_identity_are_found(pairing):
    """The login makes a pod as a tenant's ServiceAccount that may impersonate a user who
    reads Secrets; and a tenant ServiceAccount that acts as a GCP service account."""
    opened = with_objects(pairing, cluster_role("hop", rule(["impersonate"], ["users"],
                                                            names=["ops@example.com"])),
                          grant("hop", "hop", account("tenant-b", "job-submitter")),
                          cluster_role("secrets", rule(["get"], ["secrets"])),
                          grant("ops", "secrets", user("ops@example.com")))
    found = reach(opened, ME, safe_pods=SAFE_PODS)
    [two] = [f for f in found.findings if f.what == "may get Secrets in tenant-a"]
    assert two.steps == ("creates pods in tenant-b running as ServiceAccount "
                         "tenant-b/job-submitter", "impersonates user ops@example.com")
    annotated = copy.deepcopy(pairing.objects)
    for obj in annotated:
        if obj["kind"] == "ServiceAccount" and obj["metadata"] == {
                **obj["metadata"], "name": "workload", "namespace": "tenant-a"}:
            obj["metadata"]["annotations"] = {
                "iam.gke.io/gcp-service-account": "reader@p.iam.gserviceaccount.com"}
    assert "creates pods in tenant-a running as ServiceAccount tenant-a/workload, which acts " \
           "as GCP service account reader@p.iam.gserviceaccount.com (Workload Identity)" \
           in findings(ObjectSet(annotated))


def test_reach_of_nothing_is_nothing():
    assert reach(ObjectSet([]), ME) == Reach()


# -- lab reset: the tenant namespaces back to exactly what the stack manages ---------------------

TENANT_CREATABLE = {   # (API group, plural): kind, for what one may create in a namespace
    ("", "pods"): "Pod", ("", "services"): "Service", ("", "configmaps"): "ConfigMap",
    ("", "secrets"): "Secret", ("", "persistentvolumeclaims"): "PersistentVolumeClaim",
    ("", "serviceaccounts"): "ServiceAccount", ("", "endpoints"): "Endpoints",
    ("", "replicationcontrollers"): "ReplicationController", ("", "events"): "Event",
    ("", "podtemplates"): "PodTemplate", ("", "limitranges"): "LimitRange",
    ("", "resourcequotas"): "ResourceQuota", ("apps", "deployments"): "Deployment",
    ("apps", "replicasets"): "ReplicaSet", ("apps", "statefulsets"): "StatefulSet",
    ("apps", "daemonsets"): "DaemonSet", ("apps", "controllerrevisions"): "ControllerRevision",
    ("batch", "jobs"): "Job", ("batch", "cronjobs"): "CronJob",
    ("autoscaling", "horizontalpodautoscalers"): "HorizontalPodAutoscaler",
    ("policy", "poddisruptionbudgets"): "PodDisruptionBudget",
    ("networking.k8s.io", "networkpolicies"): "NetworkPolicy",
    ("networking.k8s.io", "ingresses"): "Ingress", (RBAC, "roles"): "Role",
    (RBAC, "rolebindings"): "RoleBinding", ("coordination.k8s.io", "leases"): "Lease",
    ("discovery.k8s.io", "endpointslices"): "EndpointSlice",
    ("monitoring.coreos.com", "podmonitors"): "PodMonitor",
    ("monitoring.coreos.com", "servicemonitors"): "ServiceMonitor",
    ("monitoring.coreos.com", "prometheusrules"): "PrometheusRule",
    ("monitoring.coreos.com", "probes"): "Probe",
}


def members(objects: ObjectSet, namespace: str) -> list[Subject]:
    """Everyone the namespace's RoleBindings name, as the authorizer sees them."""
    found = []
    for binding in objects.of_kind("RoleBinding", namespace):
        for entry in binding.get("subjects") or []:
            if entry["kind"] == "Group":
                found.append(Subject(f"member-of-{entry['name']}",
                                     (entry["name"], "system:authenticated")))
            elif entry["kind"] == "User":
                found.append(Subject(entry["name"], ("system:authenticated",)))
            else:
                found.append(Subject.service_account(entry.get("namespace") or namespace,
                                                     entry["name"]))
    return found


def test_reset_cleans_every_kind_anyone_in_a_tenant_namespace_may_create(stack):
    from lab.stacks import CLEANED_CUSTOM_KINDS, CLEANED_KINDS
    _, spec, objects = stack
    cleaned = {k[0] for k in CLEANED_KINDS} | {k[0] for k in CLEANED_CUSTOM_KINDS}
    for tenant in spec.tenants:
        for who in [ME, *members(objects, tenant.namespace)]:
            for (group_name, plural), kind in TENANT_CREATABLE.items():
                if can_i(objects, who, "create", plural, tenant.namespace,
                         api_group=group_name):
                    assert kind in cleaned, (str(who), kind, tenant.namespace)


def test_everything_the_stack_makes_in_a_tenant_namespace_is_labelled_its_own(stack):
    from lab.stacks import is_managed
    _, spec, objects = stack
    spaces = [t.namespace for t in spec.tenants] + [CANDIDATE_NAMESPACE]
    made = [o for o in objects.objects if o["metadata"].get("namespace") in spaces]
    assert made and [f"{o['kind']} {o['metadata']['name']}" for o in made
                     if not is_managed(o)] == []


def uid(obj: dict) -> str:
    return f"uid-{obj['kind']}-{obj['metadata'].get('namespace')}-{obj['metadata']['name']}"


def owned(kind: str, name: str, namespace: str, owner: dict, labels=None) -> dict:
    """A ReplicaSet, Job or Pod a controller made for `owner`."""
    meta = {"name": name, "namespace": namespace, "labels": labels or {"app": name},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner["kind"],
                                 "name": owner["metadata"]["name"], "uid": uid(owner),
                                 "controller": True}]}
    pod_spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}}


def candidate_made(namespace: str) -> list[dict]:
    """What a candidate (or the login as it was) could leave in a tenant namespace."""
    pod_spec = {"containers": [{"name": "c", "image": "busybox"}]}
    mine = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "mine", "namespace": namespace, "labels": {"app": "mine"}}, "spec": {
        "selector": {"matchLabels": {"app": "mine"}},
        "template": {"metadata": {"labels": {"app": "mine"}}, "spec": pod_spec}}}
    # a copied label does not make it the stack's: the state does not hold it
    fake = copy.deepcopy(mine)
    fake["metadata"].update(name="infer-canary", labels={"app.kubernetes.io/part-of": "gpu-lab"})
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "name": "probe", "namespace": namespace}, "spec": {"template": {"spec": pod_spec}}}
    rs = owned("ReplicaSet", "mine-5d8f7", namespace, mine)
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {
            "name": "eve-admin", "namespace": namespace},
         "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "tenant-admin"},
         "subjects": [user("eve@example.com")]},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ci-bot",
                                                                   "namespace": namespace}},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
         "metadata": {"name": "job-submitter-token", "namespace": namespace, "annotations": {
             "kubernetes.io/service-account.name": "job-submitter"}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "notes",
                                                               "namespace": namespace}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {
            "name": "scratch", "namespace": namespace}, "spec": {"accessModes":
                                                                ["ReadWriteOnce"]}},
        mine, rs, owned("Pod", "mine-5d8f7-abcde", namespace, rs), fake, job,
        owned("Pod", "probe-x1y2z", namespace, job),
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug",
                                                         "namespace": namespace},
         "spec": pod_spec},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {
            "name": "mine", "namespace": namespace}, "spec": {}},
    ]


@pytest.fixture(scope="module")
def cluster():
    """The pairing stack as it runs (the stack's objects with uids, Kubernetes' own, what
    the stack's controllers made) after a candidate: (objects, state, kept, candidate's)."""
    rendering = render(stack_values("pairing"), stack="pairing")
    kept = copy.deepcopy(rendering.kubernetes_objects())
    for obj in kept:
        obj.setdefault("metadata", {})["uid"] = uid(obj)
    state = {"resources": [{"urn": f"urn:{r.name}", "type": r.type, "outputs": r.inputs}
                           for r in rendering.resources if r.type.startswith("kubernetes:")]}
    tenants = ["tenant-a", "tenant-b"]
    for namespace in [*tenants, CANDIDATE_NAMESPACE]:
        kept += [{"apiVersion": "v1", "kind": "ServiceAccount",
                  "metadata": {"name": "default", "namespace": namespace}},
                 {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "kube-root-ca.crt", "namespace": namespace}}]
    for namespace in tenants:
        [infer] = [o for o in kept if o["kind"] == "Deployment"
                   and o["metadata"]["namespace"] == namespace
                   and o["metadata"]["name"] == "infer"]
        rs = owned("ReplicaSet", "infer-7c9d8", namespace, infer)
        rs["metadata"]["uid"] = uid(rs)
        kept += [rs, owned("Pod", "infer-7c9d8-q2w3e", namespace, rs)]
    theirs = [o for namespace in tenants for o in candidate_made(namespace)]
    for obj in theirs:
        obj["metadata"]["uid"] = uid(obj)
    # outside the cleaned namespaces nothing is touched
    elsewhere = [{"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "notes", "namespace": "monitoring"}}]
    return kept + theirs + elsewhere, state, kept + elsewhere, theirs


def test_to_remove_keeps_the_stacks_kubernetes_and_owned_objects(cluster):
    from lab.stacks import managed_in_state, to_remove
    everything, state, kept, theirs = cluster
    spaces = {"tenant-a", "tenant-b", CANDIDATE_NAMESPACE}
    inside = [o for o in everything if o["metadata"].get("namespace") in spaces]
    doomed = to_remove(inside, managed_in_state(state))
    assert sorted(map(uid, doomed)) == sorted(map(uid, theirs))
    # without the state, a copied label is enough to stay: the state is what tells
    assert "infer-canary" in {o["metadata"]["name"] for o in theirs}
    assert "infer-canary" not in {o["metadata"]["name"] for o in to_remove(inside)}


def test_reset_deletes_what_the_stack_does_not_manage_through_the_kubernetes_client(cluster):
    """The real Kubernetes client against the fake API server: afterwards the tenant
    namespaces hold exactly the stack's objects, Kubernetes' own and what they own."""
    from kubernetes import config as kube_config

    from lab.stacks import clean_namespaces, managed_in_state
    from tests.fake_kube_api import FakeKubeAPI
    everything, state, kept, theirs = cluster
    with FakeKubeAPI(copy.deepcopy(everything), {}) as api:
        client = kube_config.new_client_from_config_dict(api.kubeconfig())
        removed = clean_namespaces(client, managed_in_state(state))
        left = api.objects.objects
        deleted = api.deleted
    assert sorted(removed) == sorted(f"{o['kind']} {o['metadata']['namespace']}/"
                                     f"{o['metadata']['name']}" for o in theirs)
    assert sorted(map(uid, left)) == sorted(map(uid, kept))
    assert {options.get("propagationPolicy") for *_, options in deleted} == {"Background"}
    # controllers go before what they own
    order = [(kind, name) for kind, namespace, name, _ in deleted if namespace == "tenant-a"]
    assert order.index(("Deployment", "mine")) < order.index(("ReplicaSet", "mine-5d8f7")) \
        < order.index(("Pod", "mine-5d8f7-abcde"))


def test_reset_cleans_between_refresh_and_up(cluster, monkeypatch):
    """`lab reset`: config, refresh, the tenant namespaces cleaned, then up (the candidate's
    GPU pods would hold the quota the stack's own workloads need to roll out)."""
    from kubernetes import config as kube_config

    from lab import stacks
    from tests.fake_kube_api import FakeKubeAPI
    everything, state, kept, theirs = cluster
    calls = []

    class Stack:
        def get_all_config(self):
            return {}

        def set_all_config(self, config, path=False):
            calls.append("config")

        def refresh(self, on_output=None):
            calls.append("refresh")

        def export_stack(self):
            return type("Deployment", (), {"deployment": state})()

        def up(self, on_output=None, replace=None):
            calls.append(("up", len(api.deleted)))
            return type("UpResult", (), {"outputs": {}})()

    with FakeKubeAPI(copy.deepcopy(everything), {}) as api:
        monkeypatch.setattr(stacks, "require_cli", lambda: "pulumi")
        monkeypatch.setattr(stacks, "_select_stack", lambda name: Stack())
        monkeypatch.setattr(stacks, "recorded_config", lambda name: {"gcp:project": "p"})
        monkeypatch.setattr(stacks, "admin_client", lambda deployment, config:
                            kube_config.new_client_from_config_dict(api.kubeconfig()))
        output, steps = [], []
        result = stacks.reset_stack("alice", output.append, steps.append)
    assert calls == ["config", "refresh", ("up", len(theirs))]
    assert len(result.removed) == len(theirs)
    assert "Removing from the tenant namespaces what the stack does not manage" in steps
    assert "  deleted RoleBinding tenant-a/eve-admin\n" in output


def test_reset_reaches_the_cluster_with_the_interviewers_credentials():
    """The kubeconfig the stack exports, rebuilt from the cluster in its state; none without
    one (the step says the namespaces are left as they are)."""
    from lab.stacks import admin_client
    assert admin_client({"resources": []}, {"gcp:project": "p"}) is None
    state = {"resources": [{"type": "gcp:container/cluster:Cluster", "outputs": {
        "name": "gpu-lab-alice", "endpoint": "203.0.113.10", "project": "p",
        "masterAuth": {"clusterCaCertificate": "Q0E="}}}]}
    client = admin_client(state, {"gcp:project": "p"})
    assert client.configuration.host == "https://203.0.113.10"


def test_a_binding_to_a_role_that_cannot_be_told_is_no_proof(pairing):
    """What a ClusterRole the rendering lacks grants is unknown: a path to a ServiceAccount
    bound to one is a finding, not "no rights"."""
    opened = with_objects(pairing, grant("node", "system:node", account("tenant-a", "workload"),
                                         namespace="tenant-a"))
    assert any(f.startswith("creates pods in tenant-a running as ServiceAccount "
                            "tenant-a/workload -> is bound by RoleBinding/tenant-a/node, and "
                            "ClusterRole system:node is one Kubernetes creates")
               for f in findings(opened))
