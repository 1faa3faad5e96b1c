"""A tenant's GPU quota uses a key Kubernetes accepts but never enforces, and its workload
takes more GPUs than the tenant is allocated."""

from faults import edit, parts
from faults.base import Fault, Param, Unmet
from model.frozen import FrozenDict
from model.spec import GPU_QUOTA_KEYS

UNENFORCED_KEY = "limits.nvidia.com/gpu"


def inject(spec, tenant, workload):
    owner = edit.find_tenant(spec, tenant)
    job, _ = edit.gpu_workload(spec, workload)
    if job.tenant != tenant:
        raise Unmet("workload", workload, f"must be a workload of tenant {tenant}")
    spec = edit.tenant(spec, tenant, quota_hard=unenforced(owner))
    return edit.workload(spec, workload, replicas=replicas_beyond(spec, owner, job))


def unenforced(owner):
    """The tenant's quota.hard with its GPU entry under UNENFORCED_KEY, in the same place."""
    entries, placed = [], False
    for key, value in owner.quota_hard.items():
        if key not in GPU_QUOTA_KEYS:
            entries.append((key, value))
        elif not placed:
            entries.append((UNENFORCED_KEY, str(owner.gpus)))
            placed = True
    if not placed:
        entries.append((UNENFORCED_KEY, str(owner.gpus)))
    return FrozenDict(tuple(entries))


def replicas_beyond(spec, owner, job) -> int:
    """Enough replicas that the tenant's pods hold one pod's GPUs more than its allocation
    (its other workloads count too): the quota does not stop them."""
    asked = sum(w.gpus * w.replicas for w in spec.workloads if w.tenant == owner.name)
    room = max(0, owner.gpus - asked) // job.gpus
    return job.replicas + room + 1


def details(spec, tenant, workload):
    owner = edit.find_tenant(spec, tenant)
    job = edit.find_workload(spec, workload)
    return {"gpus": owner.gpus, "used": job.replicas * job.gpus,
            "key": UNENFORCED_KEY, "name": job.name}


FAULT = Fault(
    id="gpu-quota-ineffective",
    title="{tenant}'s GPU quota is not enforced",
    part=parts.PAIRING_4,
    layer="tenant",
    params=(Param("tenant", "tenant", "tenant-b", "the tenant whose quota is ineffective"),
            Param("workload", "workload", "{tenant}/infer", "its workload that takes too much")),
    task="A job in {tenant} is using more GPUs than allowed. Debug and fix the quota "
         "configuration.",
    symptom="kubectl get pods -n {tenant} -o wide      # {used} {name} pods Running, one GPU each\n"
            "kubectl describe resourcequota compute -n {tenant}\n"
            "Resource               Used  Hard\n"
            "{key}  0     {gpus}\n"
            "(the GPU line never counts anything: the key is stored but not enforced)",
    hints=("Compare what the quota says with what the pods in {tenant} actually request.",
           "For extended resources such as nvidia.com/gpu, which quota keys does Kubernetes "
           "enforce? Look at the Used column.",
           "Only requests.nvidia.com/gpu constrains GPUs; {key} is accepted by the API server "
           "and ignored."),
    fix="In {tenant}'s quota.hard, change {key} to requests.nvidia.com/gpu, and scale the "
        "workload back to the allocation ({gpus} GPU(s)); apply the change, then `kubectl "
        "describe resourcequota -n {tenant}` shows GPU usage and a further GPU pod is rejected "
        "with 'exceeded quota'.",
    look_for="Knows that extended-resource quotas only work as requests.<resource>; checks the "
             "quota's Used column; understands overcommit is not allowed for GPUs (requests = "
             "limits); verifies by trying to exceed the quota.",
    check="gpu-quota-unenforced",
    inject=inject,
    targets=lambda spec, tenant, workload: {f"quota:{tenant}", f"workload:{workload}"},
    details=details,
    edits=lambda spec, tenant, workload: {f"quota:{tenant}", f"replicas:{workload}"},
    # Its replicas run beyond the quota, each holding a GPU.
    evidence=lambda spec, tenant, workload: {f"running {workload}"},
)
