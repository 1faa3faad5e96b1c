"""What the platform runs for Prometheus that a rendering does not show: the charts' own
monitors, the Services they select and the pods behind them, and the monitors the add-ons
create once they run.

A rendering holds gpu-lab's own objects and the Helm releases' values, not what the charts
make of them. What stands in here is taken from the pinned charts and operators, as data:

- kube-prometheus-stack 88.5.3 (templates/{prometheus,alertmanager,prometheus-operator}/
  service.yaml and servicemonitor.yaml; templates/exporters/{kubelet,kube-api-server,
  core-dns,kube-dns}/; its values.yaml for ports, jobLabel and the kubelet's paths and
  `metrics_path` relabeling) and its subcharts kube-state-metrics 8.4.0 and
  prometheus-node-exporter 4.56.1 (templates/service.yaml, servicemonitor.yaml: job from
  the jobLabel, honorLabels on kube-state-metrics), grafana (its ServiceMonitor on
  http-web);
- the prometheus-operator's kubelet Service (pkg/kubelet: kube-system/<release>-kubelet,
  one address per node, ports https-metrics 10250, http-metrics 10255, cadvisor 4194);
- the API server's `default/kubernetes` Service (component=apiserver,
  provider=kubernetes, port https, the control plane's address);
- the cluster DNS: GKE's kube-dns (metrics on 10054 and 10055) or CoreDNS (9153), two
  replicas labelled k8s-app=kube-dns in kube-system;
- NVIDIA/gpu-operator v26.3.3 assets/state-dcgm-exporter (0400_service.yaml,
  0500_service_monitor.yaml when dcgmExporter.serviceMonitor.enabled, 0800_daemonset.yaml:
  on GPU nodes not labelled nvidia.com/gpu.deploy.dcgm-exporter or .operands=false, its
  images from nvcr.io) and run:ai's fake-gpu-operator (the exporter Service gpu-lab's own
  ServiceMonitor selects, on the nodes it simulates GPUs on).

The add-ons' pods run (Running and ready) wherever they are placed, except where their
image cannot be pulled (nvcr.io from a node without the internet: ImagePullBackOff); the
charts' Deployments go to the system pool (kind: the control plane node), DaemonSets to
every node they tolerate and select.
"""

from __future__ import annotations

import hashlib
from typing import Any, Optional

from kube.nodes import OPERATOR_REGISTRY, pool_network
from kube.objects import ObjectSet
from kube.prometheus_operator import GROUP, _fullname, chart_component_monitors
from model import kind
from model.spec import NO_OPERATOR_OPERANDS_LABEL, POOL_LABEL, LabSpec

CHART = "kube-prometheus-stack"
DCGM_APP = "nvidia-dcgm-exporter"
DCGM_PORT = 9400
DCGM_SERVICE_PORT = "gpu-metrics"
DCGM_DEPLOY_LABEL = "nvidia.com/gpu.deploy.dcgm-exporter"
FAKE_POOL_LABEL = "run.ai/simulated-gpu-node-pool"
CONTROL_PLANE_IP = "172.16.0.2"


def ip(*parts: str, prefix: str = "10.4") -> str:
    """A stable address for a pod or node (what it is does not matter, that it is one)."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return f"{prefix}.{digest[0]}.{digest[1] % 254 + 1}"


def node_ip(name: str) -> str:
    return ip(name, prefix="10.128")


# -- monitors ------------------------------------------------------------------------------

def created_at_run_time(objects: ObjectSet) -> list[dict]:
    """What the add-ons create once they run: the GPU Operator's DCGM ServiceMonitor when
    its Helm values turn it on (assets/state-dcgm-exporter/0500_service_monitor.yaml, with
    the endpoint's honorLabels and interval from the Helm values)."""
    release = objects.get("HelmRelease", "gpu-operator", "gpu-operator")
    values = ((release or {}).get("spec") or {}).get("values") or {}
    dcgm = values.get("dcgmExporter") or {}
    if not release or not dcgm.get("enabled", True) or \
            not (dcgm.get("serviceMonitor") or {}).get("enabled"):
        return []
    namespace = release["metadata"].get("namespace") or "gpu-operator"
    endpoint = {"port": DCGM_SERVICE_PORT, "path": "/metrics",
                "honorLabels": bool(dcgm["serviceMonitor"].get("honorLabels", False)),
                "interval": dcgm["serviceMonitor"].get("interval", "15s")}
    return [{"apiVersion": f"{GROUP}/v1", "kind": "ServiceMonitor",
             "metadata": {"name": DCGM_APP, "namespace": namespace,
                          "labels": {"app": DCGM_APP}},
             "spec": {"selector": {"matchLabels": {"app": DCGM_APP}},
                      "namespaceSelector": {"matchNames": [namespace]},
                      "jobLabel": "app", "endpoints": [endpoint]}}]


def chart_release(objects: ObjectSet) -> Optional[dict]:
    return next((r for r in objects.of_kind("HelmRelease")
                 if (r.get("spec") or {}).get("chart") == CHART), None)


def _values(release: dict) -> dict[str, Any]:
    return (release.get("spec") or {}).get("values") or {}


def _enabled(values: dict, key: str, default: bool = True) -> bool:
    return bool((values.get(key) or {}).get("enabled", default))


METRICS_PATH = [{"action": "replace", "sourceLabels": ["__metrics_path__"],
                 "targetLabel": "metrics_path"}]
# The endpoints of the chart's monitors of the cluster's components (values.yaml defaults).
COMPONENT_ENDPOINTS = {
    "kubelet": ("k8s-app", [
        {"port": "https-metrics", "scheme": "https", "honorLabels": True,
         "relabelings": METRICS_PATH},
        {"port": "https-metrics", "scheme": "https", "path": "/metrics/cadvisor",
         "honorLabels": True, "relabelings": METRICS_PATH},
        {"port": "https-metrics", "scheme": "https", "path": "/metrics/probes",
         "honorLabels": True, "relabelings": METRICS_PATH}]),
    "apiserver": ("component", [{"port": "https", "scheme": "https"}]),
    "coredns": ("jobLabel", [{"port": "http-metrics"}]),
    "kube-dns": ("jobLabel", [{"port": "http-metrics-dnsmasq"},
                              {"port": "http-metrics-skydns"}]),
}


def chart_monitors(objects: ObjectSet) -> list[dict]:
    """The ServiceMonitors kube-prometheus-stack renders, as its values enable them."""
    release = chart_release(objects)
    if release is None:
        return []
    values = _values(release)
    name = release["metadata"]["name"]
    namespace = release["metadata"].get("namespace") or "monitoring"
    full = _fullname(name, values)

    def monitor(suffix, labels, endpoints, job_label=None, selector=None):
        spec = {"selector": {"matchLabels": selector},
                "namespaceSelector": {"matchNames": [namespace]}, "endpoints": endpoints}
        if job_label:
            spec["jobLabel"] = job_label
        return {"apiVersion": f"{GROUP}/v1", "kind": "ServiceMonitor",
                "metadata": {"name": f"{full}-{suffix}" if suffix else labels,
                             "namespace": namespace}, "spec": spec}

    self_monitored = [{"port": "http-web", "path": "/metrics"},
                      {"port": "reloader-web", "path": "/metrics"}]
    monitors = [monitor("prometheus", None, self_monitored, selector={
        "app": "kube-prometheus-stack-prometheus", "release": name, "self-monitor": "true"})]
    if _enabled(values, "alertmanager"):
        monitors.append(monitor("alertmanager", None, self_monitored, selector={
            "app": "kube-prometheus-stack-alertmanager", "release": name,
            "self-monitor": "true"}))
    monitors.append(monitor("operator", None, [{"port": "https", "scheme": "https"}],
                            selector={"app": "kube-prometheus-stack-operator",
                                      "release": name}))
    if _enabled(values, "grafana"):
        monitors.append(monitor(None, f"{name}-grafana", [{"port": "http-web",
                                                           "path": "/metrics"}],
                                selector={"app.kubernetes.io/name": "grafana",
                                          "app.kubernetes.io/instance": name}))
    if _enabled(values, "kubeStateMetrics"):
        monitors.append(monitor("kube-state-metrics", None, [{"port": "http",
                                                              "honorLabels": True}],
                                job_label="app.kubernetes.io/name",
                                selector={"app.kubernetes.io/name": "kube-state-metrics",
                                          "app.kubernetes.io/instance": name}))
    if _enabled(values, "nodeExporter"):
        monitors.append(monitor("prometheus-node-exporter", None, [{"port": "http-metrics"}],
                                job_label="jobLabel",
                                selector={"app.kubernetes.io/name": "prometheus-node-exporter",
                                          "app.kubernetes.io/instance": name}))
    for placed in chart_component_monitors(name, namespace, values):
        suffix = placed["metadata"]["name"][len(full) + 1:]
        job_label, endpoints = COMPONENT_ENDPOINTS[suffix]
        placed["spec"]["jobLabel"] = job_label
        placed["spec"]["endpoints"] = [dict(e) for e in endpoints]
        monitors.append(placed)
    return monitors


# -- the Services and pods behind them --------------------------------------------------

def _service(name, namespace, labels, selector, ports, endpoints=None) -> dict:
    """A Service; `endpoints` (a list of (target kind, name, ip)) stands for an Endpoints
    object the platform maintains itself (no selector: the kubelet's, the API server's)."""
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": namespace, "labels": labels},
               "spec": {"ports": ports}}
    if selector is not None:
        service["spec"]["selector"] = selector
    if endpoints is not None:
        service["endpoints"] = endpoints
    return service


def _pod(name, namespace, labels, node, ports, status="Running", container="main") -> dict:
    ready = status == "Running"
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": container, "ports": ports}]},
            "status": {"phase": "Running" if ready else "Pending",
                       "podIP": ip(namespace, name),
                       "containerStatuses": [{"name": container, "ready": ready,
                                              "restartCount": 0, "state": {
                                                  "running": {}} if ready else {"waiting": {
                                                      "reason": status}}}]}}


def _suffix(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:5]


def control_plane_node(spec: LabSpec) -> Optional[dict]:
    """kind's control plane node, which the stack's pools do not list (platform existing):
    the charts' Deployments and the cluster DNS run there."""
    if spec.platform != "existing":
        return None
    name = kind.control_plane(kind.cluster_name(spec.cluster.kube_context) or "kind")
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "node-role.kubernetes.io/control-plane": ""}},
            "spec": {"taints": []}, "status": {"allocatable": {}, "capacity": {}}}


def _system_node(spec: LabSpec, nodes: list[dict]) -> str:
    for node in nodes:
        if node["metadata"]["labels"].get(POOL_LABEL) == spec.system_pool.name or \
                "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]:
            return node["metadata"]["name"]
    return nodes[0]["metadata"]["name"] if nodes else "node"


def _avoided(values: dict, key: str) -> set[str]:
    """Pools a subchart's affinity keeps its pods off (components/placement.avoid_pools)."""
    affinity = (values.get(key) or {}).get("affinity") or {}
    terms = (((affinity.get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
             .get("nodeSelectorTerms") or [])
    return {v for term in terms for e in term.get("matchExpressions") or []
            if e.get("key") == POOL_LABEL and e.get("operator") == "NotIn"
            for v in e.get("values") or []}


def platform_objects(spec: LabSpec, objects: ObjectSet, nodes: list[dict]) -> list[dict]:
    """The Services (with what their Endpoints hold) and pods the charts and the cluster run
    for Prometheus to scrape, and kind's control plane node when the stack is on kind."""
    made: list[dict] = []
    extra = control_plane_node(spec)
    if extra is not None:
        nodes = [extra, *nodes]
        made.append(extra)
    system = _system_node(spec, nodes)
    release = chart_release(objects)
    if release is not None:
        made += _chart_objects(release, nodes, system)
    made += _cluster_objects(spec, release, nodes, system)
    made += _dcgm_objects(spec, objects, nodes)
    return made


def _chart_objects(release: dict, nodes: list[dict], system: str) -> list[dict]:
    values = _values(release)
    name = release["metadata"]["name"]
    namespace = release["metadata"].get("namespace") or "monitoring"
    full = _fullname(name, values)
    made: list[dict] = []

    def deployment(service, labels, ports, pod_name, container):
        made.append(_service(service, namespace, labels, dict(labels),
                             [{"name": p["name"], "port": p["containerPort"],
                               "targetPort": p["name"]} for p in ports]))
        made.append(_pod(pod_name, namespace, dict(labels), system, ports, container=container))

    web = [{"name": "http-web", "containerPort": 9090},
           {"name": "reloader-web", "containerPort": 8080}]
    prometheus = {"app": "kube-prometheus-stack-prometheus", "release": name,
                  "self-monitor": "true", "app.kubernetes.io/name": "prometheus",
                  "operator.prometheus.io/name": f"{full}-prometheus"}
    deployment(f"{full}-prometheus", prometheus, web, f"prometheus-{full}-prometheus-0",
               "prometheus")
    if _enabled(values, "alertmanager"):
        deployment(f"{full}-alertmanager",
                   {"app": "kube-prometheus-stack-alertmanager", "release": name,
                    "self-monitor": "true", "app.kubernetes.io/name": "alertmanager"},
                   [{"name": "http-web", "containerPort": 9093},
                    {"name": "reloader-web", "containerPort": 8080}],
                   f"alertmanager-{full}-alertmanager-0", "alertmanager")
    deployment(f"{full}-operator", {"app": "kube-prometheus-stack-operator", "release": name},
               [{"name": "https", "containerPort": 10250}],
               f"{full}-operator-{_suffix(name, 'operator')}", "kube-prometheus-stack")
    if _enabled(values, "grafana"):
        deployment(f"{name}-grafana", {"app.kubernetes.io/name": "grafana",
                                       "app.kubernetes.io/instance": name},
                   [{"name": "http-web", "containerPort": 3000}],
                   f"{name}-grafana-{_suffix(name, 'grafana')}", "grafana")
    if _enabled(values, "kubeStateMetrics"):
        deployment(f"{name}-kube-state-metrics",
                   {"app.kubernetes.io/name": "kube-state-metrics",
                    "app.kubernetes.io/instance": name},
                   [{"name": "http", "containerPort": 8080}],
                   f"{name}-kube-state-metrics-{_suffix(name, 'ksm')}", "kube-state-metrics")
    if _enabled(values, "nodeExporter"):
        labels = {"app.kubernetes.io/name": "prometheus-node-exporter",
                  "app.kubernetes.io/instance": name}
        service = f"{name}-prometheus-node-exporter"
        made.append(_service(service, namespace, {**labels, "jobLabel": "node-exporter"},
                             dict(labels), [{"name": "http-metrics", "port": 9100,
                                             "targetPort": 9100}]))
        avoided = _avoided(values, "prometheus-node-exporter")
        for node in nodes:
            if node["metadata"]["labels"].get(POOL_LABEL) in avoided:
                continue
            node_name = node["metadata"]["name"]
            pod = _pod(f"{service}-{_suffix(node_name)}", namespace,
                       {**labels, "jobLabel": "node-exporter"}, node_name,
                       [{"name": "http-metrics", "containerPort": 9100}],
                       container="node-exporter")
            pod["status"]["podIP"] = node_ip(node_name)       # hostNetwork
            made.append(pod)
    return made


def _cluster_objects(spec: LabSpec, release: Optional[dict], nodes: list[dict],
                     system: str) -> list[dict]:
    made: list[dict] = []
    name = release["metadata"]["name"] if release else CHART
    values = _values(release) if release else {}
    full = _fullname(name, values)
    node_addresses = [("Node", n["metadata"]["name"], node_ip(n["metadata"]["name"]))
                      for n in nodes]
    made.append(_service(f"{full}-kubelet", "kube-system",
                         {"k8s-app": "kubelet", "app.kubernetes.io/name": "kubelet",
                          "app.kubernetes.io/managed-by": "prometheus-operator"}, None,
                         [{"name": "https-metrics", "port": 10250},
                          {"name": "http-metrics", "port": 10255},
                          {"name": "cadvisor", "port": 4194}], endpoints=node_addresses))
    made.append(_service("kubernetes", "default",
                         {"component": "apiserver", "provider": "kubernetes"}, None,
                         [{"name": "https", "port": 443}],
                         endpoints=[(None, None, CONTROL_PLANE_IP)]))
    dns = {"k8s-app": "kube-dns"}
    if spec.platform == "gke":
        ports = [{"name": "metrics-dnsmasq", "containerPort": 10054},
                 {"name": "metrics-skydns", "containerPort": 10055}]
        made.append(_service(f"{full}-kube-dns", "kube-system",
                             {"app": f"{CHART}-kube-dns", "release": name,
                              "jobLabel": "kube-dns"}, dict(dns),
                             [{"name": "http-metrics-dnsmasq", "port": 10054,
                               "targetPort": 10054},
                              {"name": "http-metrics-skydns", "port": 10055,
                               "targetPort": 10055}]))
        made += [_pod(f"kube-dns-{_suffix('kube-dns')}-{_suffix('kube-dns', str(i))}",
                      "kube-system", dict(dns), system, ports, container="kubedns")
                 for i in range(2)]
    else:
        made.append(_service(f"{full}-coredns", "kube-system",
                             {"app": f"{CHART}-coredns", "release": name,
                              "jobLabel": "coredns"}, dict(dns),
                             [{"name": "http-metrics", "port": 9153, "targetPort": 9153}]))
        made += [_pod(f"coredns-{_suffix('coredns')}-{_suffix('coredns', str(i))}",
                      "kube-system", dict(dns), system,
                      [{"name": "metrics", "containerPort": 9153}], container="coredns")
                 for i in range(2)]
    return made


def _operator_release(objects: ObjectSet) -> Optional[dict]:
    return objects.get("HelmRelease", "gpu-operator", "gpu-operator") or \
        objects.get("HelmRelease", "fake-gpu-operator", "gpu-operator")


def _dcgm_objects(spec: LabSpec, objects: ObjectSet, nodes: list[dict]) -> list[dict]:
    release = _operator_release(objects)
    if release is None:
        return []
    namespace = release["metadata"].get("namespace") or "gpu-operator"
    fake = release["metadata"]["name"] == "fake-gpu-operator"
    values = _values(release)
    if not fake and not (values.get("dcgmExporter") or {}).get("enabled", True):
        return []
    labels = {"app": DCGM_APP}
    made = [_service(DCGM_APP, namespace, dict(labels), dict(labels),
                     [{"name": DCGM_SERVICE_PORT, "port": DCGM_PORT, "targetPort": DCGM_PORT,
                       "protocol": "TCP"}])]
    pools = {p.name: p for p in spec.gpu_pools}
    for node in nodes:
        node_labels = node["metadata"]["labels"]
        pool = pools.get(node_labels.get(POOL_LABEL))
        if pool is None:
            continue
        if fake:
            if not pool.operator_plugin_allowed:     # no FAKE_POOL_LABEL on its nodes
                continue
            status = "Running"
        else:
            if node_labels.get(NO_OPERATOR_OPERANDS_LABEL) == "false" or \
                    node_labels.get(DCGM_DEPLOY_LABEL) == "false":
                continue
            reaches = pool_network(pool, objects).reaches_registry(OPERATOR_REGISTRY)
            status = "Running" if reaches else "Init:ImagePullBackOff"
        node_name = node["metadata"]["name"]
        made.append(_pod(f"{DCGM_APP}-{_suffix(node_name)}", namespace, dict(labels),
                         node_name, [{"name": "metrics", "containerPort": DCGM_PORT}],
                         status=status, container=DCGM_APP))
    return made
