"""The scrape targets the Prometheus operator makes of every ServiceMonitor and PodMonitor,
and whether each is up.

Ported from prometheus-operator v0.93 (the version kube-prometheus-stack 88.5.3 runs),
pkg/prometheus/promcfg.go:
- generateServiceMonitorConfig: the endpoints role in the namespaces the monitor looks in
  (kube/prometheus_operator.py); keep the Services whose labels match the selector, the
  endpoint port by name (`port`, __meta_kubernetes_endpoint_port_name) or the container port
  by name or number (`targetPort`); `node` from a Node address target, `pod` from a Pod's,
  `namespace`, `service`, `pod`, `container`; drop pods in phase Failed or Succeeded
  (generateRunningFilter, unless filterRunning: false); targetLabels from the Service,
  podTargetLabels from the pod; `job` from the Service's name, or its `jobLabel` label when
  set; `endpoint` from the port; the endpoint's relabelings; then the enforced namespace
  label (namespacelabeler, unless excluded) on the target and on every sample;
- generatePodMonitorConfig: the pod role; the running filter; keep the pods whose labels
  match; the container port by name (`port`), number (`portNumber`) or `targetPort`;
  `namespace`, `container`, `pod`; `job` = <namespace>/<name>, or the pod's `jobLabel`
  label; `endpoint`; relabelings; the enforced namespace label.
Prometheus itself (discovery/kubernetes/endpoints.go and pod.go) gives each address and
port a target with `instance` = <ip>:<port>; pods without an IP (unscheduled) have none.

Which pods stand behind a Service follows the endpoints controller
(kubernetes pkg/controller/endpoint/endpoints_controller.go, syncService): pods matching
the Service's selector in its namespace, with an IP, and not terminal for their restart
policy (pkg/controller/util/endpoint/controller_utils.go, ShouldPodBeInEndpoints); a named
targetPort resolves to the container port of that name (pkg/api/v1/pod/util.go, FindPort),
and a pod without it is left out of that port; ready pods are addresses, the others
notReadyAddresses, which Prometheus still scrapes.

A target is up when its pod runs and is ready and a NetworkPolicy lets the Prometheus pod
(namespace monitoring) reach the port; a node's kubelet and the API server are up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

from kube.netpol import ingress_allowed
from kube.objects import ObjectSet
from kube.prometheus_operator import excluded, monitor_namespaces
from kube.selectors import selector_matches

PROMETHEUS_NAMESPACE = "monitoring"
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}


@dataclass
class Target:
    labels: dict[str, str]           # the target's labels once relabeled (job, instance, ...)
    up: bool
    monitor: str                     # <Kind>/<namespace>/<name>
    honor_labels: bool = False
    metrics_path: str = "/metrics"
    pod: Optional[dict] = None       # the pod scraped, if a pod
    node: Optional[str] = None       # the node scraped (a kubelet), or the pod's node
    # (label, namespace): enforcedNamespaceLabel, set on every sample as on the target
    enforced: Optional[tuple[str, str]] = None
    why_down: str = ""

    @property
    def job(self) -> str:
        return self.labels.get("job", "")


@dataclass
class _Address:
    ip: str
    port: int
    port_name: str
    ready: bool
    kind: Optional[str] = None       # Pod, Node or None
    name: Optional[str] = None
    pod: Optional[dict] = None
    container: Optional[str] = None


def sanitize(name: str) -> str:
    """promcfg.go sanitizeLabelName: invalid characters become underscores."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _ports(pod: dict) -> list[tuple[str, dict]]:
    return [(c.get("name", ""), p) for c in (pod.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or []]


def find_port(pod: dict, target) -> Optional[tuple[int, str]]:
    """pkg/api/v1/pod/util.go FindPort: (port number, container) a Service targetPort names
    in this pod; a number is taken as is."""
    if isinstance(target, (int, float)) or (isinstance(target, str) and target.isdigit()):
        number = int(float(target))
        container = next((c for c, p in _ports(pod) if int(p.get("containerPort", -1)) ==
                          number), None)
        return number, container
    for container, port in _ports(pod):
        if port.get("name") == target and port.get("protocol", "TCP") == "TCP":
            return int(port["containerPort"]), container
    return None


def should_be_in_endpoints(pod: dict) -> bool:
    """controller_utils.go ShouldPodBeInEndpoints (no deletion timestamps offline)."""
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return False
    phase = status.get("phase")
    policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
    if policy == "Never":
        return phase not in ("Failed", "Succeeded")
    if policy == "OnFailure":
        return phase != "Succeeded"
    return True


def pod_ready(pod: dict) -> bool:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    return status.get("phase") == "Running" and bool(statuses) and \
        all(s.get("ready") for s in statuses)


def endpoints(service: dict, pods: list[dict]) -> list[_Address]:
    """The addresses the Service's Endpoints hold, one per (address, port)."""
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    if "endpoints" in service:           # maintained by the platform (kubelet, API server)
        return [_Address(ip, int(p["port"]), p.get("name", ""), True, kind, name)
                for kind, name, ip in service["endpoints"] for p in ports]
    selector = spec.get("selector")
    if not selector:
        return []
    namespace = service["metadata"].get("namespace")
    found = []
    for pod in pods:
        meta = pod["metadata"]
        if meta.get("namespace") != namespace or \
                not selector_matches({"matchLabels": selector}, meta.get("labels") or {}) or \
                not should_be_in_endpoints(pod):
            continue
        for port in ports:
            resolved = find_port(pod, port.get("targetPort", port.get("port")))
            if resolved is None:
                continue
            number, container = resolved
            found.append(_Address(pod["status"]["podIP"], number, port.get("name", ""),
                                  pod_ready(pod), "Pod", meta["name"], pod, container))
    return found


def selects_monitor(prometheus: dict, monitor: dict, release: str) -> bool:
    """The chart's serviceMonitorSelector/podMonitorSelector: every monitor when
    *SelectorNilUsesHelmValues is false, else those labelled release=<release>."""
    key = "serviceMonitorSelectorNilUsesHelmValues" if monitor["kind"] == "ServiceMonitor" \
        else "podMonitorSelectorNilUsesHelmValues"
    if not prometheus.get(key, True):
        return True
    return ((monitor.get("metadata") or {}).get("labels") or {}).get("release") == release


def _relabel(labels: dict[str, str], rules: Iterable[dict]) -> dict[str, str]:
    """Prometheus' relabel `replace` (the only action the monitors here use on targets)."""
    for rule in rules or []:
        action = rule.get("action", "replace").lower()
        source = ";".join(labels.get(s, "") for s in rule.get("sourceLabels") or [])
        regex = re.compile(f"^(?:{rule.get('regex', '(.*)')})$")
        match = regex.match(source)
        if action == "replace" and match:
            value = match.expand(rule.get("replacement", "$1").replace("$", "\\"))
            if value:
                labels[rule["targetLabel"]] = value
            else:
                labels.pop(rule["targetLabel"], None)
    return labels


def _meta_of(address: _Address) -> dict[str, str]:
    """Some of the __meta_kubernetes_* labels Prometheus' discovery gives a pod target, for
    the monitors' own relabelings."""
    pod = address.pod
    if pod is None:
        return {}
    meta = {"__meta_kubernetes_pod_name": pod["metadata"]["name"],
            "__meta_kubernetes_pod_ready": "true" if pod_ready(pod) else "false",
            "__meta_kubernetes_pod_phase": (pod.get("status") or {}).get("phase", ""),
            "__meta_kubernetes_pod_node_name": (pod.get("spec") or {}).get("nodeName", ""),
            "__meta_kubernetes_pod_container_name": address.container or "",
            "__meta_kubernetes_pod_container_port_name": address.port_name}
    for key, value in (pod["metadata"].get("labels") or {}).items():
        meta[f"__meta_kubernetes_pod_label_{sanitize(key)}"] = value
    return meta


def _service_meta(service: dict, address: _Address) -> dict[str, str]:
    meta = {"__meta_kubernetes_service_name": service["metadata"]["name"],
            "__meta_kubernetes_endpoint_port_name": address.port_name,
            "__meta_kubernetes_endpoint_ready": "true" if address.ready else "false"}
    for key, value in (service["metadata"].get("labels") or {}).items():
        meta[f"__meta_kubernetes_service_label_{sanitize(key)}"] = value
    return meta


class Discovery:
    """The targets of every monitor over a cluster's objects (Services, pods with their
    status, NetworkPolicies, monitors), as the Prometheus `prometheus` spec configures."""

    def __init__(self, objects: ObjectSet, prometheus: dict, release: str = ""):
        self.objects = objects
        self.prometheus = prometheus
        self.release = release
        self.ignore = bool(prometheus.get("ignoreNamespaceSelectors"))
        self.pods = objects.of_kind("Pod")

    def _looks_in(self, monitor: dict, namespace: str) -> bool:
        namespaces = monitor_namespaces(monitor, self.ignore)
        return namespaces is None or namespace in namespaces

    def _enforced(self, monitor: dict) -> Optional[tuple[str, str]]:
        """namespacelabeler.GetRelabelingConfigs: `<enforcedNamespaceLabel> := the monitor's
        namespace` last, unless the monitor is excluded."""
        label = self.prometheus.get("enforcedNamespaceLabel")
        if not label or \
                excluded(monitor, self.prometheus.get("excludedFromEnforcement") or []):
            return None
        return label, monitor["metadata"].get("namespace")

    def _reachable(self, pod: dict, port: int) -> tuple[bool, str]:
        namespace = pod["metadata"]["namespace"]
        answer = ingress_allowed(self.objects, PROMETHEUS_NAMESPACE, namespace, port,
                                 from_labels=PROMETHEUS_POD_LABELS,
                                 to_labels=pod["metadata"].get("labels") or {})
        return bool(answer), "" if answer else answer.reason

    def targets(self) -> list[Target]:
        found: list[Target] = []
        for monitor in self.objects.of_kind("ServiceMonitor"):
            if selects_monitor(self.prometheus, monitor, self.release):
                found += self.service_monitor(monitor)
        for monitor in self.objects.of_kind("PodMonitor"):
            if selects_monitor(self.prometheus, monitor, self.release):
                found += self.pod_monitor(monitor)
        return found

    def _finish(self, monitor: dict, endpoint: dict, labels: dict, address: _Address,
                path: str, meta: Optional[dict] = None) -> Target:
        labels = {**(meta or {}), **_meta_of(address), **labels, "__metrics_path__": path}
        labels = _relabel(labels, endpoint.get("relabelings"))
        enforced = self._enforced(monitor)
        if enforced is not None:
            labels[enforced[0]] = enforced[1]
        labels.setdefault("instance", f"{address.ip}:{address.port}")
        labels = {k: v for k, v in labels.items() if not k.startswith("__") and v}
        pod = address.pod
        if pod is not None:
            up = pod_ready(pod)
            why = "" if up else f"pod {pod['metadata']['name']} is not ready"
            if up:
                up, why = self._reachable(pod, address.port)
        else:
            up, why = True, ""
        meta = monitor["metadata"]
        return Target(labels, up, f"{monitor['kind']}/{meta.get('namespace')}/{meta['name']}",
                      bool(endpoint.get("honorLabels")), path, pod,
                      (pod or {}).get("spec", {}).get("nodeName") if pod else address.name,
                      enforced, why)

    def service_monitor(self, monitor: dict) -> list[Target]:
        spec = monitor.get("spec") or {}
        found = []
        for service in self.objects.of_kind("Service"):
            meta = service["metadata"]
            namespace = meta.get("namespace")
            labels = meta.get("labels") or {}
            if not self._looks_in(monitor, namespace) or \
                    not selector_matches(spec.get("selector"), labels):
                continue
            addresses = endpoints(service, self.pods)
            for endpoint in spec.get("endpoints") or []:
                for address in addresses:
                    if endpoint.get("port"):
                        if address.port_name != endpoint["port"]:
                            continue
                    elif endpoint.get("targetPort") is not None:
                        wanted = endpoint["targetPort"]
                        if address.pod is None or find_port(address.pod, wanted) is None or \
                                find_port(address.pod, wanted)[0] != address.port:
                            continue
                    if address.pod is not None and endpoint.get("filterRunning", True) and \
                            address.pod.get("status", {}).get("phase") in ("Failed",
                                                                           "Succeeded"):
                        continue
                    target = {"namespace": namespace, "service": meta["name"]}
                    if address.kind == "Node":
                        target["node"] = address.name
                    if address.kind == "Pod":
                        target["pod"] = address.name
                        if address.container:
                            target["container"] = address.container
                    for name in spec.get("targetLabels") or []:
                        if labels.get(name):
                            target[sanitize(name)] = labels[name]
                    pod_labels = ((address.pod or {}).get("metadata") or {}).get("labels") or {}
                    for name in spec.get("podTargetLabels") or []:
                        if pod_labels.get(name):
                            target[sanitize(name)] = pod_labels[name]
                    target["job"] = meta["name"]
                    if spec.get("jobLabel") and labels.get(spec["jobLabel"]):
                        target["job"] = labels[spec["jobLabel"]]
                    port = endpoint.get("port") or endpoint.get("targetPort")
                    if port not in (None, ""):
                        target["endpoint"] = str(port)
                    found.append(self._finish(monitor, endpoint, target, address,
                                              endpoint.get("path") or "/metrics",
                                              _service_meta(service, address)))
        return found

    def pod_monitor(self, monitor: dict) -> list[Target]:
        spec = monitor.get("spec") or {}
        meta = monitor["metadata"]
        found = []
        for endpoint in spec.get("podMetricsEndpoints") or []:
            for pod in self.pods:
                pod_meta = pod["metadata"]
                status = pod.get("status") or {}
                if not status.get("podIP") or not self._looks_in(monitor,
                                                                  pod_meta.get("namespace")):
                    continue
                if endpoint.get("filterRunning", True) and \
                        status.get("phase") in ("Failed", "Succeeded"):
                    continue
                labels = pod_meta.get("labels") or {}
                if not selector_matches(spec.get("selector"), labels):
                    continue
                for container, port in _ports(pod):
                    number = int(port.get("containerPort", 0))
                    if endpoint.get("port"):
                        if port.get("name") != endpoint["port"]:
                            continue
                    elif endpoint.get("portNumber"):
                        if number != int(endpoint["portNumber"]):
                            continue
                    elif endpoint.get("targetPort") is not None:
                        wanted = endpoint["targetPort"]
                        if str(wanted) not in (port.get("name"), str(number)):
                            continue
                    target = {"namespace": pod_meta.get("namespace"), "container": container,
                              "pod": pod_meta["name"]}
                    for name in spec.get("podTargetLabels") or []:
                        if labels.get(name):
                            target[sanitize(name)] = labels[name]
                    target["job"] = f"{meta.get('namespace')}/{meta['name']}"
                    if spec.get("jobLabel") and labels.get(spec["jobLabel"]):
                        target["job"] = labels[spec["jobLabel"]]
                    port_name = endpoint.get("port") or endpoint.get("targetPort")
                    if port_name not in (None, ""):
                        target["endpoint"] = str(port_name)
                    address = _Address(status["podIP"], number, port.get("name", ""),
                                       pod_ready(pod), "Pod", pod_meta["name"], pod, container)
                    found.append(self._finish(monitor, endpoint, target, address,
                                              endpoint.get("path") or "/metrics"))
        return found
