"""A workload holds a GPU but computes on the CPU."""

from faults import edit, parts
from faults.base import Fault, Param


def inject(spec, workload):
    job, _ = edit.gpu_workload(spec, workload)
    args = list(job.args)
    if "--device" in args[:-1]:            # told which device already: told the CPU instead
        args[args.index("--device") + 1] = "cpu"
    else:
        args += ["--device", "cpu"]
    return edit.workload(spec, workload, args=tuple(args))


FAULT = Fault(
    id="cpu-fallback",
    title="{workload} holds a GPU but runs on the CPU",
    part=parts.SCENARIO_4,
    layer="workload",
    params=(Param("workload", "workload", "tenant-a/infer", "the workload that ignores its GPU"),),
    task="Inference in {tenant} is much slower than expected, although it has a GPU. Find out "
         "why.",
    symptom="kubectl describe pod -n {tenant} <pod>     # Limits: nvidia.com/gpu: 1, Running\n"
            "Prometheus: DCGM_FI_DEV_GPU_UTIL{{namespace=\"{tenant}\", pod=~\"{name}-.*\"}} ~ 0; "
            "alert GpuAllocatedButIdle fires after 10 minutes\n"
            "kubectl logs -n {tenant} <pod> | head -1\n"
            "{{\"event\": \"startup\", \"device\": \"cpu\", ... \"message\": \"serving on cpu, ...\"}}",
    hints=("Is the GPU busy? Look at GPU utilization for this pod, not at whether it was "
           "allocated.",
           "What device does the program say it uses at startup, and what is it told to use?",
           "The container runs infer.py --device cpu: it gets the GPU and never touches it."),
    fix="Drop --device cpu from the workload's args (infer.py's default, auto, computes on the "
        "GPU it is given; --device cuda insists on one); apply the change. Utilization rises "
        "and samples/s jumps (gpu_lab_inference_samples_per_second).",
    look_for="Uses DCGM utilization (or nvidia-smi) to tell allocation from use; reads startup "
             "logs and args; knows frameworks fall back to the CPU silently (CUDA_VISIBLE_DEVICES, "
             "device flags, CPU-only wheels); proposes an alert on allocated-but-idle GPUs.",
    check="gpu-held-on-cpu",
    inject=inject,
    targets=lambda spec, workload: {f"workload:{workload}"},
    details=edit.workload_names,
    evidence=lambda spec, workload: {f"series DCGM_FI_DEV_GPU_UTIL of {workload}",
                                     f"alert GpuAllocatedButIdle for {workload.split('/')[0]}",
                                     f"running {workload}", f"log {workload}"},
    # Told the CPU, it never touches CUDA: nothing that fails or shows there happens.
    hides=lambda spec, workload: {f"cuda {workload}"},
    edits=lambda spec, workload: {f"device:{workload}"},
)
