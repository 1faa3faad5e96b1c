"""A workload needs more GPU memory than its GPUs have: scheduled, then CUDA out of memory."""

from faults import edit, parts
from faults.base import Fault, Param, Unmet
from faults.evidence import stopped
from kube.kubelet import TORCH_GPU_MEMORY
from model.gpu_catalog import CATALOG


def inject(spec, workload, memory_gb):
    job, pool = edit.gpu_workload(spec, workload)
    if not isinstance(memory_gb, (int, float)) or memory_gb <= pool.gpu_memory_gb:
        raise Unmet("memory_gb", memory_gb, f"must exceed the {pool.gpu_memory_gb} GB of "
                    f"{pool.accelerator} GPUs in pool {pool.name}")
    return edit.workload(spec, workload, gpu_memory_gb=float(memory_gb))


def details(spec, workload, memory_gb):
    job, pool = edit.gpu_workload(spec, workload)
    return {**edit.workload_names(spec, workload), "gpu_gb": pool.gpu_memory_gb,
            "accelerator": pool.accelerator, "gpu_name": CATALOG[pool.accelerator].model,
            "gpu_gib": TORCH_GPU_MEMORY[pool.accelerator] / 2 ** 30,
            "status": edit.crash_status(init=False)}


FAULT = Fault(
    id="gpu-memory-oom",
    title="{workload} needs {memory_gb} GB of GPU memory",
    part=parts.SCENARIO_3,
    layer="workload",
    params=(Param("workload", "workload", "tenant-a/infer", "the workload that does not fit"),
            Param("memory_gb", "number", 32, "the GPU memory it needs, in GB")),
    task="A GPU workload in {tenant} is scheduled but keeps crashing. Find out why and fix it.",
    symptom="kubectl get pods -n {tenant}      # {name}-...  {status}\n"
            "kubectl logs -n {tenant} <pod>     # --previous for a restarted container\n"
            "CUDA out of memory: this model needs {memory_gb:.1f} GiB of GPU memory, but the GPU "
            "({gpu_name}) has {gpu_gib:.1f} GiB\n"
            "kubectl describe pod ...   Last State: Terminated, Reason: Error, Exit Code: 3",
    hints=("The pod got its GPU. Read the logs of the previous container (kubectl logs "
           "--previous).",
           "How much memory does the GPU have? nvidia-smi in a pod on that node, or the "
           "DCGM_FI_DEV_FB_FREE/FB_USED metrics.",
           "The model's working set ({memory_gb} GB: the workload's gpuMemoryGb, infer.py's "
           "--gpu-memory-gb) exceeds the {gpu_gb} GB of a {accelerator}."),
    fix="Either shrink the demand to fit (smaller batch or model, gpuMemoryGb under {gpu_gb}) "
        "or move the workload to a pool with larger GPUs (nvidia-l4 24 GB, nvidia-tesla-a100 "
        "40 GB, nvidia-a100-80gb / nvidia-h100-80gb 80 GB); apply it (`gpu-lab apply`).",
    look_for="Separates scheduling (fine) from runtime failure; knows Kubernetes does not "
             "schedule on GPU memory (nvidia.com/gpu counts devices); reads logs --previous; "
             "talks about batch size, precision, model sharding, or a node pool with bigger GPUs.",
    check="gpu-memory-exceeds-gpu",
    inject=inject,
    targets=lambda spec, workload, memory_gb: {f"workload:{workload}"},
    details=details,
    pod_status="{status}",
    edits=lambda spec, workload, memory_gb: {f"gpu-memory:{workload}"},
    # Its status, the CUDA error in the log, and CUDA itself; the crash takes what other
    # faults would show on the workload (its own evidence is never compared with itself).
    evidence=lambda spec, workload, memory_gb: _evidence(spec, workload, memory_gb),
    hides=lambda spec, workload, memory_gb: stopped(workload),
)


def _evidence(spec, workload, memory_gb) -> set[str]:
    return {f"status {edit.crash_status(init=False)} of {workload}", f"log {workload}",
            f"cuda {workload}"}
