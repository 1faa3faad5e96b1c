"""GPU nodes come up, but no device plugin runs on them: nvidia.com/gpu is never advertised."""

from faults import edit, parts
from faults.base import Fault, Param
from faults.evidence import unscheduled
from kube import operator_validator
from model.frozen import FrozenDict
from model.spec import NO_GKE_DEVICE_PLUGIN_LABEL, NO_OPERATOR_DEVICE_PLUGIN_LABEL


def off_labels(pool) -> dict[str, str]:
    """The node labels that keep every device plugin off the pool's nodes: the GPU
    Operator's label, and GKE's where GKE's own plugin serves the pool (on a pool the
    operator serves, gpu-lab already sets GKE's: gkeDevicePlugin false)."""
    labels = {NO_OPERATOR_DEVICE_PLUGIN_LABEL: "false"}
    if pool.gke_device_plugin:
        labels[NO_GKE_DEVICE_PLUGIN_LABEL] = "true"
    return labels


def inject(spec, pool):
    target = edit.find_pool(spec, pool)
    labels = FrozenDict({**target.node_labels, **off_labels(target)})
    # At least one node, so there is a GPU node without GPUs to look at.
    return edit.pool(spec, pool, node_labels=labels, min_nodes=max(1, target.min_nodes))


def workloads_on(spec, pool):
    return {f"workload:{w.tenant}/{w.name}" for w in spec.workloads if w.pool == pool}


def targets(spec, pool):
    """The pool, its workloads and, where the GPU Operator validates the pool's nodes, its
    validator's pods there (`validator:<pool>`)."""
    found = {f"pool:{pool}"} | workloads_on(spec, pool)
    operator = spec.addons.gpu_operator
    if spec.platform == "gke" and operator.enabled and operator.device_plugin and \
            edit.find_pool(spec, pool).gpu_operator:
        found.add(f"validator:{pool}")
    return found


def details(spec, pool):
    """The labels it sets, and the validator pod's two states (kube/operator_validator.py):
    waiting out the kubelet's back-off, or retrying plugin-validation (150 s of every
    attempt)."""
    labels = off_labels(edit.find_pool(spec, pool))
    return {"labels": " and ".join(f"{key}={value}" for key, value in labels.items()),
            "validator": operator_validator.NAME, "validator_status": operator_validator.WAITING,
            "validator_retrying": operator_validator.RETRYING,
            "not_discovered": operator_validator.NOT_DISCOVERED,
            "state": operator_validator.STATE}


FAULT = Fault(
    id="gpu-device-plugin-missing",
    title="GPU nodes of pool {pool} advertise no GPUs",
    part=parts.PAIRING_1,
    layer="cloud",
    params=(Param("pool", "pool", "t4", "the GPU pool whose nodes get no device plugin"),),
    task="Check that GPU nodes are provisioned and labelled correctly and that GPUs are "
         "discoverable, then get the GPU workloads on pool {pool} running.",
    symptom="kubectl get pods -A -o wide | grep Pending      # GPU pods on {pool}\n"
            "kubectl describe pod ...   Warning FailedScheduling  0/N nodes are available: "
            "... Insufficient nvidia.com/gpu\n"
            "kubectl describe node <{pool} node>   # Capacity/Allocatable list no nvidia.com/gpu\n"
            "kubectl get pods -n gpu-operator -o wide   # no nvidia-device-plugin pod on that "
            "node;\n"
            "{validator}-...   0/1   {validator_status} (or {validator_retrying} while "
            "plugin-validation retries)   <{pool} node>\n"
            "kubectl logs -n gpu-operator <{validator} pod> -c plugin-validation --previous\n"
            "... GPU resources are not yet discovered by the node, retry: 30\n"
            "... Error: {not_discovered}\n"
            "kubectl get clusterpolicy   # STATUS notReady: ClusterPolicy is not ready, states "
            "not ready: [{state}]",
    hints=("The node exists and has a GPU attached (gpu-lab/accelerator label). What turns "
           "that into schedulable nvidia.com/gpu?",
           "A device plugin advertises GPUs to the kubelet. Which one should run on this node, "
           "GKE's or the GPU Operator's, and what decides that?",
           "The pool's labels in the config: {labels} keeps the device plugin off its nodes "
           "(GKE's own plugin is off wherever the GPU Operator serves a pool: "
           + NO_GKE_DEVICE_PLUGIN_LABEL + "=true)."),
    fix="Remove the {labels} label from pool {pool}'s labels, so that a device plugin runs "
        "on its nodes again (the GPU Operator's, or GKE's where GKE's GPU stack serves the "
        "pool); apply the change. GKE relabels the pool's existing nodes in place (no node is "
        "recreated), `kubectl describe node` then shows nvidia.com/gpu and the Pending pods "
        "schedule.",
    look_for="Reads node capacity vs allocatable; knows the device plugin / kubelet relationship "
             "and why GKE's plugin is disabled when the GPU Operator runs; checks the operator's "
             "DaemonSets and node labels (nvidia.com/gpu.deploy.*); can explain GPU autoscaling "
             "(the autoscaler sees the pool's accelerator, the pod still needs the plugin).",
    check="gpus-not-advertised",
    inject=inject,
    targets=targets,
    details=details,
    pod_status="Pending",
    edits=lambda spec, pool: {f"gpu-stack:{pool}"},
    # The pool's nodes advertise no GPU: its GPU workloads wait, with that status.
    evidence=lambda spec, pool: {f"status Pending of {w}" for w in _gpu_workloads(spec, pool)},
    hides=lambda spec, pool: unscheduled(*_gpu_workloads(spec, pool)),
)


def _gpu_workloads(spec, pool) -> list[str]:
    return [f"{w.tenant}/{w.name}" for w in spec.workloads if w.pool == pool and w.gpus]
