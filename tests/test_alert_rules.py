"""gpu-lab's own alert rules (components/observability.py), unit-tested by Prometheus'
own rule manager: `promtool test rules` over series labelled as the real exporters label
them (dcgm-exporter through the GPU Operator's ServiceMonitor with honorLabels,
kube-state-metrics through the chart's), each alert in a case where it fires and one where
it does not. The chart's rules restated in kube/prometheus_rules.py load in the same run,
so a rule Prometheus cannot parse fails here too. One promtool run for every case."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from components.observability import prometheus_rule_spec
from kube.prometheus_engine import EVALUATION_INTERVAL, run_rule_tests, tool
from kube.prometheus_rules import CHART_RULE_GROUPS

# kube-state-metrics' target labels (honorLabels: a series' own container label wins).
KSM_TARGET = ('job="kube-state-metrics", instance="10.4.0.9:8080", endpoint="http", '
              'service="kube-prometheus-stack-kube-state-metrics"')
KSM = f'{KSM_TARGET}, container="kube-state-metrics"'
DCGM = ('job="nvidia-dcgm-exporter", service="nvidia-dcgm-exporter", endpoint="gpu-metrics", '
        'modelName="Tesla T4", DCGM_FI_DRIVER_VERSION="535.230.02", device="nvidia0", '
        'gpu="0", pci_bus_id="00000000:00:04.0"')


def dcgm(metric: str, node: str, uuid: str, **pod: str) -> str:
    """A dcgm-exporter series: the GPU's labels, and the pod using it (pod-resources), else
    the exporter's own pod and namespace (honorLabels keeps what the exporter sets)."""
    owner = pod or {"namespace": "gpu-operator", "pod": f"nvidia-dcgm-exporter-{node}",
                    "container": "nvidia-dcgm-exporter"}
    labels = ", ".join(f'{k}="{v}"' for k, v in owner.items())
    return (f'{metric}{{{DCGM}, Hostname="{node}", UUID="GPU-{uuid}", '
            f'instance="10.4.1.{len(node)}:9400", {labels}}}')


def gpu_request(namespace: str, pod: str, gpus: int = 1) -> dict:
    return {"series": f'kube_pod_container_resource_requests{{{KSM_TARGET}, '
                      f'namespace="{namespace}", pod="{pod}", uid="u-{pod}", container="infer", '
                      f'node="t4-0", '
                      f'resource="nvidia_com_gpu", unit="integer"}}',
            "values": f"{gpus}+0x40"}


def phase(namespace: str, pod: str, current: str) -> list[dict]:
    return [{"series": f'kube_pod_status_phase{{{KSM}, namespace="{namespace}", pod="{pod}", '
                       f'uid="u-{pod}", phase="{p}"}}',
             "values": f"{int(p == current)}+0x40"}
            for p in ("Pending", "Running", "Succeeded", "Failed", "Unknown")]


def quota(namespace: str, hard: int, used: int, resource="requests.nvidia.com/gpu") -> list:
    return [{"series": f'kube_resourcequota{{{KSM}, namespace="{namespace}", '
                       f'resourcequota="compute", resource="{resource}", type="{t}"}}',
             "values": f"{v}+0x40"} for t, v in (("hard", hard), ("used", used))]


def deployment(namespace: str, name: str, replicas: int, created: int) -> list[dict]:
    labels = f'{KSM}, namespace="{namespace}", deployment="{name}"'
    return [{"series": f"kube_deployment_spec_replicas{{{labels}}}", "values": f"{replicas}+0x40"},
            {"series": f"kube_deployment_status_replicas{{{labels}}}",
             "values": f"{created}+0x40"}]


def allocatable(node: str, gpus: int) -> dict:
    return {"series": f'kube_node_status_allocatable{{{KSM}, node="{node}", '
                      f'resource="nvidia_com_gpu", unit="integer"}}', "values": f"{gpus}+0x40"}


def node_labels(node: str, accelerator: str = "") -> dict:
    """kube_node_labels as kube-state-metrics exports it with the chart's allowlist
    nodes=[gpu-lab/accelerator]: the label only on nodes that carry it."""
    label = f', label_gpu_lab_accelerator="{accelerator}"' if accelerator else ""
    return {"series": f'kube_node_labels{{{KSM}, node="{node}"{label}}}', "values": "1+0x40"}


def up(job: str, value: str, instance: str = "10.4.1.4:9400") -> dict:
    return {"series": f'up{{job="{job}", instance="{instance}", namespace="gpu-operator", '
                      f'service="{job}", endpoint="gpu-metrics"}}', "values": value}


def alert(name: str, at: str, *expected: dict) -> dict:
    return {"eval_time": at, "alertname": name,
            "exp_alerts": [{"exp_labels": labels} for labels in expected]}


T4 = "nvidia-tesla-t4"

CASES = [
    {"name": "quota: a used-up GPU quota with a Deployment short of pods fires after 5m; a "
             "full quota with every pod created, a Deployment short below its quota, and a "
             "key the quota does not enforce, never",
     "input_series": quota("tenant-a", 2, 2) + deployment("tenant-a", "infer", 3, 2)
     + quota("tenant-b", 2, 2) + deployment("tenant-b", "infer", 2, 2)
     + quota("tenant-c", 4, 1) + deployment("tenant-c", "infer", 3, 1)
     + quota("tenant-d", 4, 4, resource="limits.nvidia.com/gpu")
     + deployment("tenant-d", "infer", 5, 4),
     "alert_rule_test": [
         alert("GpuTenantQuotaExhausted", "4m"),
         alert("GpuTenantQuotaExhausted", "6m",
               {"namespace": "tenant-a", "severity": "warning"})]},
    {"name": "idle: a GPU pod under 10% for 10m fires; a busy one, and an idle GPU no pod "
             "holds, never",
     "input_series": [
         {"series": dcgm("DCGM_FI_DEV_GPU_UTIL", "t4-0", "a", namespace="tenant-a",
                         pod="infer-a", container="infer"), "values": "0+0x40"},
         {"series": dcgm("DCGM_FI_DEV_GPU_UTIL", "t4-1", "b", namespace="tenant-b",
                         pod="infer-b", container="infer"), "values": "87+0x40"},
         {"series": dcgm("DCGM_FI_DEV_GPU_UTIL", "t4-2", "c"), "values": "0+0x40"},
         gpu_request("tenant-a", "infer-a"), gpu_request("tenant-b", "infer-b")],
     "alert_rule_test": [
         alert("GpuAllocatedButIdle", "9m"),
         alert("GpuAllocatedButIdle", "11m",
               {"namespace": "tenant-a", "pod": "infer-a", "severity": "warning"})]},
    {"name": "pending: a pending GPU pod fires after 5m; a pending CPU pod and a running "
             "GPU pod never",
     "input_series": phase("tenant-a", "finetune", "Pending") + phase("tenant-a", "cpu", "Pending")
     + phase("tenant-b", "infer", "Running") + [gpu_request("tenant-a", "finetune", 2),
                                                gpu_request("tenant-b", "infer")],
     "alert_rule_test": [
         alert("GpuPodPending", "4m"),
         alert("GpuPodPending", "6m", {"namespace": "tenant-a", "pod": "finetune",
                                       "severity": "warning"})]},
    {"name": "dcgm down: a target down fires after 5m",
     "input_series": [up("nvidia-dcgm-exporter", "0+0x40"), node_labels("t4-0", T4)],
     "alert_rule_test": [
         alert("DcgmExporterDown", "4m"),
         alert("DcgmExporterDown", "6m",
               {"job": "nvidia-dcgm-exporter", "instance": "10.4.1.4:9400",
                "namespace": "gpu-operator", "service": "nvidia-dcgm-exporter",
                "endpoint": "gpu-metrics", "severity": "critical"})]},
    {"name": "dcgm missing: no target while a GPU node exists fires after 5m",
     "input_series": [node_labels("t4-0", T4), allocatable("t4-0", 1)],
     "alert_rule_test": [
         alert("DcgmExporterDown", "4m"),
         alert("DcgmExporterDown", "6m", {"job": "nvidia-dcgm-exporter",
                                          "severity": "critical"})]},
    {"name": "dcgm missing on a GPU node whose device plugin is down (no allocatable GPU): "
             "still fires",
     "input_series": [node_labels("t4-0", T4), allocatable("t4-0", 0),
                      node_labels("cpu-0")],
     "alert_rule_test": [
         alert("DcgmExporterDown", "6m", {"job": "nvidia-dcgm-exporter",
                                          "severity": "critical"})]},
    {"name": "dcgm fine, or no GPU node: never",
     "input_series": [up("nvidia-dcgm-exporter", "1+0x40"), node_labels("t4-0", T4),
                      node_labels("cpu-0")],
     "alert_rule_test": [alert("DcgmExporterDown", "20m")]},
    {"name": "dcgm missing but no GPU node (pools scaled to zero): never",
     "input_series": [node_labels("cpu-0")],
     "alert_rule_test": [alert("DcgmExporterDown", "20m")]},
]


def without_annotations(groups: list[dict]) -> list[dict]:
    """The rules as they are but for their annotations (promtool compares those too; the
    cases are about when an alert fires and with which labels)."""
    return [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"}
                            for r in g["rules"]]} for g in groups]


def test_gpu_lab_alert_rules_with_promtool():
    tests = [{"interval": "30s", **case} for case in CASES]
    groups = without_annotations(prometheus_rule_spec()["groups"] + CHART_RULE_GROUPS)
    with tempfile.TemporaryDirectory() as workdir:
        done = run_rule_tests(groups, tests, Path(workdir))
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


def test_every_gpu_lab_alert_has_a_firing_and_a_quiet_case():
    rules = {r["alert"] for g in prometheus_rule_spec()["groups"] for r in g["rules"]}
    fires = {t["alertname"] for c in CASES for t in c["alert_rule_test"] if t["exp_alerts"]}
    quiet = {t["alertname"] for c in CASES for t in c["alert_rule_test"] if not t["exp_alerts"]}
    assert rules == fires == quiet


def test_promtool_checks_the_rule_files():
    """`promtool check rules` accepts gpu-lab's PrometheusRule and the restated chart rules
    as the operator would hand them to Prometheus."""
    import subprocess
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "rules.json"
        path.write_text(json.dumps({"groups": prometheus_rule_spec()["groups"] +
                                    CHART_RULE_GROUPS}))
        done = subprocess.run([str(tool("promtool")), "check", "rules", str(path)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert EVALUATION_INTERVAL == "30s"
