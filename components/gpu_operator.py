"""GpuOperator: NVIDIA's GPU Operator on GKE, configured as NVIDIA's GKE guide prescribes.

GKE's driver installer puts the driver in /home/kubernetes/bin/nvidia; the operator
runs with driver.enabled=false and points its toolkit and validator there. The pools'
`gke-no-default-nvidia-gpu-device-plugin` label and driver setting come from the same
spec, so the two always agree (the model rejects combinations where they would not).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes.core.v1 import Namespace, ResourceQuota
from pulumi_kubernetes.helm.v3 import Release, RepositoryOptsArgs
from pulumi_kubernetes.yaml.v2 import ConfigFile

from components.options import child_options
from components.placement import avoid_pools
from model.spec import LabSpec

NAMESPACE = "gpu-operator"
REPOSITORY = "https://helm.ngc.nvidia.com/nvidia"
GKE_NVIDIA_DIR = "/home/kubernetes/bin/nvidia"
# Google's driver installer for Container-Optimized OS nodes, pinned to a commit.
DRIVER_INSTALLER = ("https://raw.githubusercontent.com/GoogleCloudPlatform/"
                    "container-engine-accelerators/f2cf4197a5c3f0f20133be15d5fad8b7453beed5/"
                    "nvidia-driver-installer/cos/daemonset-preloaded.yaml")
TIME_SLICING_CONFIG = "time-slicing"


def critical_pods_quota(name: str, namespace: Namespace,
                        opts: pulumi.ResourceOptions) -> ResourceQuota:
    """GKE admits system-node-critical / system-cluster-critical pods outside kube-system
    only in namespaces with a ResourceQuota scoped to those priority classes."""
    return ResourceQuota(f"{name}-critical-pods", metadata={
        "name": "gcp-critical-pods", "namespace": NAMESPACE}, spec={
        "hard": {"pods": "100"},
        "scopeSelector": {"matchExpressions": [{
            "scopeName": "PriorityClass", "operator": "In",
            "values": ["system-node-critical", "system-cluster-critical"]}]},
    }, opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace])))


def operator_namespace(name: str, opts: pulumi.ResourceOptions) -> Namespace:
    # Operands mount host paths and run privileged: the namespace must allow it.
    return Namespace(f"{name}-namespace", metadata={"name": NAMESPACE, "labels": {
        "pod-security.kubernetes.io/enforce": "privileged",
        "app.kubernetes.io/managed-by": "gpu-lab"}},
        opts=opts)


def dcgm_service_monitor(spec: LabSpec) -> bool:
    """The chart's dcgmExporter.serviceMonitor.enabled: set, and the monitoring add-on (whose
    CRDs it needs) is there."""
    op = spec.addons.gpu_operator
    return spec.addons.monitoring.enabled and op.dcgm_exporter and op.service_monitor


def gpu_operator_values(spec: LabSpec) -> dict[str, Any]:
    """Helm values for the gpu-operator chart (every key exists in the pinned values.yaml)."""
    op = spec.addons.gpu_operator
    values: dict[str, Any] = {
        "driver": {"enabled": False},
        "hostPaths": {"driverInstallDir": GKE_NVIDIA_DIR},
        "toolkit": {
            "installDir": GKE_NVIDIA_DIR,
            # GKE 1.33+: read containerd's config from its file, or the toolkit
            # misconfigures config.toml (NVIDIA's GKE guide, known issue).
            "env": [{"name": "RUNTIME_CONFIG_SOURCE", "value": "file"}],
        },
        "cdi": {"enabled": True},
        "devicePlugin": {"enabled": op.device_plugin},
        "dcgmExporter": {
            "enabled": op.dcgm_exporter,
            # honorLabels keeps the workload's namespace/pod labels that DCGM attaches,
            # instead of renaming them exported_namespace/exported_pod.
            "serviceMonitor": {"enabled": dcgm_service_monitor(spec),
                               "honorLabels": True, "interval": "15s"},
        },
        "mig": {"strategy": op.mig_strategy},
        "migManager": {"enabled": op.mig_strategy != "none"},
    }
    gke_served = [p.name for p in spec.gpu_pools if not p.gpu_operator]
    if gke_served:
        # GKE's own GPU stack serves these pools (the operands stay off them through the
        # nvidia.com/gpu.deploy.operands=false label); NFD's worker is not needed there.
        values["node-feature-discovery"] = {"worker": {"affinity": avoid_pools(gke_served)}}
    if op.time_slicing_replicas:
        values["devicePlugin"]["config"] = {
            "create": True, "name": TIME_SLICING_CONFIG, "default": "any",
            "data": {"any": time_slicing_config(op.time_slicing_replicas)},
        }
    return values


def time_slicing_config(replicas: int) -> str:
    """The device plugin's sharing config: every GPU advertised `replicas` times."""
    return "\n".join([
        "version: v1",
        "flags:",
        "  migStrategy: none",
        "sharing:",
        "  timeSlicing:",
        "    resources:",
        "    - name: nvidia.com/gpu",
        f"      replicas: {replicas}",
        "",
    ])


class GpuOperator(pulumi.ComponentResource):
    def __init__(self, name: str, spec: LabSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpu-lab:addons:GpuOperator", name, None, opts)
        op = spec.addons.gpu_operator

        child = child_options(self, opts)
        self.namespace = operator_namespace(name, child)
        self.quota = critical_pods_quota(name, self.namespace, child)
        after_namespace = child_options(self, opts, self.namespace, self.quota)

        self.driver_installer = None
        if any(p.driver_version == "INSTALLATION_DISABLED" for p in spec.gpu_pools):
            # Runs in kube-system on nodes labelled cloud.google.com/gke-accelerator.
            self.driver_installer = ConfigFile(f"{name}-driver-installer",
                                               file=DRIVER_INSTALLER, opts=child)

        self.release = Release(
            f"{name}-release", name="gpu-operator", namespace=NAMESPACE,
            chart="gpu-operator", version=op.chart_version,
            repository_opts=RepositoryOptsArgs(repo=REPOSITORY),
            values=gpu_operator_values(spec),
            # CRDs come from the chart's crds/ directory, created by Helm itself. On upgrade
            # the chart's pre-upgrade hook updates them (operator.upgradeCRD, on by default),
            # which its values.yaml says needs --disable-openapi-validation.
            skip_crds=False, disable_openapi_validation=True, timeout=900, wait_for_jobs=True,
            opts=after_namespace)

        self.register_outputs({"namespace": NAMESPACE, "chartVersion": op.chart_version})
