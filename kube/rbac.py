"""can_i: would the RBAC authorizer allow this request? Kubernetes semantics, offline.

Covers Roles and ClusterRoles, RoleBindings (including a RoleBinding to a ClusterRole,
which grants it only in that namespace) and ClusterRoleBindings; users, groups and
service accounts (with their system:serviceaccounts[:<ns>] groups); wildcards in verbs,
apiGroups and resources; */subresource; resourceNames; aggregated ClusterRoles; and
impersonation (`kubectl --as/--as-group`, extras, uids) as the API server's impersonation
filter asks it. Beyond single requests: the rules a subject holds and whether they cover
another's (Covers), the escalation checks on writing Roles and bindings (bind, escalate,
ConfirmNoEscalation), and reach(): every identity a subject can act as and every way out
(impersonation, token requests, token Secrets, pods run as any ServiceAccount, exec/attach/
port-forward into privileged pods, RBAC writes). Each part names the upstream file it ports.
Against a live cluster `lab verify` asks the API server itself (SubjectAccessReview).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from kube.answer import Answer
from kube.objects import ObjectSet, ref

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
    "subjectaccessreviews": "authorization.k8s.io",
    "selfsubjectaccessreviews": "authorization.k8s.io",
    "certificatesigningrequests": "certificates.k8s.io",
    # impersonation's resources (users, groups, serviceaccounts) are in the core group
}
SERVICE_ACCOUNT_USER = "system:serviceaccount:"

# The ClusterRoles Kubernetes creates itself (view, edit, admin, cluster-admin and the
# system:aggregate-to-* roles), aggregated as the cluster's controller fills them:
# kube/rbac_roles.py. Objects in the set take precedence.


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
    from kube.rbac_roles import cluster_role_rules
    return cluster_role_rules(objects, name)


def _role_rules(objects: ObjectSet, binding: dict) -> tuple[str, Optional[list[dict]]]:
    role_ref = binding.get("roleRef") or {}
    kind, name = role_ref.get("kind"), role_ref.get("name", "")
    if kind == "ClusterRole":
        return f"ClusterRole {name}", _cluster_role_rules(objects, name)
    namespace = binding.get("metadata", {}).get("namespace")
    role = objects.get("Role", name, namespace)
    return f"Role {namespace}/{name}", (role or {}).get("rules") if role else None


def _bound_rules(objects: ObjectSet, subject: Subject, namespace: Optional[str]):
    """(binding, subject entry, role name, rule) for every rule bound to `subject` in
    `namespace` (None: only ClusterRoleBindings), in the order the authorizer visits them."""
    bindings = objects.of_kind("ClusterRoleBinding")
    if namespace:
        bindings += objects.of_kind("RoleBinding", namespace)
    for binding in bindings:
        entry = bound(subject, binding)
        if entry is None:
            continue
        role_name, rules = _role_rules(objects, binding)
        for rule in rules or []:
            yield binding, entry, role_name, rule


def can_i(objects: ObjectSet, subject: Subject, verb: str, resource: str,
          namespace: Optional[str] = None, name: Optional[str] = None,
          api_group: Optional[str] = None) -> Answer:
    """Like `kubectl auth can-i VERB RESOURCE[/SUB] [NAME] -n NAMESPACE --as ...`."""
    group, base, subresource = parse_resource(resource, api_group)
    for binding, entry, role_name, rule in _bound_rules(objects, subject, namespace):
        if rule_allows(rule, verb, group, base, subresource, name):
            return Answer(True, f"{ref(binding)} binds {entry['kind']} {entry['name']} "
                                f"to {role_name}, whose rule {_rule_text(rule)} allows it")
    where = f"in namespace {namespace}" if namespace else "cluster-wide"
    what = f"{verb} {resource}" + (f" {name}" if name else "")
    return Answer(False, f"no binding grants {subject} {what} {where}")


# -- impersonation: `kubectl --as/--as-group`, as the API server's filter authorizes it --------
# Ported from staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation/impersonation.go
# (WithImpersonation, buildImpersonationRequests) and serviceaccount.SplitUsername
# (staging/src/k8s.io/apiserver/pkg/authentication/serviceaccount/util.go).

AUTHENTICATION_GROUP = "authentication.k8s.io"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _dns_label(text: str) -> bool:
    return len(text) <= 63 and _DNS_LABEL.fullmatch(text) is not None


def _dns_subdomain(text: str) -> bool:
    return len(text) <= 253 and all(_dns_label(part) for part in text.split("."))


def split_service_account_user(user: str) -> Optional[tuple[str, str]]:
    """(namespace, name) of system:serviceaccount:<ns>:<name>, or None when `user` is not a
    valid service account user name (the API server then takes it as an ordinary user)."""
    if not user.startswith(SERVICE_ACCOUNT_USER):
        return None
    parts = user.removeprefix(SERVICE_ACCOUNT_USER).split(":")
    if len(parts) != 2 or not _dns_label(parts[0]) or not _dns_subdomain(parts[1]):
        return None
    return parts[0], parts[1]


@dataclass(frozen=True)
class ImpersonationRequest:
    """One thing the filter authorizes with verb impersonate."""
    resource: str                     # users, groups, serviceaccounts, userextras, uids
    name: str
    namespace: Optional[str] = None   # a service account's namespace
    api_group: str = ""               # authentication.k8s.io for userextras and uids
    subresource: str = ""             # the extra's key, for userextras

    def __str__(self) -> str:
        what = self.resource + (f"/{self.subresource}" if self.subresource else "")
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{what} {self.name}{where}"


class ImpersonationError(ValueError):
    """The request is refused before anything is authorized (HTTP 400)."""


def impersonation_requests(user: Optional[str], groups: tuple[str, ...] = (),
                           extras: Optional[dict[str, list[str]]] = None,
                           uid: Optional[str] = None) -> list[ImpersonationRequest]:
    """What the API server authorizes, verb impersonate, for `--as=user --as-group=g...`
    (and Impersonate-Extra-*, Impersonate-Uid): a service account's user name as
    serviceaccounts in its namespace, any other user as users, each group as groups, each
    extra value as userextras/<key> and the uid as uids (authentication.k8s.io). Groups,
    extras or a uid without a user are refused (ImpersonationError)."""
    requests: list[ImpersonationRequest] = []
    if user:
        account = split_service_account_user(user)
        requests.append(ImpersonationRequest("serviceaccounts", account[1], account[0])
                        if account else ImpersonationRequest("users", user))
    requests += [ImpersonationRequest("groups", group) for group in groups]
    for key, values in (extras or {}).items():
        requests += [ImpersonationRequest("userextras", value, api_group=AUTHENTICATION_GROUP,
                                          subresource=key.lower()) for value in values]
    if uid:
        requests.append(ImpersonationRequest("uids", uid, api_group=AUTHENTICATION_GROUP))
    if (groups or extras or uid) and not user:
        raise ImpersonationError(f"requested {', '.join(map(str, requests))} without "
                                 f"impersonating a user")
    return requests


def can_impersonate(objects: ObjectSet, subject: Subject, user: Optional[str],
                    groups: tuple[str, ...] = (),
                    extras: Optional[dict[str, list[str]]] = None,
                    uid: Optional[str] = None) -> Answer:
    """Like `kubectl ... --as=user --as-group=g`: may `subject` act as them? Every requested
    identity must be allowed; groups, extras or a uid alone (no user) are refused."""
    try:
        requests = impersonation_requests(user, groups, extras, uid)
    except ImpersonationError as err:
        return Answer(False, str(err))
    reasons = []
    for request in requests:
        resource = request.resource + (f"/{request.subresource}" if request.subresource
                                       else "")
        answer = can_i(objects, subject, "impersonate", resource, request.namespace,
                       name=request.name, api_group=request.api_group)
        if not answer:
            return Answer(False, f"cannot impersonate {request}: {answer.reason}")
        reasons.append(answer.reason)
    return Answer(True, "; ".join(reasons) or "nothing to impersonate")


def impersonated(user: str, groups: tuple[str, ...] = ()) -> Subject:
    """Who the API server takes the request to come from once impersonation is allowed: a
    service account impersonated without groups gets its fixed groups; a user other than
    system:anonymous gets system:authenticated unless system:authenticated or
    system:unauthenticated was asked for; system:anonymous gets system:unauthenticated.
    (Extras and the uid are carried too; RBAC looks at neither.)"""
    account = split_service_account_user(user)
    if account and not groups:
        found = ["system:serviceaccounts", f"system:serviceaccounts:{account[0]}"]
    else:
        found = list(groups)
    if user != ANONYMOUS:
        if ALL_AUTHENTICATED not in found and ALL_UNAUTHENTICATED not in found:
            found.append(ALL_AUTHENTICATED)
    elif ALL_UNAUTHENTICATED not in found:
        found.append(ALL_UNAUTHENTICATED)
    return Subject(user=user, groups=tuple(found))


def _rule_text(rule: dict) -> str:
    parts = [f"{key}=" + (",".join(rule[key]) or '""') for key in
             ("verbs", "apiGroups", "resources", "resourceNames") if rule.get(key) is not None]
    return "{" + " ".join(parts) + "}"


def cluster_wide_grants(objects: ObjectSet) -> list[tuple[str, str]]:
    """(ClusterRoleBinding, subject) for every subject bound cluster-wide."""
    return [(ref(b), f"{s.get('kind')} {s.get('name')}")
            for b in objects.of_kind("ClusterRoleBinding") for s in b.get("subjects") or []]


# -- the rules a subject holds, and whether they cover others' ------------------------------
# Ported from pkg/registry/rbac/validation/rule.go (VisitRulesFor, ConfirmNoEscalation) and
# pkg/registry/rbac/validation/policy_comparator.go (Covers, BreakdownRule, ruleCovers).

def rules_for(objects: ObjectSet, subject: Subject,
              namespace: Optional[str]) -> list[tuple[str, dict]]:
    """(source, rule) for every rule that applies to `subject` in `namespace` (None: only
    what ClusterRoleBindings grant), in the order the authorizer visits them."""
    return [(f"{ref(binding)} ({role_name})", rule)
            for binding, _, role_name, rule in _bound_rules(objects, subject, namespace)]


def breakdown_rule(rule: dict) -> list[dict]:
    """A rule as rules of one API group, resource, verb and name each (BreakdownRule)."""
    subrules = []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in rule.get("verbs") or []:
                names = rule.get("resourceNames") or []
                subrules += [{"apiGroups": [group], "resources": [resource], "verbs": [verb],
                              **({"resourceNames": [n]} if n is not None else {})}
                             for n in (names or [None])]
    for url in rule.get("nonResourceURLs") or []:
        subrules += [{"nonResourceURLs": [url], "verbs": [verb]}
                     for verb in rule.get("verbs") or []]
    return subrules


def _has_all(owner: list[str], wanted: list[str]) -> bool:
    return set(wanted) <= set(owner)


def non_resource_url_covers(owner: str, requested: str) -> bool:
    return owner == requested or (owner.endswith("*") and
                                  requested.startswith(owner.rstrip("*")))


def _resources_cover(owner: list[str], wanted: list[str]) -> bool:
    if "*" in owner or _has_all(owner, wanted):
        return True
    for resource in wanted:
        if resource in owner:
            continue
        if "/" not in resource or f"*/{resource.split('/', 1)[1]}" not in owner:
            return False
    return True


def rule_covers(owner: dict, sub: dict) -> bool:
    """Does `owner` allow everything `sub` (one verb, resource and name) allows (ruleCovers)?"""
    verbs, groups = owner.get("verbs") or [], owner.get("apiGroups") or []
    names, sub_names = owner.get("resourceNames") or [], sub.get("resourceNames") or []
    return (("*" in verbs or _has_all(verbs, sub.get("verbs") or []))
            and ("*" in groups or _has_all(groups, sub.get("apiGroups") or []))
            and _resources_cover(owner.get("resources") or [], sub.get("resources") or [])
            and all(any(non_resource_url_covers(o, url)
                        for o in owner.get("nonResourceURLs") or [])
                    for url in sub.get("nonResourceURLs") or [])
            and (not names if not sub_names else (not names or _has_all(names, sub_names))))


def covers(owner_rules: list[dict], servant_rules: list[dict]) -> tuple[bool, list[dict]]:
    """(do owner_rules allow all servant_rules allow, the broken-down rules they do not)."""
    uncovered = [sub for rule in servant_rules for sub in breakdown_rule(rule)
                 if not any(rule_covers(owner, sub) for owner in owner_rules)]
    return not uncovered, uncovered


def escalation_allowed(subject: Subject) -> bool:
    """system:masters may grant anything (pkg/registry/rbac/escalation_check.go)."""
    return "system:masters" in subject.groups


def confirm_no_escalation(objects: ObjectSet, subject: Subject, namespace: Optional[str],
                          rules: list[dict]) -> Answer:
    """ConfirmNoEscalation: does `subject` already hold every rule it would grant?"""
    ok, missing = covers([rule for _, rule in rules_for(objects, subject, namespace)], rules)
    if ok:
        return Answer(True, f"{subject} already holds every rule it grants")
    return Answer(False, f"{subject} is attempting to grant RBAC permissions not currently "
                         f"held: {', '.join(_rule_text(m) for m in missing[:5])}"
                  + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))


def role_ref_rules(objects: ObjectSet, role_ref: dict,
                   namespace: Optional[str]) -> Optional[list[dict]]:
    """GetRoleReferenceRules: the rules a binding in `namespace` would grant (None: no such
    role)."""
    if role_ref.get("kind") == "ClusterRole":
        return _cluster_role_rules(objects, role_ref.get("name", ""))
    if not namespace:
        return None
    role = objects.get("Role", role_ref.get("name", ""), namespace)
    return None if role is None else list(role.get("rules") or [])


def can_bind(objects: ObjectSet, subject: Subject, binding: dict) -> Answer:
    """May `subject` create this RoleBinding or ClusterRoleBinding? It needs create on the
    binding, then one of: system:masters (EscalationAllowed), `bind` on the role it refers
    to (BindingAuthorized, checked in the binding's namespace), or holding every rule the
    role grants (ConfirmNoEscalation) — pkg/registry/rbac/rolebinding/policybased/storage.go
    and clusterrolebinding/policybased/storage.go."""
    cluster = binding.get("kind") == "ClusterRoleBinding"
    namespace = None if cluster else binding.get("metadata", {}).get("namespace")
    create = can_i(objects, subject, "create",
                   "clusterrolebindings" if cluster else "rolebindings", namespace,
                   api_group=RBAC_GROUP)
    if not create:
        return create
    if escalation_allowed(subject):
        return Answer(True, f"{subject} is in system:masters")
    role_ref = binding.get("roleRef") or {}
    kind = role_ref.get("kind")
    bind = can_i(objects, subject, "bind", "clusterroles" if kind == "ClusterRole" else "roles",
                 namespace, name=role_ref.get("name"), api_group=RBAC_GROUP)
    if bind:
        return Answer(True, f"may bind {kind} {role_ref.get('name')}: {bind.reason}")
    rules = role_ref_rules(objects, role_ref, namespace)
    if rules is None:
        return Answer(False, f"{kind} {role_ref.get('name')} not found")
    return confirm_no_escalation(objects, subject, namespace, rules)


def can_write_role(objects: ObjectSet, subject: Subject, role: dict,
                   verb: str = "create") -> Answer:
    """May `subject` create (or update) this Role or ClusterRole? `verb` on it, then
    system:masters, `escalate` on it (RoleEscalationAuthorized) or holding every rule it
    has (ConfirmNoEscalation) — pkg/registry/rbac/role/policybased/storage.go."""
    cluster = role.get("kind") == "ClusterRole"
    namespace = None if cluster else role.get("metadata", {}).get("namespace")
    resource = "clusterroles" if cluster else "roles"
    name = None if verb == "create" else role.get("metadata", {}).get("name")
    allowed = can_i(objects, subject, verb, resource, namespace, name=name,
                    api_group=RBAC_GROUP)
    if not allowed:
        return allowed
    if escalation_allowed(subject):
        return Answer(True, f"{subject} is in system:masters")
    escalate = can_i(objects, subject, "escalate", resource, namespace,
                     name=role.get("metadata", {}).get("name"), api_group=RBAC_GROUP)
    if escalate:
        return escalate
    return confirm_no_escalation(objects, subject, namespace, list(role.get("rules") or []))


def exceeds(objects: ObjectSet, who: Subject, than: Subject,
            namespaces: list[str]) -> list[str]:
    """What `who` may do that `than` may not, cluster-wide and in each namespace, as
    Covers compares them (empty: acting as `who` gains `than` nothing)."""
    found = []
    for namespace in [None, *namespaces]:
        ok, missing = covers([r for _, r in rules_for(objects, than, namespace)],
                             [r for _, r in rules_for(objects, who, namespace)])
        where = f"in {namespace}" if namespace else "cluster-wide"
        found += [f"{where}: {_rule_text(m)}" for m in missing]
    return found


# -- escalation paths: who else a subject can act as, and what lets it out ----------------------
# Kubernetes checks no RBAC on a pod's serviceAccountName or on the Secrets it mounts (the
# ServiceAccount admission plugin only wants them to exist), so whoever may create pods, or
# anything that makes pods, in a namespace acts as every ServiceAccount there and reads every
# Secret there. The paths below are those of the API server's own rules: impersonation,
# TokenRequest, service-account-token Secrets, workloads, exec/attach/port-forward, RBAC writes.

WORKLOAD_RESOURCES = (("", "pods"), ("", "replicationcontrollers"), ("apps", "deployments"),
                      ("apps", "replicasets"), ("apps", "statefulsets"),
                      ("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs"))
CONNECT_VERBS = ("create", "get")      # SPDY (POST) or WebSocket (GET)
POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"
GCP_IDENTITY = "iam.gke.io/gcp-service-account"
# Namespaces every cluster has, whether or not the rendered objects name them.
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# Cluster-scoped writes that lead out of any namespace: (verbs, group, resource, what).
_WRITE = ("create", "update", "patch", "delete", "deletecollection")
CLUSTER_POWERS = (
    (("get", "create"), "", "nodes/proxy", "the kubelet API of every node (exec in any pod)"),
    (("create",), "certificates.k8s.io", "certificatesigningrequests",
     "client certificates for any identity, once approved"),
    (("update", "patch"), "certificates.k8s.io", "certificatesigningrequests/approval",
     "approves certificate requests"),
    (_WRITE, "admissionregistration.k8s.io", "validatingwebhookconfigurations",
     "admission webhooks (sees and rejects every request)"),
    (_WRITE, "admissionregistration.k8s.io", "mutatingwebhookconfigurations",
     "admission webhooks (rewrites every object)"),
    (("create", "update", "patch"), "", "namespaces",
     "namespace labels (Pod Security levels)"),
    (("create", "update", "patch"), "", "persistentvolumes", "host paths of nodes"),
    (("create", "update", "patch", "delete"), "", "nodes", "nodes (labels, taints)"),
)


def pod_security_level(objects: ObjectSet, namespace: str) -> str:
    """The Pod Security level a namespace enforces: its label, else the admission default,
    privileged."""
    return objects.namespace_labels(namespace).get(POD_SECURITY_ENFORCE, "privileged")


def _service_accounts(objects: ObjectSet, namespace: str) -> list[dict]:
    """The namespace's ServiceAccounts, with `default` (Kubernetes makes one in every
    namespace)."""
    accounts = list(objects.of_kind("ServiceAccount", namespace))
    if not any(a["metadata"].get("name") == "default" for a in accounts):
        accounts.append({"kind": "ServiceAccount",
                         "metadata": {"name": "default", "namespace": namespace}})
    return accounts


def _pods(objects: ObjectSet, namespace: str) -> list[dict]:
    """Pods in the namespace, and the pods its Deployments and Jobs make."""
    return objects.of_kind("Pod", namespace) + [pod for _, pod, _ in objects.workload_pods()
                                                if pod["metadata"].get("namespace") == namespace]


def pod_escapes(pod_spec: dict) -> list[str]:
    """What in a pod's spec reaches its node (the checks Pod Security `baseline` refuses:
    host namespaces, host paths, privileged containers, host ports)."""
    found = [f"{field}" for field in ("hostNetwork", "hostPID", "hostIPC")
             if pod_spec.get(field)]
    found += [f"hostPath volume {v.get('name')}" for v in pod_spec.get("volumes") or []
              if "hostPath" in v]
    for container in [*(pod_spec.get("initContainers") or []),
                      *(pod_spec.get("containers") or []),
                      *(pod_spec.get("ephemeralContainers") or [])]:
        if (container.get("securityContext") or {}).get("privileged"):
            found.append(f"privileged container {container.get('name')}")
    return found


def _mounted_secrets(pod_spec: dict) -> list[str]:
    names = [v["secret"].get("secretName") for v in pod_spec.get("volumes") or []
             if "secret" in v]
    for volume in pod_spec.get("volumes") or []:
        names += [s["secret"].get("name") for s in (volume.get("projected") or {}).get(
            "sources") or [] if "secret" in s]
    for container in [*(pod_spec.get("initContainers") or []),
                      *(pod_spec.get("containers") or [])]:
        names += [e["valueFrom"]["secretKeyRef"].get("name") for e in container.get("env") or []
                  if "secretKeyRef" in (e.get("valueFrom") or {})]
        names += [e["secretRef"].get("name") for e in container.get("envFrom") or []
                  if "secretRef" in e]
    return sorted({n for n in names if n})


def _token_mounted(objects: ObjectSet, namespace: str, pod_spec: dict) -> bool:
    if "automountServiceAccountToken" in pod_spec:
        return bool(pod_spec["automountServiceAccountToken"])
    account = objects.get("ServiceAccount", pod_spec.get("serviceAccountName") or "default",
                          namespace) or {}
    return account.get("automountServiceAccountToken", True) is not False


def allowed_names(objects: ObjectSet, subject: Subject, verbs: tuple[str, ...], group: str,
                  resource: str, namespace: Optional[str]) -> Optional[set[str]]:
    """The names `subject` may act on with any of `verbs`: None for every name, an empty set
    for none (the rules' resourceNames, as RBAC matches them)."""
    base, _, subresource = resource.partition("/")
    names: set[str] = set()
    for _, rule in rules_for(objects, subject, namespace):
        for verb in verbs:
            if not rule_allows({**rule, "resourceNames": []}, verb, group, base, subresource,
                               None):
                continue
            if not rule.get("resourceNames"):
                return None
            names |= set(rule["resourceNames"])
    return names


@dataclass(frozen=True)
class Path:
    """An identity `start` can act as, and how (one step per hop)."""
    identity: Subject
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Finding:
    """A way out: something the start (or someone it acts as) can do that leads beyond the
    exercise."""
    what: str
    steps: tuple[str, ...] = ()

    def __str__(self) -> str:
        return " -> ".join([*self.steps, self.what])


@dataclass
class Reach:
    paths: list[Path] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def identities(self) -> list[Subject]:
        return [p.identity for p in self.paths]


def _moves(objects: ObjectSet, who: Subject, namespaces: list[str],
           safe_pods: dict[str, set[str]]) -> tuple[list[tuple[Subject, str]], list[str]]:
    """(identities `who` can act as next, with how) and findings, in one step."""
    moves: list[tuple[Subject, str]] = []
    findings: list[str] = []

    def answer(verb, resource, namespace, name=None, group=None) -> bool:
        return bool(can_i(objects, who, verb, resource, namespace, name=name, api_group=group))

    # Impersonation: users and groups are asked for cluster-wide, service accounts in their
    # namespace; RBAC ignores extras and uids.
    users = allowed_names(objects, who, ("impersonate",), "", "users", None)
    groups = allowed_names(objects, who, ("impersonate",), "", "groups", None)
    if users is None:
        findings.append("impersonates any user (system:admin, system:kube-controller-manager)")
    if groups is None:
        findings.append("impersonates any group (system:masters: every right)")
    group_names = tuple(sorted(groups or ()))
    if "system:masters" in group_names:
        findings.append("impersonates group system:masters (every right)")
    impersonable = [(u, f"impersonates user {u}") for u in sorted(users or ())]
    for namespace in namespaces:
        accounts = allowed_names(objects, who, ("impersonate",), "", "serviceaccounts",
                                 namespace)
        for account in _service_accounts(objects, namespace):
            name = account["metadata"]["name"]
            if accounts is None or name in accounts:
                impersonable.append((f"{SERVICE_ACCOUNT_USER}{namespace}:{name}",
                                     f"impersonates ServiceAccount {namespace}/{name}"))
    for user, how in impersonable:
        moves.append((impersonated(user), how))
        if group_names:
            moves.append((impersonated(user, group_names),
                          f"{how} with groups {', '.join(group_names)}"))

    for namespace in namespaces:
        accounts = _service_accounts(objects, namespace)
        secrets = sorted(s["metadata"]["name"] for s in objects.of_kind("Secret", namespace))
        level = pod_security_level(objects, namespace)

        def as_account(account: dict, how: str) -> None:
            name = account["metadata"]["name"]
            moves.append((Subject.service_account(namespace, name),
                          f"{how} ServiceAccount {namespace}/{name}"))
            gcp = (account["metadata"].get("annotations") or {}).get(GCP_IDENTITY)
            if gcp:
                findings.append(f"{how} ServiceAccount {namespace}/{name}, which acts as GCP "
                                f"service account {gcp} (Workload Identity)")

        tokens = allowed_names(objects, who, ("create",), "", "serviceaccounts/token",
                               namespace)
        for account in accounts:
            if tokens is None or account["metadata"]["name"] in tokens:
                as_account(account, "requests a token (serviceaccounts/token) of")
        for verb in ("get", "list", "watch"):
            if answer(verb, "secrets", namespace, group=""):
                findings.append(f"may {verb} Secrets in {namespace}")
        if answer("create", "secrets", namespace, group=""):
            findings.append(f"may create Secrets in {namespace}")
            for account in accounts:
                as_account(account, "creates a service-account-token Secret for")
        makes = [f"{g + '/' if g else ''}{r}" for g, r in WORKLOAD_RESOURCES
                 if answer("create", r, namespace, group=g)]
        if makes:
            how = f"creates {makes[0]} in {namespace} running as"
            for account in accounts:
                as_account(account, how)
            findings += [f"creates {makes[0]} in {namespace} that mounts Secret "
                         f"{namespace}/{s}" for s in secrets]
            if level == "privileged":
                findings.append(f"creates {makes[0]} in {namespace}, which enforces Pod "
                                f"Security 'privileged': a privileged pod is root on its node")
        # exec, attach, port-forward, ephemeral containers, image updates: existing pods.
        reach_in = {
            "exec": allowed_names(objects, who, CONNECT_VERBS, "", "pods/exec", namespace),
            "attach": allowed_names(objects, who, CONNECT_VERBS, "", "pods/attach", namespace),
            "adds an ephemeral container to": allowed_names(
                objects, who, ("update", "patch"), "", "pods/ephemeralcontainers", namespace),
            "changes the image of": allowed_names(objects, who, ("update", "patch"), "",
                                                  "pods", namespace),
        }
        forward = allowed_names(objects, who, CONNECT_VERBS, "", "pods/portforward", namespace)
        safe = safe_pods.get(namespace, set())
        for how, names in [*reach_in.items(), ("port-forward", forward)]:
            if names is None and level == "privileged":
                findings.append(f"{how} any pod in {namespace}, which enforces Pod Security "
                                f"'privileged' (its pods may run privileged, on the host "
                                f"network)")
            elif names:
                findings += [f"{how} pod {namespace}/{n}, not known to be unprivileged"
                             for n in sorted(names - safe) if level == "privileged"]
        for pod in _pods(objects, namespace):
            spec, name = pod.get("spec") or {}, pod["metadata"].get("name", "")
            for how, names in reach_in.items():
                if names is not None and name not in names:
                    continue
                escapes = pod_escapes(spec)
                if escapes:
                    findings.append(f"{how} pod {namespace}/{name}: {', '.join(escapes)}")
                findings += [f"{how} pod {namespace}/{name}, which mounts Secret "
                             f"{namespace}/{s}" for s in _mounted_secrets(spec)]
                if _token_mounted(objects, namespace, spec):
                    account = spec.get("serviceAccountName") or "default"
                    as_account(objects.get("ServiceAccount", account, namespace) or
                               {"metadata": {"name": account}},
                               f"{how} pod {namespace}/{name}, which holds the token of")
        for resource in ("roles", "rolebindings"):
            for verb in (*_WRITE, "bind", "escalate"):
                if answer(verb, resource, namespace, group=RBAC_GROUP):
                    findings.append(f"may {verb} {resource} in {namespace}")

    for resource in ("clusterroles", "clusterrolebindings"):
        for verb in (*_WRITE, "bind", "escalate"):
            if answer(verb, resource, None, group=RBAC_GROUP):
                findings.append(f"may {verb} {resource}")
    for verbs, group, resource, what in CLUSTER_POWERS:
        held = [v for v in verbs if answer(v, resource, None, group=group)]
        if held:
            findings.append(f"may {'/'.join(held)} {resource}: {what}")
    if escalation_allowed(who):
        findings.append("is in system:masters (every right)")
    # A binding to a ClusterRole whose rules this state cannot tell hides what it grants.
    from kube.rbac_roles import unknown_cluster_role
    for binding in objects.of_kind("ClusterRoleBinding") + objects.of_kind("RoleBinding"):
        role_ref = binding.get("roleRef") or {}
        if role_ref.get("kind") == "ClusterRole" and bound(who, binding) is not None:
            unknown = unknown_cluster_role(objects, role_ref.get("name", ""))
            if unknown:
                findings.append(f"is bound by {ref(binding)}, and {unknown}")
    return moves, findings


def reach(objects: ObjectSet, start: Subject, namespaces: tuple[str, ...] = (),
          safe_pods: Optional[dict[str, set[str]]] = None, max_hops: int = 4) -> Reach:
    """Every identity `start` can act as (by impersonation, tokens, workloads, exec into
    pods), hop after hop, and every finding on the way. `namespaces`: those to look in
    besides the ones the objects name and every cluster's own; `safe_pods`: per namespace,
    pods known to run unprivileged (named connects to them are no finding)."""
    spaces = sorted(set(objects.namespaces()) | set(BUILTIN_NAMESPACES) | set(namespaces)
                    | {b["metadata"]["namespace"] for b in objects.of_kind("RoleBinding")
                       if b.get("metadata", {}).get("namespace")})
    result = Reach()
    seen = {start}
    frontier = [(start, ())]
    for _ in range(max_hops + 1):
        next_frontier = []
        for who, steps in frontier:
            moves, findings = _moves(objects, who, spaces, safe_pods or {})
            result.findings += [Finding(f, steps) for f in findings]
            for identity, how in moves:
                if identity not in seen:
                    seen.add(identity)
                    result.paths.append(Path(identity, (*steps, how)))
                    next_frontier.append((identity, (*steps, how)))
        frontier = next_frontier
        if not frontier:
            break
    return result
