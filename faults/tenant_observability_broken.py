"""One tenant's workload is invisible: its PodMonitor scrapes a port the pod does not name,
and it logs to a file instead of stdout."""

from dataclasses import replace

from faults import edit, parts
from faults.base import Fault, Param

WRONG_PORT = "http-metrics"
# In the container's /tmp (an emptyDir), which nothing streams to stdout.
LOG_FILE = "/tmp/infer.log"


def inject(spec, workload):
    job = edit.find_workload(spec, workload)
    return edit.workload(spec, workload, args=job.args + ("--log-file", LOG_FILE),
                         pod_metrics_endpoint=replace(job.pod_metrics_endpoint, port=WRONG_PORT))


def details(spec, workload):
    return {**edit.workload_names(spec, workload), "port": WRONG_PORT}


FAULT = Fault(
    id="tenant-observability-broken",
    title="{workload} is invisible to Prometheus and kubectl logs",
    part=parts.PAIRING_4,
    layer="workload",
    params=(Param("workload", "workload", "tenant-a/infer", "the workload that goes dark"),),
    task="Observability is broken for one tenant: fix missing logs and ensure per-tenant "
         "monitoring.",
    symptom="kubectl logs -n {tenant} deploy/{name}\n"
            "(nothing)\n"
            "Prometheus: gpu_lab_inference_batches_total{{job=\"{tenant}/{name}\"}} -> no data, "
            "while other workloads have series; Status > Targets shows no {tenant}/{name} "
            "target",
    hints=("The pod is Running: where do its logs go, and what does Prometheus scrape?",
           "Compare the PodMonitor's podMetricsEndpoints port with the container's named ports, "
           "and read the container's args.",
           "The PodMonitor scrapes port '{port}' (the container calls it 'metrics'), and infer.py "
           "is started with --log-file."),
    fix="Set the workload's podMetricsEndpoint.port back to metrics (the container's port "
        "name) and drop --log-file from its args, so the container logs to stdout; apply the "
        "change. The target appears under Status > Targets and `kubectl logs` shows JSON "
        "lines.",
    look_for="Checks Prometheus targets and the PodMonitor/ServiceMonitor selector and port by name; "
             "knows kubectl logs only shows stdout/stderr; thinks about per-tenant scraping (the "
             "monitoring namespace may scrape tenant pods only on the metrics port).",
    check="tenant-observability-broken",
    inject=inject,
    targets=lambda spec, workload: {f"workload:{workload}"},
    details=details,
    evidence=lambda spec, workload: {f"no series gpu_lab_inference_batches_total of {workload}",
                                     "series gpu_lab_inference_batches_total of another workload",
                                     f"running {workload}"},
    # Its program logs to a file and is scraped on no port: no logs, none of its own series.
    hides=lambda spec, workload: {f"log {workload}", f"series gpu_lab_* of {workload}"},
    edits=lambda spec, workload: {f"log-file:{workload}", f"metrics-endpoint:{workload}"},
)
