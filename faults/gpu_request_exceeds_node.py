"""A workload asks for more GPUs per pod than any node of its pool has."""

from faults import edit, parts
from faults.base import Fault, Param
from faults.evidence import unscheduled


def inject(spec, workload):
    job, pool = edit.gpu_workload(spec, workload)
    gpus = pool.schedulable_gpus_per_node + 1
    owner = edit.find_tenant(spec, job.tenant)
    # Quota and LimitRange let it through: the scheduler is what says no. The quota grows by
    # what the bigger pods add (a quota charges Pending pods too), so the tenant's other
    # workloads keep their share.
    grown = owner.with_gpus(owner.gpus + (gpus - job.gpus) * job.replicas)
    spec = edit.tenant(spec, job.tenant, max_gpus_per_pod=max(owner.max_gpus_per_pod, gpus),
                       quota_hard=grown.quota_hard)
    return edit.workload(spec, workload, gpus=gpus)


def details(spec, workload):
    _, pool = edit.gpu_workload(spec, workload)
    return {**edit.workload_names(spec, workload), "pool": pool.name,
            "per_node": pool.schedulable_gpus_per_node,
            "asked": pool.schedulable_gpus_per_node + 1}


FAULT = Fault(
    id="gpu-request-exceeds-node",
    title="{workload} asks for more GPUs per pod than a node has",
    part=parts.SCENARIO_2,
    layer="workload",
    params=(Param("workload", "workload", "tenant-b/infer", "the workload that asks too much"),),
    task="A GPU workload in {tenant} stays Pending indefinitely, although the cluster has free "
         "GPUs. Find out why and fix it.",
    symptom="kubectl get pods -n {tenant}      # {name}-...  Pending, for ever\n"
            "kubectl describe pod -n {tenant} <pod>\n"
            "Warning FailedScheduling  0/N nodes are available: ... Insufficient nvidia.com/gpu\n"
            "Normal NotTriggerScaleUp  pod didn't trigger scale-up: ... Insufficient "
            "nvidia.com/gpu\n"
            "(the pod requests {asked} GPUs; every {pool} node has {per_node})",
    hints=("The cluster autoscaler did not add a node either. What would a new node look like?",
           "Compare the pod's nvidia.com/gpu request with each node's allocatable GPUs "
           "(kubectl describe node | grep nvidia.com/gpu).",
           "A pod's GPUs must all come from one node: {asked} per pod can never fit on {pool} "
           "nodes with {per_node}."),
    fix="Request at most {per_node} GPU(s) per pod (more replicas, or a pool with bigger "
        "nodes, e.g. a larger machine type with more GPUs per node); apply it (`gpu-lab apply`).",
    look_for="Knows a pod cannot span nodes and that the autoscaler simulates the node shape "
             "(NotTriggerScaleUp); distinguishes this from quota (Forbidden) and from a selector "
             "mismatch; brings up multi-node training (MPI/torchrun) when one node is not enough.",
    check="gpu-request-exceeds-node",
    inject=inject,
    targets=lambda spec, workload: {f"workload:{workload}",
                                    f"quota:{workload.partition('/')[0]}"},
    details=details,
    pod_status="Pending",
    edits=lambda spec, workload: {f"gpus:{workload}",
                                  f"max-gpus-per-pod:{workload.partition('/')[0]}"},
    evidence=lambda spec, workload: {f"status Pending of {workload}"},
    hides=lambda spec, workload: unscheduled(workload),
)
