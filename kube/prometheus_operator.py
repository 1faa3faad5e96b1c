"""What the Prometheus operator makes of a monitor: the namespaces it discovers targets in,
and whether the series it scrapes get their namespace label rewritten.

Ported from prometheus-operator:
- pkg/prometheus/promcfg.go, getNamespacesFromNamespaceSelector: ignoreNamespaceSelectors
  wins over everything (the monitor's own namespace only), then `any` (every namespace),
  then `matchNames`, and a monitor without either looks in its own namespace;
- pkg/namespacelabeler/labeler.go, New, IsExcluded and GetRelabelingConfigs: with
  enforcedNamespaceLabel set, every monitor's relabelings and metric relabelings end with
  `namespace := <the monitor's namespace>`, unless excludedFromEnforcement names the monitor
  (namespace, group and resource; no name means every monitor of that resource there).

And from kube-prometheus-stack (templates/exporters/*/servicemonitor.yaml): where the chart
puts the monitors of the cluster's own components, which depends on the same flag.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

GROUP = "monitoring.coreos.com"
# excludedFromEnforcement names a resource; the labeler compares it with the object's kind.
RESOURCE_KIND = {"servicemonitors": "ServiceMonitor", "podmonitors": "PodMonitor",
                 "probes": "Probe", "prometheusrules": "PrometheusRule",
                 "scrapeconfigs": "ScrapeConfig"}


def monitor_namespaces(monitor: dict, ignore_namespace_selectors: bool) -> Optional[list[str]]:
    """The namespaces a ServiceMonitor or PodMonitor discovers targets in; None: all."""
    own = (monitor.get("metadata") or {}).get("namespace")
    selector = (monitor.get("spec") or {}).get("namespaceSelector") or {}
    if ignore_namespace_selectors:
        return [own]
    if selector.get("any"):
        return None
    if not selector.get("matchNames"):
        return [own]
    return list(selector["matchNames"])


def looks_in(monitor: dict, namespace: str, ignore_namespace_selectors: bool) -> bool:
    namespaces = monitor_namespaces(monitor, ignore_namespace_selectors)
    return namespaces is None or namespace in namespaces


def excluded(monitor: dict, exclusions: Iterable[dict]) -> bool:
    """Is the monitor exempt from enforcedNamespaceLabel (labeler.go, IsExcluded)?"""
    meta = monitor.get("metadata") or {}
    for ref in exclusions:
        # New() drops references without a namespace or a kind it knows.
        if not ref.get("namespace") or ref.get("group") != GROUP or \
                RESOURCE_KIND.get(ref.get("resource", "")) is None:
            continue
        if ref["namespace"] == meta.get("namespace") and \
                RESOURCE_KIND[ref["resource"]] == monitor.get("kind") and \
                ref.get("name", "") in ("", meta.get("name")):
            return True
    return False


def series_namespace(monitor: dict, scraped: Optional[str], prometheus: dict[str, Any]
                     ) -> Optional[str]:
    """The namespace label a series scraped through `monitor` ends up with in Prometheus:
    the monitor's own namespace when the label is enforced on it, else what the target or
    the exporter gave it (`scraped`)."""
    if prometheus.get("enforcedNamespaceLabel") != "namespace" or \
            excluded(monitor, prometheus.get("excludedFromEnforcement") or []):
        return scraped
    return (monitor.get("metadata") or {}).get("namespace")


# -- the chart's monitors of the cluster's own components ----------------------------------

def chart_component_monitors(release_name: str, release_namespace: str,
                             values: dict[str, Any]) -> list[dict]:
    """The ServiceMonitors kube-prometheus-stack renders for the kubelet, the API server and
    the cluster DNS, placed as its templates place them: in the release's namespace, or in
    the namespace they scrape when prometheusSpec.ignoreNamespaceSelectors is set (which
    would otherwise leave them without targets). Defaults are the pinned chart's."""
    prometheus = ((values.get("prometheus") or {}).get("prometheusSpec") or {})
    ignoring = bool(prometheus.get("ignoreNamespaceSelectors"))
    fullname = _fullname(release_name, values)
    kubelet_namespace = (values.get("kubelet") or {}).get("namespace", "kube-system")
    components = [
        # (values key, enabled by default, name suffix, scraped namespace, service labels)
        ("kubelet", True, "kubelet", kubelet_namespace,
         {"app.kubernetes.io/name": "kubelet", "k8s-app": "kubelet"}),
        ("kubeApiServer", True, "apiserver", "default",
         {"component": "apiserver", "provider": "kubernetes"}),
        ("kubeDns", False, "kube-dns", "kube-system",
         {"app": "kube-prometheus-stack-kube-dns", "release": release_name}),
        ("coreDns", True, "coredns", "kube-system",
         {"app": "kube-prometheus-stack-coredns", "release": release_name}),
    ]
    monitors = []
    for key, default, suffix, scraped, labels in components:
        if not (values.get(key) or {}).get("enabled", default):
            continue
        monitors.append({
            "apiVersion": f"{GROUP}/v1", "kind": "ServiceMonitor",
            "metadata": {"name": f"{fullname}-{suffix}",
                         "namespace": scraped if ignoring else release_namespace},
            "spec": {"namespaceSelector": {"matchNames": [scraped]},
                     "selector": {"matchLabels": labels}}})
    return monitors


def _fullname(release_name: str, values: dict[str, Any]) -> str:
    """templates/_helpers.tpl, kube-prometheus-stack.fullname."""
    if values.get("fullnameOverride"):
        return values["fullnameOverride"][:26].rstrip("-")
    name = values.get("nameOverride") or "kube-prometheus-stack"
    full = release_name if name in release_name else f"{release_name}-{name}"
    return full[:26].rstrip("-")
