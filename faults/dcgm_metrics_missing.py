"""Prometheus does not scrape the DCGM exporter: no GPU metrics anywhere."""

from faults import edit, parts
from faults.base import Fault, Unmet


def inject(spec):
    if not spec.addons.monitoring.enabled:
        raise Unmet("id", "dcgm-metrics-missing", "needs gpu-lab:addons.monitoring.enabled")
    if spec.platform == "gke" and not spec.addons.gpu_operator.enabled:
        raise Unmet("id", "dcgm-metrics-missing", "needs the GPU Operator "
                    "(gpu-lab:addons.gpuOperator.enabled), which runs the DCGM exporter")
    return edit.gpu_operator(spec, service_monitor=False)


FAULT = Fault(
    id="dcgm-metrics-missing",
    title="DCGM GPU metrics are not collected",
    part=parts.PAIRING_5,
    layer="cluster",
    params=(),
    task="The GPU dashboards in Grafana are empty. Find out why Prometheus has no GPU metrics "
         "and fix it.",
    symptom="Prometheus: DCGM_FI_DEV_GPU_UTIL -> no data; Status > Targets has no "
            "nvidia-dcgm-exporter job\n"
            "kubectl get pods -n gpu-operator -l app=nvidia-dcgm-exporter   # Running\n"
            "kubectl get servicemonitors -A | grep dcgm                      # nothing\n"
            "Alert DcgmExporterDown fires once GPU nodes exist.",
    hints=("The exporter pods run. Is anything telling Prometheus to scrape them?",
           "Prometheus (the operator) discovers targets through ServiceMonitor and PodMonitor "
           "objects. Which one would cover the DCGM exporter?",
           "The GPU Operator creates the exporter's ServiceMonitor only when "
           "dcgmExporter.serviceMonitor.enabled is true in its Helm values."),
    fix="Set gpu-lab:addons.gpuOperator.serviceMonitor back to true (Helm value "
        "dcgmExporter.serviceMonitor.enabled) and apply it (`gpu-lab apply`); the "
        "nvidia-dcgm-exporter target appears and DCGM_FI_DEV_GPU_UTIL has series per GPU.",
    look_for="Goes from the empty panel to the query, from the query to the targets page, from "
             "targets to ServiceMonitors; knows the exporter port (9400) can be curl'ed directly; "
             "knows why honorLabels matters for per-pod GPU attribution.",
    check="dcgm-not-scraped",
    inject=inject,
    targets=lambda spec: {"dcgm"},
    evidence=lambda spec: {"no target nvidia-dcgm-exporter", "alert DcgmExporterDown"},
    # No DCGM series anywhere, so no rule over them can fire either.
    hides=lambda spec: {"series DCGM_* of *", "alert GpuAllocatedButIdle for *"},
)
