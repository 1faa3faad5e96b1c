"""Add-ons: GPU Operator and kube-prometheus-stack releases, GPU dashboards and alerts,
and the local platform with simulated GPUs."""

import json
import re

import pytest

from components.observability import ALERT_RULES, DASHBOARDS, TENANT_QUERY
from kube import ObjectSet
from lab.metrics_catalog import lint
from lab.render import SECRET
from model import ConfigError, load_spec
from tests.helpers import NODE_POOL, one, render_with, stack_values
from lab.render import render

RELEASE = "kubernetes:helm.sh/v3:Release"
NO_GKE_PLUGIN = "gke-no-default-nvidia-gpu-device-plugin"

# Value keys checked by hand against each pinned chart's values.yaml (and, for
# kube-prometheus-stack, the values.yaml of the subchart a key belongs to:
# grafana 12.11.1, kube-state-metrics 8.4.0). Paths below a free-form map (`{}`
# upstream, such as resources) are accepted as a whole. Bumping a chart version
# fails test_every_helm_value_exists_in_the_pinned_chart until the keys are re-checked.
VERIFIED_VALUES = {
    "gpu-operator": ("v26.3.3", {
        "driver.enabled", "hostPaths.driverInstallDir", "toolkit.installDir", "toolkit.env",
        "cdi.enabled", "devicePlugin.enabled", "devicePlugin.config.create",
        "devicePlugin.config.name", "devicePlugin.config.default", "devicePlugin.config.data",
        "dcgmExporter.enabled", "dcgmExporter.serviceMonitor.enabled",
        "dcgmExporter.serviceMonitor.honorLabels", "dcgmExporter.serviceMonitor.interval",
        "mig.strategy", "migManager.enabled",
        # node-feature-discovery 0.18.3, the chart's dependency: values.yaml worker.affinity
        "node-feature-discovery.worker.affinity",
    }),
    "kube-prometheus-stack": ("88.5.3", {
        # defaultRules.disabled: {} upstream, a map of alert names to true
        "defaultRules.disabled.KubeQuotaFullyUsed",
        "crds.enabled", "coreDns.enabled", "kubeDns.enabled", "alertmanager.enabled", "kubeControllerManager.enabled",
        "kubeScheduler.enabled", "kubeEtcd.enabled", "kubeProxy.enabled",
        "prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.probeSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.retention", "prometheus.prometheusSpec.resources",
        "prometheus.prometheusSpec.enforcedNamespaceLabel",
        "prometheus.prometheusSpec.ignoreNamespaceSelectors",
        "prometheus.prometheusSpec.excludedFromEnforcement",
        "grafana.admin.existingSecret", "grafana.admin.userKey", "grafana.admin.passwordKey",
        "grafana.sidecar.dashboards.enabled", "grafana.sidecar.dashboards.label",
        "grafana.sidecar.dashboards.searchNamespace", "grafana.resources",
        "kube-state-metrics.metricLabelsAllowlist", "prometheusOperator.resources",
        # prometheus-node-exporter 4.56.1 (the 88.5.3 dependency): top-level affinity
        "prometheus-node-exporter.affinity",
    }),
    "oci://ghcr.io/run-ai/fake-gpu-operator/fake-gpu-operator": ("0.2.0", {
        "topology.nodePoolLabelKey", "topology.migStrategy", "topology.nodePools",
    }),
}
FREE_FORM = ("resources", "devicePlugin.config.data", "topology.nodePools", "affinity")


def value_paths(values: dict, prefix: str = ""):
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and not path.endswith(FREE_FORM):
            yield from value_paths(value, path + ".")
        else:
            yield path


def releases(rendering):
    return {r.inputs["chart"]: r.inputs for r in rendering.of_type(RELEASE)}


@pytest.fixture(scope="module")
def local():
    return render(stack_values("local"), stack="local")


# -- releases and their values ---------------------------------------------------------

def test_releases_are_pinned_to_their_repositories(dev):
    found = releases(dev)
    operator, monitoring = found["gpu-operator"], found["kube-prometheus-stack"]
    assert operator["version"] == "v26.3.3"
    assert operator["repositoryOpts"] == {"repo": "https://helm.ngc.nvidia.com/nvidia"}
    assert operator["namespace"] == "gpu-operator" and operator["name"] == "gpu-operator"
    assert monitoring["version"] == "88.5.3"
    assert monitoring["repositoryOpts"] == {
        "repo": "https://prometheus-community.github.io/helm-charts"}
    assert monitoring["namespace"] == "monitoring"
    assert monitoring["skipCrds"] is False      # Helm creates the CRDs: no annotation limit


@pytest.mark.parametrize("overrides", [{}, {"gpu-lab:addons": {"gpuOperator": {
    "timeSlicing": 4}}}])
def test_every_helm_value_exists_in_the_pinned_chart(overrides, local):
    # all-faults has a pool served by GKE's GPU stack and a pool without the internet.
    renderings = [render_with(**overrides), local,
                  render(stack_values("all-faults"), stack="all-faults")]
    for rendering in renderings:
        assert len(releases(rendering)) == 2
        for chart, release in releases(rendering).items():
            version, keys = VERIFIED_VALUES[chart]
            assert release["version"] == version, f"{chart}: re-check values for the new version"
            for path in value_paths(release.get("values") or {}):
                assert path in keys, f"{chart} {version}: {path} not verified in values.yaml"


def test_gpu_operator_values_for_gke(dev):
    values = releases(dev)["gpu-operator"]["values"]
    assert values["driver"] == {"enabled": False}
    assert values["hostPaths"]["driverInstallDir"] == "/home/kubernetes/bin/nvidia"
    assert values["toolkit"]["installDir"] == "/home/kubernetes/bin/nvidia"
    assert {"name": "RUNTIME_CONFIG_SOURCE", "value": "file"} in values["toolkit"]["env"]
    assert values["cdi"]["enabled"] is True
    assert values["dcgmExporter"]["enabled"] is True
    assert values["dcgmExporter"]["serviceMonitor"]["enabled"] is True
    assert values["dcgmExporter"]["serviceMonitor"]["honorLabels"] is True
    assert values["devicePlugin"]["enabled"] is True
    assert "config" not in values["devicePlugin"]


def test_gpu_operator_upgrades_its_crds_without_openapi_validation(dev):
    """gpu-operator v26.3.3 values.yaml: operator.upgradeCRD (true unless set) "requires
    --disable-openapi-validation flag to be passed during helm upgrade"; a version bump
    would fail without it."""
    [release] = [r for r in dev.of_type("kubernetes:helm.sh/v3:Release")
                 if r.inputs["chart"] == "gpu-operator"]
    assert release.inputs["values"].get("operator", {}).get("upgradeCRD", True) is True
    assert release.inputs["disableOpenapiValidation"] is True


def test_gpu_operator_namespace_allows_critical_pods(dev):
    objects = ObjectSet(dev.kubernetes_objects())
    quota = objects.get("ResourceQuota", "gcp-critical-pods", "gpu-operator")
    scope = quota["spec"]["scopeSelector"]["matchExpressions"][0]
    assert scope["scopeName"] == "PriorityClass"
    assert set(scope["values"]) == {"system-node-critical", "system-cluster-critical"}
    labels = objects.get("Namespace", "gpu-operator")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"


def test_operator_path_pools_and_operator_agree(dev):
    """Operator's device plugin on <=> GKE's off on every pool; Google's driver installer
    installs the driver GKE no longer installs automatically."""
    values = releases(dev)["gpu-operator"]["values"]
    config = one(dev, NODE_POOL, name="t4").inputs["nodeConfig"]
    assert values["devicePlugin"]["enabled"] is True
    assert config["labels"][NO_GKE_PLUGIN] == "true"
    assert config["guestAccelerators"][0]["gpuDriverInstallationConfig"] == {
        "gpuDriverVersion": "INSTALLATION_DISABLED"}
    installer = one(dev, "kubernetes:yaml/v2:ConfigFile").inputs["file"]
    assert re.search(r"container-engine-accelerators/[0-9a-f]{40}/nvidia-driver-installer/cos/"
                     r"daemonset-preloaded\.yaml$", installer)


def test_gke_managed_path_has_no_operator_and_gke_plugin():
    rendering = render_with(**{"gpu-lab:addons": {"gpuOperator": {"enabled": False}}})
    assert "gpu-operator" not in releases(rendering)
    assert not rendering.of_type("kubernetes:yaml/v2:ConfigFile")
    config = one(rendering, NODE_POOL, name="t4").inputs["nodeConfig"]
    assert NO_GKE_PLUGIN not in config["labels"]
    assert config["guestAccelerators"][0]["gpuDriverInstallationConfig"] == {
        "gpuDriverVersion": "LATEST"}


def test_operator_for_monitoring_only_keeps_gke_plugin():
    rendering = render_with(**{
        "gpu-lab:addons": {"gpuOperator": {"devicePlugin": False}},
        "gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 2, "driverVersion": "DEFAULT"}]})
    assert releases(rendering)["gpu-operator"]["values"]["devicePlugin"]["enabled"] is False
    config = one(rendering, NODE_POOL, name="t4").inputs["nodeConfig"]
    assert NO_GKE_PLUGIN not in config["labels"]
    assert config["guestAccelerators"][0]["gpuDriverInstallationConfig"] == {
        "gpuDriverVersion": "DEFAULT"}
    assert not rendering.of_type("kubernetes:yaml/v2:ConfigFile")


def test_time_slicing_and_mig_from_config():
    rendering = render_with(**{
        "gpu-lab:addons": {"gpuOperator": {"timeSlicing": 4, "migStrategy": "single"}},
        "gpu-lab:gpuPools": [{"name": "a100", "accelerator": "nvidia-tesla-a100", "maxNodes": 1}],
        "gpu-lab:tenants": [{"name": "tenant-a", "gpus": 4}]})
    values = releases(rendering)["gpu-operator"]["values"]
    config = values["devicePlugin"]["config"]
    assert config["create"] is True and config["default"] == "any"
    assert "replicas: 4" in config["data"]["any"] and "name: nvidia.com/gpu" in config["data"]["any"]
    assert values["mig"]["strategy"] == "single"
    assert values["migManager"]["enabled"] is True


@pytest.mark.parametrize("config,key,allowed", [
    ({"gpu-lab:gpuPools": [{"name": "t4", "gkeDevicePlugin": True}]},
     "gpu-lab:gpuPools[0].gkeDevicePlugin", "two plugins would fight over the GPUs"),
    ({"gpu-lab:addons": {"gpuOperator": {"devicePlugin": False}},
      "gpu-lab:gpuPools": [{"name": "t4", "gkeDevicePlugin": False}]},
     "gpu-lab:gpuPools[0].gkeDevicePlugin", "no device plugin would advertise nvidia.com/gpu"),
    ({"gpu-lab:addons": {"gpuOperator": {"enabled": False}},
      "gpu-lab:gpuPools": [{"name": "t4", "driverVersion": "INSTALLATION_DISABLED"}]},
     "gpu-lab:gpuPools[0].driverVersion", "nothing would install the NVIDIA driver"),
    ({"gpu-lab:addons": {"gpuOperator": {"migStrategy": "mixed"}}},
     "gpu-lab:addons.gpuOperator.migStrategy", "MIG needs an A100 or H100 pool"),
    ({"gpu-lab:addons": {"gpuOperator": {"timeSlicing": 1}}},
     "gpu-lab:addons.gpuOperator.timeSlicing", "must be 0 (off) or at least 2"),
    ({"gpu-lab:addons": {"monitoring": {"retention": "three days"}}},
     "gpu-lab:addons.monitoring.retention", "must be a Prometheus duration"),
])
def test_inconsistent_gpu_stack_is_rejected(config, key, allowed):
    with pytest.raises(ConfigError) as caught:
        load_spec({"gcp:project": "p", **config})
    [problem] = caught.value.problems
    assert problem.key == key and allowed in str(problem)


def test_time_slicing_multiplies_what_a_tenant_may_be_given():
    values = {"gcp:project": "p", "gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 1}],
              "gpu-lab:tenants": [{"name": "tenant-a", "gpus": 4}]}
    with pytest.raises(ConfigError):
        load_spec(values)
    spec = load_spec({**values, "gpu-lab:addons": {"gpuOperator": {"timeSlicing": 4}}})
    assert spec.gpu_pools[0].max_gpus == 4


# -- monitoring ---------------------------------------------------------------------------

def test_prometheus_selects_monitors_and_rules_everywhere(dev):
    values = releases(dev)["kube-prometheus-stack"]["values"]
    prometheus = values["prometheus"]["prometheusSpec"]
    for key in ("serviceMonitorSelectorNilUsesHelmValues", "podMonitorSelectorNilUsesHelmValues",
                "ruleSelectorNilUsesHelmValues"):
        assert prometheus[key] is False, key
    assert prometheus["retention"] == "3d"
    assert prometheus["resources"]["limits"]["memory"] == "2Gi"
    assert values["crds"]["enabled"] is True
    assert values["kube-state-metrics"]["metricLabelsAllowlist"] == [
        "namespaces=[tenant,team,cost-center,gpu-lab/tenant]", "nodes=[gpu-lab/accelerator]"]


def test_grafana_password_is_random_secret_and_exported_as_secret(dev):
    password = one(dev, "random:index/randomPassword:RandomPassword").inputs
    assert password["length"] == 24
    values = releases(dev)["kube-prometheus-stack"]["values"]
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    secret = ObjectSet(dev.kubernetes_objects()).get("Secret", "grafana-admin", "monitoring")
    assert secret["stringData"][SECRET] == {"admin-user": "admin",
                                            "admin-password": "offline-render-password"}
    assert SECRET in dev.outputs["grafanaAdminPassword"]


def test_dashboards_are_valid_grafana_json_in_sidecar_configmaps(dev):
    objects = ObjectSet(dev.kubernetes_objects())
    maps = [m for m in objects.of_kind("ConfigMap", "monitoring")
            if m["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert len(maps) == len(DASHBOARDS) == 2
    for config_map in maps:
        [(file, text)] = config_map["data"].items()
        dashboard = json.loads(text)
        assert file.endswith(".json") and dashboard["uid"] and dashboard["title"]
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        for panel in dashboard["panels"]:
            assert panel["type"] in ("timeseries", "stat", "table")
            assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
            assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"])
        names = [v["name"] for v in dashboard["templating"]["list"]]
        assert "datasource" in names


def test_tenant_dashboard_has_a_tenant_variable():
    dashboard = DASHBOARDS["gpu-lab-tenant-gpus.json"]()
    [tenant] = [v for v in dashboard["templating"]["list"] if v["name"] == "tenant"]
    assert tenant["query"]["query"] == TENANT_QUERY
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert all('namespace="$tenant"' in e for e in exprs)
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"GPU requests vs quota", "GPU utilization of the tenant's pods", "Pending GPU pods",
            "Container restarts (1h)", "Inference device by pod"} <= titles


def test_prometheus_rule_is_a_valid_object(dev):
    rule = ObjectSet(dev.kubernetes_objects()).get("PrometheusRule", "gpu-lab-gpu", "monitoring")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    [group] = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {"GpuTenantQuotaExhausted", "GpuAllocatedButIdle",
                           "GpuPodPending", "DcgmExporterDown"}
    for alert in alerts.values():
        assert re.fullmatch(r"\d+[smh]", alert["for"])
        assert alert["labels"]["severity"] in ("info", "warning", "critical")
        assert alert["annotations"]["summary"]
    assert alerts["GpuAllocatedButIdle"]["for"] == "10m"
    assert "< 10" in alerts["GpuAllocatedButIdle"]["expr"]
    assert alerts["GpuPodPending"]["for"] == "5m"


def all_expressions():
    yield from ((rule["alert"], rule["expr"]) for rule in ALERT_RULES)
    for name, build in DASHBOARDS.items():
        for panel in build()["panels"]:
            yield from ((f"{name}: {panel['title']}", t["expr"]) for t in panel["targets"])
    yield "tenant variable", TENANT_QUERY


@pytest.mark.parametrize("where,expr", list(all_expressions()))
def test_every_expression_uses_exported_metrics_and_labels(where, expr):
    assert lint(expr) == [], where


@pytest.mark.parametrize("expr,problem", [
    ("DCGM_GPU_UTIL", "unknown metric 'DCGM_GPU_UTIL'"),
    ('DCGM_FI_DEV_GPU_UTIL{namespce="a"}', "DCGM_FI_DEV_GPU_UTIL has no label 'namespce'"),
    ("sum by (nod) (kube_pod_info)", "grouping by 'nod', which no metric in the expression has"),
    ("rat(up[5m])", "unknown function 'rat'"),
    ('kube_pod_container_resource_requests{resource="nvidia.com/gpu", gpu="0"}',
     "kube_pod_container_resource_requests has no label 'gpu'"),
])
def test_the_metric_linter_catches_mistakes(expr, problem):
    assert problem in lint(expr)


# -- local platform ---------------------------------------------------------------------

def test_local_platform_creates_nothing_in_gcp(local):
    assert not [r for r in local.resources if r.type.startswith("gcp:")]
    provider = one(local, "pulumi:providers:kubernetes").inputs
    assert provider["context"] == "kind-gpu-lab"
    assert "gpu-operator" not in releases(local)


def test_local_platform_simulates_the_configured_gpus(local):
    fake = releases(local)["oci://ghcr.io/run-ai/fake-gpu-operator/fake-gpu-operator"]
    assert fake["version"] == "0.2.0" and fake["namespace"] == "gpu-operator"
    topology = fake["values"]["topology"]
    assert topology["nodePoolLabelKey"] == "run.ai/simulated-gpu-node-pool"
    assert topology["nodePools"] == {"t4": {"gpuProduct": "Tesla-T4", "gpuCount": 1,
                                            "gpuMemory": 16384}}
    patches = {p.inputs["metadata"]["name"]: p.inputs["metadata"]["labels"]
               for p in local.of_type("kubernetes:core/v1:NodePatch")}
    assert set(patches) == {"gpu-lab-worker", "gpu-lab-worker2"}
    for labels in patches.values():
        assert labels["run.ai/simulated-gpu-node-pool"] == "t4"
        assert labels["gpu-lab/pool"] == "t4"
    monitor = ObjectSet(local.kubernetes_objects()).get("ServiceMonitor", "nvidia-dcgm-exporter",
                                                        "gpu-operator")
    assert monitor["spec"]["endpoints"][0]["port"] == "gpu-metrics"


def test_local_platform_keeps_everything_in_cluster_the_same(dev, local):
    def in_cluster(rendering):
        return {(r.type, r.name) for r in rendering.resources
                if r.type.startswith("kubernetes:") and "gpu-operator" not in r.name}
    assert in_cluster(local) == in_cluster(dev)
    assert len(releases(local)) == 2


def test_local_platform_needs_nodes_not_a_project():
    with pytest.raises(ConfigError) as caught:
        load_spec({"gpu-lab:platform": "existing", "gpu-lab:gpuPools": [{"name": "t4"}]})
    assert [p.key for p in caught.value.problems] == ["gpu-lab:gpuPools[0].nodes"]
    spec = load_spec({"gpu-lab:platform": "existing",
                      "gpu-lab:gpuPools": [{"name": "t4", "nodes": ["kind-worker"]}]})
    assert spec.gcp.project == ""


def test_add_on_daemonsets_stay_off_pools_they_cannot_serve():
    """NFD's worker is not needed where GKE runs the GPU stack; node-exporter (quay.io) cannot
    be pulled where the nodes have no way out."""
    rendering = render(stack_values("all-faults"), stack="all-faults")
    found = releases(rendering)
    nfd = found["gpu-operator"]["values"]["node-feature-discovery"]["worker"]["affinity"]
    exporter = found["kube-prometheus-stack"]["values"]["prometheus-node-exporter"]["affinity"]
    for affinity in (nfd, exporter):
        [term] = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"]
        assert term["matchExpressions"] == [
            {"key": "gpu-lab/pool", "operator": "NotIn", "values": ["t4-tenant-c"]}]
    # The healthy baseline keeps the charts' defaults.
    dev = releases(render_with())
    assert "node-feature-discovery" not in dev["gpu-operator"]["values"]
    assert "prometheus-node-exporter" not in dev["kube-prometheus-stack"]["values"]
