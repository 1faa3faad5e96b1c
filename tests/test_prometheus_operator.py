"""Where the Prometheus operator discovers a monitor's targets and which namespace their
series carry (kube/prometheus_operator.py), with prometheus-operator's own test cases, and
what that means for every shipped stack: the platform's monitors find their targets and
keep each series' namespace, a tenant's monitors see and label only their own namespace."""

from __future__ import annotations

import copy

import pytest

from faults import build_spec
from kube import ObjectSet
from kube.prometheus_operator import (chart_component_monitors, excluded, monitor_namespaces,
                                      series_namespace)
from kube.symptoms import prometheus_spec
from lab.render import render
from tests.helpers import stack_values

GROUP = "monitoring.coreos.com"


def monitor(kind="ServiceMonitor", namespace="default", name="m", selector=None) -> dict:
    spec = {"namespaceSelector": selector} if selector is not None else {}
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


# prometheus-operator pkg/prometheus/promcfg_test.go, TestNamespaceSetCorrectly and
# TestNamespaceSetCorrectlyForPodMonitor: the namespaces in the generated kubernetes_sd_config
# (an empty list means every namespace).
@pytest.mark.parametrize("kind,selector,ignore,expected", [
    ("ServiceMonitor", {"matchNames": ["test1", "test2"]}, False, ["test1", "test2"]),
    ("ServiceMonitor", {"any": True}, False, None),
    ("ServiceMonitor", {"any": True, "matchNames": ["foo", "bar"]}, False, None),
    ("ServiceMonitor", {"any": True, "matchNames": ["foo", "bar"]}, True, ["default"]),
    ("PodMonitor", {"matchNames": ["test"]}, False, ["test"]),
], ids=["matchNames-instead-of-own", "any-is-every-namespace", "any-over-matchNames",
        "ignoreNamespaceSelectors-over-any-and-matchNames", "podmonitor-matchNames"])
def test_namespaces_as_the_operator_sets_them(kind, selector, ignore, expected):
    assert monitor_namespaces(monitor(kind, selector=selector), ignore) == expected


def test_a_monitor_without_a_selector_looks_in_its_own_namespace():
    # promcfg.go getNamespacesFromNamespaceSelector: no matchNames -> []string{namespace}
    assert monitor_namespaces(monitor(namespace="tenant-a"), False) == ["tenant-a"]
    assert monitor_namespaces(monitor(namespace="tenant-a", selector={}), False) == ["tenant-a"]


# prometheus-operator pkg/namespacelabeler/labeler_test.go,
# TestEnforceNamespaceLabelOnPrometheusMonitors: the label is added unless the monitor is
# excluded by name or by namespace (a reference without a name).
@pytest.mark.parametrize("name,exclusions,expected", [
    ("foo", [], "bar"),
    ("exclude-me", [{"namespace": "bar", "group": GROUP, "resource": "servicemonitors",
                     "name": "exclude-me"}], "scraped"),
    ("exclude-me", [{"namespace": "bar", "group": GROUP, "resource": "servicemonitors"}],
     "scraped"),
], ids=["servicemonitor-ns-enforced-add", "servicemonitor-ns-enforced-exclude-by-name",
        "servicemonitor-ns-enforced-exclude-all-by-namespace"])
def test_enforced_namespace_label(name, exclusions, expected):
    prometheus = {"enforcedNamespaceLabel": "namespace", "excludedFromEnforcement": exclusions}
    assert series_namespace(monitor(namespace="bar", name=name), "scraped",
                            prometheus) == expected


def test_an_exclusion_matches_namespace_kind_and_name_only():
    # labeler.go New: references without a namespace are dropped; IsExcluded compares the
    # namespace, the group-kind and the name.
    sm = monitor(namespace="bar", name="x")
    assert not excluded(sm, [{"group": GROUP, "resource": "servicemonitors", "name": "x"}])
    assert not excluded(sm, [{"namespace": "bar", "group": GROUP, "resource": "podmonitors"}])
    assert not excluded(sm, [{"namespace": "bar", "group": GROUP,
                              "resource": "servicemonitors", "name": "y"}])
    assert not excluded(sm, [{"namespace": "baz", "group": GROUP,
                              "resource": "servicemonitors"}])
    # Without enforcedNamespaceLabel the labeler is a no-op.
    assert series_namespace(sm, "kept", {}) == "kept"


# kube-prometheus-stack 88.5.3 templates/exporters/{kubelet,kube-api-server,kube-dns,
# core-dns}/servicemonitor.yaml: metadata.namespace follows ignoreNamespaceSelectors.
def test_the_chart_places_its_cluster_monitors_by_ignore_namespace_selectors():
    def placed(ignore: bool, **extra) -> dict:
        values = {"prometheus": {"prometheusSpec": {"ignoreNamespaceSelectors": ignore}},
                  **extra}
        return {m["metadata"]["name"]: m["metadata"]["namespace"]
                for m in chart_component_monitors("kube-prometheus-stack", "monitoring",
                                                  values)}
    assert placed(True) == {"kube-prometheus-stack-kubelet": "kube-system",
                            "kube-prometheus-stack-apiserver": "default",
                            "kube-prometheus-stack-coredns": "kube-system"}
    assert set(placed(False).values()) == {"monitoring"}
    on_gke = placed(True, coreDns={"enabled": False}, kubeDns={"enabled": True})
    assert on_gke["kube-prometheus-stack-kube-dns"] == "kube-system"
    assert "kube-prometheus-stack-coredns" not in on_gke


# -- every shipped stack ------------------------------------------------------------------

STACKS = ("dev", "pairing", "all-faults", "local")


@pytest.fixture(scope="module", params=STACKS)
def stack(request):
    values = stack_values(request.param)
    spec = build_spec(values, stack=request.param)
    objects = ObjectSet(render(values, stack=request.param).check_objects())
    if not spec.addons.monitoring.enabled:
        pytest.skip("no monitoring add-on")
    [release] = [r for r in objects.of_kind("HelmRelease")
                 if r["spec"]["chart"] == "kube-prometheus-stack"]
    return spec, objects, release


def cluster_monitors(release: dict) -> list[dict]:
    meta = release["metadata"]
    return chart_component_monitors(meta["name"], meta["namespace"], release["spec"]["values"])


def test_the_platform_monitors_find_their_targets(stack):
    """The kubelet, API server and cluster DNS monitors discover the namespace their Service
    lives in; without that, KubeletDown and KubeAPIDown fire on a healthy cluster."""
    _, objects, release = stack
    prometheus = prometheus_spec(objects)
    monitors = cluster_monitors(release)
    assert {m["metadata"]["name"].rsplit("-", 1)[-1] for m in monitors} >= {"kubelet",
                                                                            "apiserver"}
    for m in monitors:
        [scraped] = m["spec"]["namespaceSelector"]["matchNames"]
        assert monitor_namespaces(m, bool(prometheus.get("ignoreNamespaceSelectors"))) \
            == [scraped], m["metadata"]


def test_kubelet_series_keep_the_namespace_of_the_pod_they_describe(stack):
    """cAdvisor's container_* series carry each pod's namespace: per-tenant CPU, memory and
    throttling in Prometheus and Grafana depend on it."""
    spec, objects, release = stack
    prometheus = prometheus_spec(objects)
    tenant = spec.tenants[0].namespace
    for m in cluster_monitors(release):
        assert series_namespace(m, tenant, prometheus) == tenant, m["metadata"]


def test_the_same_monitors_without_their_exemption_would_lose_it(stack):
    """The test above can fail: drop the exemptions and kubelet series say kube-system."""
    spec, objects, release = stack
    prometheus = copy.deepcopy(prometheus_spec(objects))
    prometheus["excludedFromEnforcement"] = [
        ref for ref in prometheus["excludedFromEnforcement"]
        if ref["namespace"] not in ("kube-system", "default")]
    [kubelet] = [m for m in cluster_monitors(release) if m["metadata"]["name"].endswith(
        "-kubelet")]
    assert series_namespace(kubelet, spec.tenants[0].namespace, prometheus) == "kube-system"


def test_tenant_monitors_see_and_label_only_their_own_namespace(stack):
    spec, objects, _ = stack
    prometheus = prometheus_spec(objects)
    ignoring = bool(prometheus.get("ignoreNamespaceSelectors"))
    namespaces = [t.namespace for t in spec.tenants]
    for own in namespaces:
        greedy = monitor("ServiceMonitor", own, "greedy", {"any": True})
        assert monitor_namespaces(greedy, ignoring) == [own]
        for other in namespaces:
            # An exporter that claims another tenant's namespace is relabelled.
            assert series_namespace(greedy, other, prometheus) == own
    for m in objects.of_kind("PodMonitor") + objects.of_kind("ServiceMonitor"):
        if m["metadata"]["namespace"] in namespaces:
            assert series_namespace(m, "kube-system", prometheus) == m["metadata"]["namespace"]
