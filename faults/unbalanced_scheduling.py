"""A workload's replicas are forced onto one GPU node while an identical node idles."""

from faults import edit, parts
from faults.base import Fault, Param, Unmet
from model.frozen import freeze


def pinned_affinity(name: str):
    """A required podAffinity on the workload's own pods per node: every replica goes where
    the first one landed."""
    return freeze({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname",
         "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}]}})


def inject(spec, workload):
    job, pool = edit.gpu_workload(spec, workload)
    if pool.min_nodes < 2:
        raise Unmet("workload", workload, f"its pool {pool.name} must keep at least 2 nodes "
                    f"(minNodes >= 2) so an identical node can sit idle")
    replicas = pool.schedulable_gpus_per_node // job.gpus
    if replicas < 2:
        raise Unmet("workload", workload, f"two replicas of {job.gpus} GPU(s) must fit on one "
                    f"{pool.name} node ({pool.schedulable_gpus_per_node} GPUs)")
    owner = edit.find_tenant(spec, job.tenant)
    if replicas * job.gpus > owner.gpus:
        raise Unmet("workload", workload, f"tenant {owner.name} needs a quota of "
                    f"{replicas * job.gpus} GPUs for {replicas} replicas (has {owner.gpus})")
    return edit.workload(spec, workload, replicas=replicas, topology_spread_constraints=(),
                         affinity=pinned_affinity(job.name))


def details(spec, workload):
    return {**edit.workload_names(spec, workload),
            "pool": edit.find_workload(spec, workload).pool}


FAULT = Fault(
    id="unbalanced-scheduling",
    title="{workload}'s replicas are pinned to one node",
    part=parts.SCENARIO_5,
    layer="workload",
    params=(Param("workload", "workload", "tenant-b/infer", "the workload that piles up"),),
    task="One GPU node in pool {pool} is fully used while an identical one sits idle. Find out "
         "why the work does not spread and fix it.",
    symptom="kubectl get pods -n {tenant} -o wide    # every {name} pod on the same NODE\n"
            "kubectl describe node <other {pool} node>   # nvidia.com/gpu allocated: 0\n"
            "kubectl get deploy -n {tenant} {name} -o yaml   # affinity.podAffinity.required... "
            "topologyKey: kubernetes.io/hostname",
    hints=("Where did the scheduler put each replica, and what constrains the placement?",
           "Look at the pod template's affinity and topology spread constraints.",
           "A required podAffinity on the replicas' own labels with topologyKey "
           "kubernetes.io/hostname forces them onto the node where the first one landed."),
    fix="Replace the required podAffinity in the workload's affinity with the "
        "topologySpreadConstraints the other workloads use (maxSkew 1 on "
        "kubernetes.io/hostname), or a podAntiAffinity; apply the change. For one job across "
        "nodes, discuss MPI / torchrun multi-node instead of parallelism.",
    look_for="Uses -o wide and node allocations; knows podAffinity vs podAntiAffinity vs "
             "topologySpreadConstraints and the scheduler's scoring; can explain why raising Job "
             "parallelism alone does not distribute a single training job, and when MPI helps.",
    check="replicas-pinned",
    inject=inject,
    targets=lambda spec, workload: {f"workload:{workload}"},
    details=details,
    edits=lambda spec, workload: {f"replicas:{workload}", f"placement:{workload}"},
    # Its replicas run, all on one node.
    evidence=lambda spec, workload: {f"running {workload}", f"scheduled {workload}"},
)
