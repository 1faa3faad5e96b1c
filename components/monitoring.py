"""Monitoring: kube-prometheus-stack sized for a small interview cluster, with gpu-lab's
GPU dashboards and alerts.

Prometheus selects ServiceMonitors, PodMonitors and PrometheusRules from every namespace,
not only those carrying the release label, so tenants can add their own monitors. Each
tenant monitor sees only its own namespace and its series and alerts carry that namespace
(enforcedNamespaceLabel, ignoreNamespaceSelectors). With ignoreNamespaceSelectors the chart
puts its monitors of the kubelet, the API server and the cluster DNS in the namespaces they
scrape (kube-system, default); those, like everything in the monitoring namespace and the
DCGM exporter's monitor, are the platform's own and exempt from the namespace label: their
series keep the namespace of the pod they describe. Grafana's dashboard sidecar reads only
the monitoring namespace.
The chart is installed as a Helm release: Helm creates the CRDs from the chart itself,
so nothing stores a last-applied copy of them and the 262144-byte annotation limit that
client-side apply hits on the Prometheus CRDs never comes into play.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core.v1 import ConfigMap, Namespace, Secret
from pulumi_kubernetes.helm.v3 import Release, RepositoryOptsArgs
from pulumi_random import RandomPassword

from components import observability
from components.fake_gpu_operator import DCGM_SERVICE
from components.gpu_operator import NAMESPACE as GPU_OPERATOR_NAMESPACE
from components.options import child_options
from components.placement import avoid_pools
from model.spec import LabSpec

NAMESPACE = "monitoring"
REPOSITORY = "https://prometheus-community.github.io/helm-charts"
RELEASE = "kube-prometheus-stack"
GRAFANA_SECRET = "grafana-admin"
DASHBOARD_LABEL = "grafana_dashboard"    # the Grafana sidecar's default label


def _small(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict:
    return {"requests": {"cpu": cpu, "memory": memory},
            "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def monitoring_values(spec: LabSpec) -> dict[str, Any]:
    """Helm values for kube-prometheus-stack (every key exists in the pinned chart or the
    values.yaml of the subchart it belongs to)."""
    mon = spec.addons.monitoring
    select_everything = {
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False,
        "probeSelectorNilUsesHelmValues": False,
    }
    # GKE runs kube-dns, not CoreDNS: scraping CoreDNS there finds no target and fires
    # TargetDown in a healthy lab. kind and most other clusters run CoreDNS.
    on_gke = spec.platform == "gke"
    return {
        "crds": {"enabled": True},
        "coreDns": {"enabled": not on_gke},
        "kubeDns": {"enabled": on_gke},
        "alertmanager": {"enabled": mon.alertmanager},
        # A lab sizes each tenant's quota to its workloads: a fully used quota is its healthy
        # state, not news (gpu-lab's GpuTenantQuotaExhausted fires when the quota refuses a
        # workload's pods). The chart's info alert would otherwise fire from the first minute.
        "defaultRules": {"disabled": {"KubeQuotaFullyUsed": True}},
        # GKE runs these control-plane parts itself; there is nothing to scrape, and
        # Dataplane V2 has no kube-proxy.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "prometheus": {"prometheusSpec": {
            **select_everything,
            # A tenant's monitors and rules see and label only their own namespace: no
            # scraping another tenant's pods, no series or alerts in another's name.
            "enforcedNamespaceLabel": "namespace",
            "ignoreNamespaceSelectors": True,
            "excludedFromEnforcement": excluded_from_enforcement(),
            "retention": mon.retention,
            "resources": _small("250m", "1Gi", "1", "2Gi"),
        }},
        "grafana": {
            "admin": {"existingSecret": GRAFANA_SECRET, "userKey": "admin-user",
                      "passwordKey": "admin-password"},
            # Dashboards come from the monitoring namespace only, not from tenants.
            "sidecar": {"dashboards": {"enabled": True, "label": DASHBOARD_LABEL,
                                       "searchNamespace": NAMESPACE}},
            "resources": _small("100m", "256Mi", "500m", "512Mi"),
        },
        "kube-state-metrics": {
            # Namespace labels as kube_namespace_labels{label_tenant=...}: per-tenant views;
            # node labels as kube_node_labels{label_gpu_lab_accelerator=...}: the GPU nodes.
            "metricLabelsAllowlist": ["namespaces=[tenant,team,cost-center,gpu-lab/tenant]",
                                      "nodes=[gpu-lab/accelerator]"],
        },
        "prometheusOperator": {"resources": _small("100m", "128Mi", "500m", "256Mi")},
        **node_exporter_values(spec),
    }


# The chart's monitors outside its namespace (templates/exporters/*/servicemonitor.yaml with
# ignoreNamespaceSelectors): kubelet and cAdvisor series describe every namespace's pods.
CLUSTER_MONITORS = (("kube-system", "kubelet"), ("kube-system", "kube-dns"),
                    ("kube-system", "coredns"), ("default", "apiserver"))


def excluded_from_enforcement() -> list[dict[str, str]]:
    """The platform's own monitors, exempt from the namespace label: everything in the
    monitoring namespace (the chart's monitors, gpu-lab's alerts), the chart's monitors of
    the cluster's components, and the DCGM exporter's ServiceMonitor, whose series carry the
    namespace and pod of the GPU's workload."""
    group = "monitoring.coreos.com"
    return [
        *({"group": group, "resource": resource, "namespace": NAMESPACE}
          for resource in ("servicemonitors", "podmonitors", "prometheusrules")),
        *({"group": group, "resource": "servicemonitors", "namespace": namespace,
           "name": f"{RELEASE}-{component}"} for namespace, component in CLUSTER_MONITORS),
        {"group": group, "resource": "servicemonitors", "namespace": GPU_OPERATOR_NAMESPACE,
         "name": DCGM_SERVICE},
    ]


def node_exporter_values(spec: LabSpec) -> dict[str, Any]:
    """node-exporter's node affinity."""
    denied = spec.cluster.network.internet_denied_tags
    cut_off = [pool.name for pool in spec.gpu_pools if pool.network_tag in denied]
    if not cut_off:
        return {}
    return {"prometheus-node-exporter": {"affinity": avoid_pools(cut_off)}}


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, spec: LabSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpu-lab:addons:Monitoring", name, None, opts)
        child = child_options(self, opts)

        self.namespace = Namespace(f"{name}-namespace", metadata={
            "name": NAMESPACE, "labels": {
                # node-exporter needs host access.
                "pod-security.kubernetes.io/enforce": "privileged",
                "app.kubernetes.io/managed-by": "gpu-lab"}}, opts=child)
        in_ns = child_options(self, opts, self.namespace)

        self.grafana_password = RandomPassword(f"{name}-grafana-password", length=24,
                                               special=False, opts=child)
        self.grafana_secret = Secret(
            f"{name}-grafana-admin", metadata={"name": GRAFANA_SECRET, "namespace": NAMESPACE},
            string_data={"admin-user": "admin", "admin-password": self.grafana_password.result},
            opts=in_ns)

        self.release = Release(
            f"{name}-release", name=RELEASE, namespace=NAMESPACE, chart=RELEASE,
            version=spec.addons.monitoring.chart_version,
            repository_opts=RepositoryOptsArgs(repo=REPOSITORY),
            values=monitoring_values(spec), skip_crds=False, timeout=900,
            opts=child_options(self, opts, self.namespace, self.grafana_secret))
        after_release = child_options(self, opts, self.release)

        self.dashboards = [
            ConfigMap(f"{name}-dashboard-{file.removesuffix('.json')}",
                      metadata={"name": file.removesuffix(".json"), "namespace": NAMESPACE,
                                "labels": {DASHBOARD_LABEL: "1"}},
                      data={file: observability.dashboard_json(file)}, opts=in_ns)
            for file in observability.DASHBOARDS
        ]
        self.rules = CustomResource(
            f"{name}-gpu-rules", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata={"name": "gpu-lab-gpu", "namespace": NAMESPACE},
            spec=observability.prometheus_rule_spec(), opts=after_release)

        self.grafana_admin_password = pulumi.Output.secret(self.grafana_password.result)
        self.register_outputs({"grafanaAdminPassword": self.grafana_admin_password})
