"""The metrics the monitoring stack exports, with their label names, and a PromQL linter
that checks an expression only uses those.

Sources: dcgm-exporter's default counters (as exported by the GPU Operator and by the
fake GPU operator), kube-state-metrics v2 metric docs, node-exporter, and the metrics
workload/infer.py defines. Every scraped
series also carries the target labels Prometheus's Kubernetes discovery adds.
"""

from __future__ import annotations

import re

TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "endpoint", "container"}
DCGM_LABELS = {"gpu", "UUID", "device", "modelName", "Hostname", "pci_bus_id",
               "DCGM_FI_DRIVER_VERSION", "container", "namespace", "pod"}

METRICS: dict[str, set[str]] = {
    # DCGM exporter (utilization in %, framebuffer in MiB)
    "DCGM_FI_DEV_GPU_UTIL": DCGM_LABELS,
    "DCGM_FI_DEV_FB_USED": DCGM_LABELS,
    "DCGM_FI_DEV_FB_FREE": DCGM_LABELS,
    "DCGM_FI_DEV_MEM_COPY_UTIL": DCGM_LABELS,
    "DCGM_FI_DEV_POWER_USAGE": DCGM_LABELS,
    # kube-state-metrics
    "kube_node_status_allocatable": {"node", "resource", "unit"},
    "kube_node_status_capacity": {"node", "resource", "unit"},
    "kube_node_labels": {"node", "label_gpu_lab_accelerator"},
    "kube_pod_container_resource_requests": {"namespace", "pod", "uid", "container", "node",
                                             "resource", "unit"},
    "kube_pod_container_resource_limits": {"namespace", "pod", "uid", "container", "node",
                                           "resource", "unit"},
    "kube_resourcequota": {"namespace", "resourcequota", "resource", "type"},
    "kube_deployment_spec_replicas": {"namespace", "deployment"},
    "kube_deployment_status_replicas": {"namespace", "deployment"},
    "kube_pod_status_phase": {"namespace", "pod", "uid", "phase"},
    "kube_pod_status_unschedulable": {"namespace", "pod", "uid"},
    "kube_pod_info": {"namespace", "pod", "uid", "node", "host_ip", "pod_ip", "created_by_kind",
                      "created_by_name", "priority_class", "host_network"},
    "kube_pod_container_status_restarts_total": {"namespace", "pod", "uid", "container"},
    "kube_pod_container_status_waiting_reason": {"namespace", "pod", "uid", "container",
                                                 "reason"},
    "kube_namespace_labels": {"namespace", "label_tenant", "label_team", "label_cost_center",
                              "label_gpu_lab_tenant"},
    # node exporter
    "node_cpu_seconds_total": {"cpu", "mode"},
    "node_memory_MemAvailable_bytes": set(),
    # workload/infer.py, scraped through each workload's PodMonitor
    "gpu_lab_inference_batches_total": set(),
    "gpu_lab_inference_samples_total": set(),
    "gpu_lab_inference_samples_per_second": set(),
    "gpu_lab_inference_batch_latency_seconds_bucket": {"le"},
    "gpu_lab_inference_device_info": {"device", "gpu_name"},
    "gpu_lab_inference_gpu_memory_allocated_bytes": set(),
    # Prometheus itself
    "up": set(),
}

FUNCTIONS = {"sum", "avg", "min", "max", "count", "count_values", "topk", "bottomk", "quantile",
             "stddev", "stdvar", "group", "rate", "irate", "increase", "delta", "idelta",
             "avg_over_time", "max_over_time", "min_over_time", "sum_over_time",
             "count_over_time", "absent", "absent_over_time", "vector", "scalar", "abs",
             "clamp_min", "clamp_max", "round", "ceil", "floor", "histogram_quantile",
             "label_replace", "label_join", "time", "timestamp", "sort", "sort_desc",
             }
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "inf", "nan"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\"(?:[^\"\\\\]|\\\\.)*\"")
GRAFANA_VARIABLES = re.compile(r"\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?")


def lint(expr: str) -> list[str]:
    """Problems with one PromQL expression: unknown metrics, functions or labels.
    Also takes Grafana's label_values(<selector>, <label>) variable queries."""
    variable = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*", expr)
    if variable:
        query, label = variable.groups()
        problems = lint(query)
        metric = re.match(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", query)
        known = METRICS.get(metric.group(1), set()) if metric else set()
        if label not in known | TARGET_LABELS:
            problems.append(f"label_values over {label!r}, which the query's metric lacks")
        return problems
    problems: list[str] = []
    text = GRAFANA_VARIABLES.sub("x", expr)
    used_metrics: list[str] = []

    def selector(match: re.Match) -> str:
        metric, body = match.group(1), match.group(2)
        labels = [m.group(1) for m in MATCHER.finditer(body)]
        if metric and metric not in FUNCTIONS | KEYWORDS:
            known = METRICS.get(metric)
            if known is None:
                problems.append(f"unknown metric {metric!r}")
            else:
                used_metrics.append(metric)
                problems.extend(f"{metric} has no label {label!r}" for label in labels
                                if label not in known | TARGET_LABELS | {"__name__"})
        return " "

    text = SELECTOR.sub(selector, text)
    text = re.sub(r"\[[^\]]*\]", " ", text)           # range selectors and subqueries
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", text)     # remaining strings
    grouping_labels: list[str] = []

    def grouping(match: re.Match) -> str:
        grouping_labels.extend(l.strip() for l in match.group(2).split(",") if l.strip())
        return " "

    text = GROUPING.sub(grouping, text)
    for match in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if word in KEYWORDS or re.fullmatch(r"\d+(e\d+)?|[0-9.]+[smhdwy]", word):
            continue
        if call:
            if word not in FUNCTIONS:
                problems.append(f"unknown function {word!r}")
        elif word in METRICS:
            used_metrics.append(word)
        else:
            problems.append(f"unknown metric {word!r}")
    available = set().union(*(METRICS[m] for m in used_metrics), TARGET_LABELS) \
        if used_metrics else TARGET_LABELS
    problems.extend(f"grouping by {label!r}, which no metric in the expression has"
                    for label in grouping_labels if label not in available)
    return problems
