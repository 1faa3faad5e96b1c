"""A RoleBinding in one tenant's namespace lets another tenant's developers read its pods."""

from faults import edit, parts
from faults.base import Fault, Param, Unmet
from model.spec import RoleBindingSpec

BINDING = "dashboard-viewers"


def inject(spec, reader, target):
    if reader == target:
        raise Unmet("target", target, "must differ from reader")
    readers = edit.find_tenant(spec, reader, "reader")
    victim = edit.find_tenant(spec, target, "target")
    if not readers.developer_groups:
        raise Unmet("reader", reader, "needs a tenant with developerGroups: the leaked binding "
                    "names the reader's developer groups")
    # Looks like a harmless convenience: the built-in "view" role, for a dashboard team.
    leak = RoleBindingSpec(name=BINDING, role="view", role_kind="ClusterRole",
                           groups=readers.developer_groups)
    return edit.tenant(spec, target, role_bindings=victim.role_bindings + (leak,))


def details(spec, reader, target):
    return {"group": edit.find_tenant(spec, reader, "reader").developer_groups[0],
            "binding": BINDING}


FAULT = Fault(
    id="rbac-cross-tenant-read",
    title="{reader} can read {target}'s pods",
    part=parts.PAIRING_4,
    layer="tenant",
    params=(Param("reader", "tenant", "tenant-a", "the tenant whose developers get in"),
            Param("target", "tenant", "tenant-b", "the tenant whose pods they can read")),
    task="A user in {reader} can list pods from {target}. Investigate why and fix it in the "
         "infrastructure code.",
    symptom="kubectl create -o yaml -f - <<EOF   # may a {reader} developer list {target}'s pods?\n"
            "apiVersion: authorization.k8s.io/v1\n"
            "kind: SubjectAccessReview\n"
            "spec:\n"
            "  user: dev@example.com\n"
            "  groups: [\"{group}\"]\n"
            "  resourceAttributes: {{namespace: {target}, verb: list, resource: pods}}\n"
            "EOF\n"
            "status: allowed: true, reason: RBAC: allowed by RoleBinding \"{binding}/{target}\" "
            "...\n"
            "kubectl get rolebindings -n {target} -o wide\n"
            "NAME                ROLE                    ... GROUPS\n"
            "{binding}   ClusterRole/view        ... {group}",
    hints=("Ask the API server what a {reader} developer may do in {target}: a "
           "SubjectAccessReview for a user in {group}.",
           "List the RoleBindings in {target} and look at every subject, not only the ones "
           "named after {target}.",
           "The binding {binding} grants the built-in ClusterRole view to {group}; it is "
           "one of {target}'s roleBindings in gpu-lab:tenants."),
    fix="Remove the {binding} RoleBinding from {target}'s roleBindings in the stack config "
        "and apply it (`gpu-lab apply`); the same SubjectAccessReview then "
        "answers allowed: false. Bindings in a tenant namespace should only "
        "name that tenant's groups and service accounts.",
    look_for="Asks the API server (a SubjectAccessReview, or kubectl auth can-i --as with an "
             "admin's login) rather than guessing; reads RoleBinding "
             "subjects and roleRef (a RoleBinding to a ClusterRole is namespaced); fixes it in code, "
             "not with kubectl delete; mentions least privilege and reviewing bindings per tenant.",
    check="cross-tenant-access",
    inject=inject,
    targets=lambda spec, reader, target: {f"rbac:{target}"},
    details=details,
)
