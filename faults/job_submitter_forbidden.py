"""A tenant's CI service account is bound in the wrong namespace: it cannot create Jobs."""

from dataclasses import replace

from faults import edit, parts
from faults.base import Fault, Param, Unmet

WRONG_NAMESPACE = "default"


def inject(spec, tenant):
    owner = edit.find_tenant(spec, tenant)
    bindings = []
    found = False
    for binding in owner.role_bindings:
        if binding.name == "job-submitter":
            found = True
            binding = replace(binding, service_accounts=tuple(
                f"{WRONG_NAMESPACE}/{sa.rpartition('/')[2]}" for sa in binding.service_accounts))
        bindings.append(binding)
    if not found:
        raise Unmet("tenant", tenant, "has no job-submitter binding to break")
    return edit.tenant(spec, tenant, role_bindings=tuple(bindings))


FAULT = Fault(
    id="job-submitter-forbidden",
    title="{tenant}'s CI identity cannot create Jobs",
    part=parts.SCENARIO_8,
    layer="tenant",
    params=(Param("tenant", "tenant", "tenant-a", "the tenant whose CI is locked out"),),
    task="CI in {tenant} submits GPU Jobs as the service account job-submitter, and every "
         "submission is rejected. Find out why and fix it in the infrastructure code.",
    symptom="CI's log: Error from server (Forbidden): jobs.batch is forbidden: User "
            "\"system:serviceaccount:{tenant}:job-submitter\" cannot create resource \"jobs\" in "
            "API group \"batch\" in the namespace \"{tenant}\"\n"
            "kubectl describe role job-submitter -n {tenant}      # jobs: create is granted\n"
            "kubectl get rolebinding job-submitter -n {tenant} -o yaml   # read the subject",
    hints=("The Role job-submitter exists and allows creating Jobs. Who is it bound to?",
           "kubectl get rolebinding job-submitter -n {tenant} -o yaml: read the subject "
           "carefully, every field.",
           "The subject is the service account job-submitter in namespace " + WRONG_NAMESPACE +
           ", not in {tenant}."),
    fix="Bind the Role to the ServiceAccount job-submitter in namespace {tenant}: in the "
        "tenant's job-submitter entry of roleBindings, serviceAccounts " + WRONG_NAMESPACE +
        "/job-submitter becomes job-submitter; apply it (`gpu-lab apply`); with an admin "
        "kubeconfig, `kubectl auth can-i create jobs -n {tenant} "
        "--as=system:serviceaccount:{tenant}:job-submitter` says yes.",
    look_for="Reasons about the service account's full user name "
             "(system:serviceaccount:<namespace>:<name>) from the error; knows that "
             "ServiceAccount subjects are namespaced; keeps the grant namespace-scoped (a "
             "RoleBinding, not a ClusterRoleBinding to cluster-admin) while fixing it.",
    check="job-submission-forbidden",
    inject=inject,
    targets=lambda spec, tenant: {f"rbac-ci:{tenant}"},
)
