"""The GPU alerts and Grafana dashboards gpu-lab ships, as data.

Every expression refers only to metrics the stack exports (DCGM exporter,
kube-state-metrics, node exporter) with their real label names; tests lint each one
against lab/metrics_catalog.py. kube-state-metrics writes the nvidia.com/gpu resource
as `nvidia_com_gpu` on node and pod metrics, and keeps `requests.nvidia.com/gpu` as is
on kube_resourcequota.
"""

from __future__ import annotations

import json

DCGM_JOB = "nvidia-dcgm-exporter"
QUOTA_GPU = 'resource="requests.nvidia.com/gpu"'
POD_GPU = 'resource="nvidia_com_gpu"'
# Nodes of a GPU pool: kube-state-metrics exports their gpu-lab/accelerator label
# (components/monitoring.py allows it) as label_gpu_lab_accelerator.
GPU_NODE = 'label_gpu_lab_accelerator!=""'
# The pods that hold at least one GPU, by namespace and pod.
GPU_PODS = f"sum by (namespace, pod) (kube_pod_container_resource_requests{{{POD_GPU}}}) > 0"

ALERT_RULES = [
    {
        # A lab sizes each tenant's GPU quota to its workloads, so a full quota is its normal
        # state; what needs someone is a workload the quota keeps short of pods (its
        # ReplicaSet's creates refused: fewer pods than the Deployment asks for).
        "alert": "GpuTenantQuotaExhausted",
        "expr": (f'sum by (namespace) (kube_resourcequota{{{QUOTA_GPU}, type="used"}}) '
                 f'>= sum by (namespace) (kube_resourcequota{{{QUOTA_GPU}, type="hard"}}) '
                 f"and on (namespace) "
                 f"sum by (namespace) (kube_deployment_spec_replicas "
                 f"- kube_deployment_status_replicas) > 0"),
        "for": "5m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "Tenant {{ $labels.namespace }} has used up its GPU quota and a "
                       "Deployment in it is short of pods",
            "description": "The ResourceQuota of {{ $labels.namespace }} refuses new GPU pods: "
                           "kubectl describe replicaset -n {{ $labels.namespace }} shows "
                           "FailedCreate.",
        },
    },
    {
        "alert": "GpuAllocatedButIdle",
        "expr": (f"avg by (namespace, pod) (DCGM_FI_DEV_GPU_UTIL) < 10 "
                 f"and on (namespace, pod) {GPU_PODS}"),
        "for": "10m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "{{ $labels.namespace }}/{{ $labels.pod }} holds a GPU but uses "
                       "{{ $value }}% of it",
            "description": "A pod that requested nvidia.com/gpu has kept GPU utilization under "
                           "10% for 10 minutes.",
        },
    },
    {
        "alert": "GpuPodPending",
        "expr": (f'sum by (namespace, pod) (kube_pod_status_phase{{phase="Pending"}}) > 0 '
                 f"and on (namespace, pod) {GPU_PODS}"),
        "for": "5m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "GPU pod {{ $labels.namespace }}/{{ $labels.pod }} has been Pending "
                       "for 5 minutes",
            "description": "kubectl describe pod shows why.",
        },
    },
    {
        "alert": "DcgmExporterDown",
        # Absent only matters while there are GPU nodes (pools may scale to zero). GPU nodes
        # are counted by their accelerator label, not by allocatable GPUs: a node whose device
        # plugin is down advertises none, and the exporter is missing there too.
        "expr": (f'up{{job="{DCGM_JOB}"}} == 0 or (absent(up{{job="{DCGM_JOB}"}}) '
                 f'and on () count(kube_node_labels{{{GPU_NODE}}}) > 0)'),
        "for": "5m",
        "labels": {"severity": "critical"},
        "annotations": {
            "summary": "Prometheus is not scraping the DCGM exporter",
            "description": "GPU utilization and memory metrics are missing; GPU dashboards "
                           "and the idle-GPU alert are blind.",
        },
    },
]


def prometheus_rule_spec() -> dict:
    return {"groups": [{"name": "gpu-lab.gpu", "rules": ALERT_RULES}]}


def _panel(panel_id: int, title: str, targets: list[tuple[str, str]], unit: str = "short",
           *, x: int, y: int, kind: str = "timeseries") -> dict:
    return {
        "id": panel_id, "type": kind, "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend,
                     "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                    for i, (expr, legend) in enumerate(targets)],
    }


def _layout(panels: list[tuple]) -> list[dict]:
    """Two panels per row, in order."""
    return [_panel(i + 1, *panel, x=(i % 2) * 12, y=(i // 2) * 8)
            for i, panel in enumerate(panels)]


DATASOURCE_VARIABLE = {"name": "datasource", "type": "datasource", "query": "prometheus",
                       "label": "Data source", "current": {}, "hide": 0}
TENANT_QUERY = 'label_values(kube_namespace_labels{label_gpu_lab_tenant="true"}, namespace)'


def _dashboard(uid: str, title: str, panels: list[dict], variables: list[dict]) -> dict:
    return {
        "uid": uid, "title": title, "tags": ["gpu-lab", "gpu"], "timezone": "utc",
        "schemaVersion": 39, "version": 1, "editable": True, "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [DATASOURCE_VARIABLE, *variables]},
        "panels": panels,
    }


def cluster_gpu_dashboard() -> dict:
    return _dashboard("gpu-lab-cluster-gpus", "gpu-lab / Cluster GPUs", _layout([
        ("Allocatable GPUs per node",
         [(f"sum by (node) (kube_node_status_allocatable{{{POD_GPU}}})", "{{node}}")]),
        ("Requested GPUs per node",
         [(f"sum by (node) (kube_pod_container_resource_requests{{{POD_GPU}}})", "{{node}}")]),
        ("GPU utilization per GPU",
         [("DCGM_FI_DEV_GPU_UTIL", "{{Hostname}} GPU {{gpu}} ({{modelName}})")], "percent"),
        ("GPU memory used per GPU",
         [("DCGM_FI_DEV_FB_USED", "{{Hostname}} GPU {{gpu}}")], "decmbytes"),
        ("GPU memory used %",
         [("100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)",
           "{{Hostname}} GPU {{gpu}}")], "percent"),
        ("GPU pods by namespace",
         [(f"count by (namespace) ({GPU_PODS})", "{{namespace}}")]),
    ]), [])


def tenant_gpu_dashboard() -> dict:
    tenant = {"name": "tenant", "type": "query", "label": "Tenant",
              "datasource": {"type": "prometheus", "uid": "${datasource}"},
              "query": {"query": TENANT_QUERY, "refId": "tenant"}, "definition": TENANT_QUERY,
              "refresh": 2, "includeAll": False, "multi": False, "current": {}, "hide": 0}
    ns = 'namespace="$tenant"'
    return _dashboard("gpu-lab-tenant-gpus", "gpu-lab / Tenant GPUs", _layout([
        ("GPU requests vs quota", [
            (f'sum(kube_resourcequota{{{ns}, {QUOTA_GPU}, type="used"}})', "requested"),
            (f'sum(kube_resourcequota{{{ns}, {QUOTA_GPU}, type="hard"}})', "quota")]),
        ("GPU utilization of the tenant's pods",
         [(f"avg by (pod) (DCGM_FI_DEV_GPU_UTIL{{{ns}}})", "{{pod}}")], "percent"),
        ("GPU memory used by the tenant's pods",
         [(f"sum by (pod) (DCGM_FI_DEV_FB_USED{{{ns}}})", "{{pod}}")], "decmbytes"),
        ("Pending GPU pods", [
            (f'count(sum by (namespace, pod) (kube_pod_status_phase{{{ns}, phase="Pending"}}) > 0 '
             f"and on (namespace, pod) {GPU_PODS}) or vector(0)", "pending")]),
        ("Container restarts (1h)",
         [(f"sum by (pod) (increase(kube_pod_container_status_restarts_total{{{ns}}}[1h]))",
           "{{pod}}")]),
        ("Requested GPUs by pod",
         [(f"sum by (pod) (kube_pod_container_resource_requests{{{ns}, {POD_GPU}}})",
           "{{pod}}")]),
        ("Inference samples/s by pod",
         [(f"sum by (pod) (gpu_lab_inference_samples_per_second{{{ns}}})", "{{pod}}")]),
        ("Inference device by pod",
         [(f"max by (pod, device, gpu_name) (gpu_lab_inference_device_info{{{ns}}})",
           "{{pod}}: {{device}} {{gpu_name}}")]),
    ]), [tenant])


DASHBOARDS = {
    "gpu-lab-cluster-gpus.json": cluster_gpu_dashboard,
    "gpu-lab-tenant-gpus.json": tenant_gpu_dashboard,
}


def dashboard_json(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2, sort_keys=True)
