"""A GPU workload's node selector points at the CPU system pool."""

from faults import edit, parts
from faults.base import Fault, Param
from faults.evidence import unscheduled
from model.spec import POOL_LABEL


def inject(spec, workload):
    edit.gpu_workload(spec, workload)
    return edit.workload(spec, workload, pool=spec.system_pool.name)


def details(spec, workload):
    return {**edit.workload_names(spec, workload), "system": spec.system_pool.name,
            "label": POOL_LABEL}


FAULT = Fault(
    id="gpu-pod-on-cpu-pool",
    title="{workload} is steered to the CPU pool",
    part=parts.SCENARIO_2,
    layer="workload",
    params=(Param("workload", "workload", "tenant-b/infer", "the GPU workload that is misplaced"),),
    task="A GPU workload in {tenant} has been Pending since it was deployed. Get it scheduled.",
    symptom="kubectl get pods -n {tenant}      # {name}-...  Pending\n"
            "kubectl describe pod -n {tenant} <pod>\n"
            "Warning FailedScheduling  0/N nodes are available: M Insufficient nvidia.com/gpu, "
            "K node(s) didn't match Pod's node affinity/selector.\n"
            "kubectl get pod -n {tenant} <pod> -o jsonpath='{{.spec.nodeSelector}}'   "
            "# {{\"{label}\":\"{system}\"}}",
    hints=("Pending with FailedScheduling: read the event to the end, both reasons.",
           "Which nodes does the pod's nodeSelector allow, and do any of them have GPUs? "
           "(kubectl get nodes -L {label})",
           "The selector names the {system} pool (CPU only); the GPU nodes match the "
           "GPU pool's {label} label."),
    fix="Set the workload's pool back to a GPU pool so its nodeSelector {label} names GPU nodes "
        "(the GPU toleration is already there); apply it (`gpu-lab apply`).",
    look_for="Reads FailedScheduling reasons precisely; uses kubectl get nodes -L / --show-labels; "
             "knows taints, tolerations and selectors work together (a toleration does not attract "
             "a pod to a node); considers node affinity over a hard-coded pool name.",
    check="gpu-pod-off-gpu-pool",
    inject=inject,
    targets=lambda spec, workload: {f"workload:{workload}"},
    details=details,
    pod_status="Pending",
    edits=lambda spec, workload: {f"pool:{workload}"},
    evidence=lambda spec, workload: {f"status Pending of {workload}"},
    hides=lambda spec, workload: unscheduled(workload),
)
