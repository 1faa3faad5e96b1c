"""The GPU Operator's validator on each GPU node where the operator runs its operands: the
nvidia-operator-validator DaemonSet's pod, and what it makes of the ClusterPolicy.

From NVIDIA/gpu-operator v26.3.3:
- assets/state-operator-validation/0500_daemonset.yaml: four init containers run in turn,
  driver-, toolkit-, cuda- and plugin-validation, then the validator container sleeps
  ("all validations are successful"); the pod selects nodes labelled
  nvidia.com/gpu.deploy.operator-validator=true, which the operator sets on every GPU node
  whose operands it deploys (controllers/state_manager.go);
- controllers/object_controls.go (TransformValidator): the plugin-validation init container
  is removed only when the ClusterPolicy's devicePlugin is disabled; a node labelled
  nvidia.com/gpu.deploy.device-plugin=false keeps it;
- cmd/nvidia-validator/main.go (Plugin.validate, validateGPUResource): plugin-validation
  looks for nvidia.com/gpu (or a MIG resource) in the node's capacity 30 times, 5 seconds
  apart (gpuResourceDiscoveryWaitRetries, gpuResourceDiscoveryIntervalSeconds), logging
  "GPU resources are not yet discovered by the node, retry: N", then fails with "GPU
  resources are not discovered by the node" and exits 1. The kubelet restarts the init
  container (the pod's restartPolicy is Always) with its back-off: kubectl shows
  Init:CrashLoopBackOff while it waits and Init:3/4 while plugin-validation retries;
- controllers/object_controls.go (isDaemonSetReady) and clusterpolicy_controller.go: a
  validator DaemonSet with unavailable pods makes state-operator-validation notReady, and
  the ClusterPolicy's status.state notReady ("ClusterPolicy is not ready, states not ready:
  [state-operator-validation]").
The other three validations pass on these nodes (GKE's installer puts the driver in place,
the toolkit runs, the CUDA sample runs without a GPU request), so they are taken to take
no time.
"""

from __future__ import annotations

from typing import Optional

from kube.kubelet import BACKOFF_INITIAL, BACKOFF_MAX
from model.spec import (GPU_RESOURCE, NO_OPERATOR_OPERANDS_LABEL, ACCELERATOR_LABEL,
                        LabSpec)

NAME = "nvidia-operator-validator"
NAMESPACE = "gpu-operator"
OWNER = f"DaemonSet/{NAME}"
DEPLOY_LABEL = "nvidia.com/gpu.deploy.operator-validator"
INIT_CONTAINERS = ("driver-validation", "toolkit-validation", "cuda-validation",
                   "plugin-validation")
RETRIES, INTERVAL = 30, 5
PLUGIN_VALIDATION_SECONDS = RETRIES * INTERVAL
NOT_DISCOVERED = "GPU resources are not discovered by the node"
WAITING = "Init:CrashLoopBackOff"
RETRYING = f"Init:{len(INIT_CONTAINERS) - 1}/{len(INIT_CONTAINERS)}"
STATE = "state-operator-validation"


def release_values(objects) -> Optional[dict]:
    """The gpu-operator Helm release's values, or None when the stack installs none."""
    release = objects.get("HelmRelease", "gpu-operator", "gpu-operator") if objects else None
    if release is None:
        return None
    return release["spec"].get("values") or {}


def runs_on(spec: LabSpec, objects, node: dict) -> bool:
    """Does the validator DaemonSet have a pod on this node?"""
    if spec.platform != "gke" or release_values(objects) is None:
        return False
    labels = node["metadata"].get("labels") or {}
    return (ACCELERATOR_LABEL in labels and labels.get(NO_OPERATOR_OPERANDS_LABEL) != "false"
            and labels.get(DEPLOY_LABEL) != "false")


def plugin_validation(objects) -> bool:
    """Is the plugin-validation init container in the DaemonSet (devicePlugin enabled)?"""
    values = release_values(objects) or {}
    return bool((values.get("devicePlugin") or {}).get("enabled", True))


def gpus_discovered(node: dict) -> bool:
    capacity = (node.get("status") or {}).get("capacity") or {}
    return any(name == GPU_RESOURCE or name.startswith("nvidia.com/mig-")
               for name, value in capacity.items() if str(value) not in ("0", ""))


def attempts(elapsed: float) -> tuple[int, bool]:
    """plugin-validation's restarts `elapsed` seconds after the pod started, and whether it
    is running (retrying) then rather than waiting out the kubelet's back-off. Each attempt
    runs PLUGIN_VALIDATION_SECONDS; the first restart is at once, then the back-off doubles
    from BACKOFF_INITIAL to BACKOFF_MAX, counted from the container's exit."""
    start, restarts, backoff = 0.0, 0, 0.0
    while True:
        end = start + PLUGIN_VALIDATION_SECONDS
        if elapsed < end:
            return restarts, True
        following = end + backoff
        if elapsed < following:
            return restarts, False
        start, restarts = following, restarts + 1
        backoff = BACKOFF_INITIAL if backoff == 0 else min(backoff * 2, BACKOFF_MAX)


def pod_name(node: str) -> str:
    from kube.twin import _suffix
    return f"{NAME}-{_suffix(NAMESPACE, NAME, node)}"


def view(node: dict, elapsed: float, with_plugin_validation: bool):
    """The validator's pod on `node`, `elapsed` seconds after the node came up."""
    from kube.twin import PodView
    name = node["metadata"]["name"]
    pod = pod_name(name)
    if not with_plugin_validation or gpus_discovered(node):
        return PodView(NAMESPACE, pod, OWNER, "Running", name, phase="Running",
                       logs={NAME: "all validations are successful"},
                       events=[f"Normal Started kubelet Started container {NAME}"])
    restarts, retrying = attempts(elapsed)
    tries = "\n".join(f'level=info msg="GPU resources are not yet discovered by the node, '
                      f'retry: {i}"' for i in range(1, RETRIES + 1))
    logs = {"plugin-validation": f'{tries}\nlevel=info msg="Error: {NOT_DISCOVERED}"'}
    events = [f"Normal Scheduled default-scheduler Successfully assigned {NAMESPACE}/{pod} "
              f"to {name}"]
    if restarts or not retrying:
        events.append("Warning BackOff kubelet Back-off restarting failed container "
                      "plugin-validation")
    return PodView(NAMESPACE, pod, OWNER, RETRYING if retrying else WAITING, name,
                   reason="PodInitializing" if retrying else "CrashLoopBackOff",
                   message=f"container plugin-validation: Last State Terminated, Reason Error, "
                           f"Exit Code 1: {NOT_DISCOVERED}",
                   events=events, logs=logs, restarts=restarts, phase="Pending")


def views(spec: LabSpec, objects, nodes: list[dict], elapsed: dict[str, float]) -> list:
    """The validator's pods on these nodes; `elapsed`: seconds since each node came up."""
    with_plugin = plugin_validation(objects)
    return [view(node, elapsed.get(node["metadata"]["name"], 0.0), with_plugin)
            for node in nodes if runs_on(spec, objects, node)]


def cluster_policy(pods: list) -> Optional[tuple[str, str]]:
    """(status.state, why) of the ClusterPolicy as these validator pods leave it; None when
    there is no validator pod to judge by."""
    mine = [p for p in pods if p.owner == OWNER and p.namespace == NAMESPACE]
    if not mine:
        return None
    if all(p.status == "Running" for p in mine):
        return "ready", ""
    return "notReady", f"ClusterPolicy is not ready, states not ready: [{STATE}]"
