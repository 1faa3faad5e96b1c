"""Tenant isolation in the healthy baseline, on every shipped stack as rendered.

Faults may break isolation on purpose; the baseline may not. Each property is checked on
the rendered objects with the same checks a candidate's questions go through (quota
admission, RBAC), or with the rules Kubernetes itself applies (Pod Security admission,
kube/pod_security.py).
"""

from __future__ import annotations

import pytest

from components.monitoring import NAMESPACE as MONITORING_NAMESPACE
from faults import build_spec
from kube import ObjectSet, Subject, can_i, pod_security
from kube.quota import make_pod, quota_admits
from lab.render import render
from model import ConfigError, load_spec
from tests.helpers import render_with, stack_values

STACKS = ("dev", "pairing", "all-faults", "local")


@pytest.fixture(scope="module", params=STACKS)
def stack(request):
    """(spec, objects) of a shipped stack."""
    values = stack_values(request.param)
    rendering = render(values, stack=request.param)
    return build_spec(values, stack=request.param), ObjectSet(rendering.check_objects())


def tenant_members(objects: ObjectSet, namespace: str) -> list[Subject]:
    subjects = []
    for binding in objects.of_kind("RoleBinding", namespace):
        for entry in binding.get("subjects") or []:
            if entry["kind"] == "Group":
                subjects.append(Subject.group(entry["name"]))
            elif entry["kind"] == "User":
                subjects.append(Subject(user=entry["name"],
                                        groups=("system:authenticated",)))
            elif entry["kind"] == "ServiceAccount":
                subjects.append(Subject.service_account(entry.get("namespace", namespace),
                                                        entry["name"]))
    return subjects


# -- priorities --------------------------------------------------------------------------

def test_a_tenant_may_use_only_its_own_priority_class_and_lower_ones(stack):
    spec, objects = stack
    value = {pc.name: pc.value for pc in spec.priority_classes}
    assert spec.tenants
    for tenant in spec.tenants:
        own = value[tenant.priority_class]
        for pc in spec.priority_classes:
            answer = quota_admits(objects, tenant.namespace,
                                  make_pod(priority_class=pc.name))
            if pc.value > own:
                assert not answer, f"{tenant.name} may use {pc.name}: {answer.reason}"
                assert f"deny-priority-{pc.name}" in answer.reason
                assert "exceeded quota" in answer.reason
            else:
                assert answer, f"{tenant.name} may not use {pc.name}: {answer.reason}"


def test_tenants_cannot_lift_the_priority_quotas(stack):
    spec, objects = stack
    for tenant in spec.tenants:
        for subject in tenant_members(objects, tenant.namespace):
            for verb in ("create", "update", "patch", "delete"):
                answer = can_i(objects, subject, verb, "resourcequotas", tenant.namespace)
                assert not answer, f"{subject} can {verb} quotas: {answer.reason}"


# -- Pod Security -------------------------------------------------------------------------

# Pod Security admission is kube/pod_security.py, the port of kubernetes/pod-security-admission
# proven with upstream's cases in tests/test_pod_security.py.

def restricted_checks_failed(pod: dict) -> set[str]:
    return {v.check for v in pod_security.evaluate(pod_security.RESTRICTED, pod)}


def test_the_restricted_checker_refuses_what_restricted_refuses():
    good = {"spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
        "volumes": [{"name": "v", "emptyDir": {}}]}}
    assert restricted_checks_failed(good) == set()
    bad = {"spec": {**good["spec"], "hostNetwork": True,
                    "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
                    "containers": [{"name": "c", "securityContext": {"privileged": True}}]}}
    assert restricted_checks_failed(bad) == {
        "hostNamespaces", "restrictedVolumes", "privileged", "allowPrivilegeEscalation",
        "capabilities_restricted"}
    assert restricted_checks_failed({"spec": {**good["spec"], "securityContext": {
        "seccompProfile": {"type": "RuntimeDefault"}}}}) == {"runAsNonRoot"}
    assert restricted_checks_failed({"spec": {**good["spec"], "securityContext": {
        "runAsNonRoot": True}}}) == {"seccompProfile_restricted"}


POD_OWNERS = {"Deployment", "Job", "StatefulSet", "DaemonSet", "ReplicaSet"}


def test_tenant_namespaces_enforce_restricted_and_every_pod_meets_it(stack):
    spec, objects = stack
    templates = 0
    for tenant in spec.tenants:
        labels = objects.get("Namespace", tenant.namespace)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"
        assert labels["pod-security.kubernetes.io/audit"] == "restricted"
        for obj in (obj for kind in (*POD_OWNERS, "CronJob", "Pod")
                    for obj in objects.of_kind(kind, tenant.namespace)):
            templates += 1
            assert pod_security.violations(obj, "restricted") == [], obj["metadata"]["name"]
    assert templates == len(spec.workloads)


def test_tenants_cannot_relabel_their_namespace(stack):
    spec, objects = stack
    for tenant in spec.tenants:
        for subject in tenant_members(objects, tenant.namespace):
            for verb in ("update", "patch"):
                assert not can_i(objects, subject, verb, "namespaces", tenant.namespace,
                                 name=tenant.namespace)


BASE = stack_values("dev")


def tenant_problems(tenant: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_spec({**BASE, "gpu-lab:tenants": [tenant]})
    return [str(p) for p in caught.value.problems]


def test_pod_security_defaults_to_restricted_and_may_be_lowered_explicitly():
    assert load_spec(BASE).tenant("tenant-a").pod_security == "restricted"
    for level in ("baseline", "privileged", "restricted"):
        spec = load_spec({**BASE, "gpu-lab:tenants": [{"name": "tenant-a",
                                                       "podSecurity": level}]})
        assert spec.tenant("tenant-a").pod_security == level
    problems = tenant_problems({"name": "tenant-a", "podSecurity": "none"})
    assert any("gpu-lab:tenants[0].podSecurity" in p and "baseline" in p for p in problems)


def test_an_opted_down_tenant_enforces_its_level_and_still_warns():
    rendering = render_with(**{"gpu-lab:tenants": [{"name": "tenant-a",
                                                    "podSecurity": "baseline"},
                                                   "tenant-b"]})
    objects = ObjectSet(rendering.kubernetes_objects())
    labels = objects.get("Namespace", "tenant-a")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    other = objects.get("Namespace", "tenant-b")["metadata"]["labels"]
    assert other["pod-security.kubernetes.io/enforce"] == "restricted"


# -- shared Grafana and Prometheus ---------------------------------------------------------

def _monitoring_values(objects: ObjectSet) -> dict:
    releases = [r for r in objects.of_kind("HelmRelease")
                if r["spec"]["chart"] == "kube-prometheus-stack"]
    assert len(releases) == 1
    return releases[0]["spec"]["values"]


def test_grafana_reads_dashboards_from_the_monitoring_namespace_only(stack):
    spec, objects = stack
    if not spec.addons.monitoring.enabled:
        pytest.skip("no monitoring add-on")
    dashboards = _monitoring_values(objects)["grafana"]["sidecar"]["dashboards"]
    assert dashboards["searchNamespace"] == MONITORING_NAMESPACE


def test_prometheus_confines_tenant_monitors_to_their_namespace(stack):
    spec, objects = stack
    if not spec.addons.monitoring.enabled:
        pytest.skip("no monitoring add-on")
    prometheus = _monitoring_values(objects)["prometheus"]["prometheusSpec"]
    assert prometheus["enforcedNamespaceLabel"] == "namespace"
    assert prometheus["ignoreNamespaceSelectors"] is True
    exempt = prometheus["excludedFromEnforcement"]
    tenant_namespaces = {t.namespace for t in spec.tenants}
    # Only the platform's own monitors are exempt, never a tenant's.
    assert all(ref["namespace"] not in tenant_namespaces for ref in exempt)
    assert {"group": "monitoring.coreos.com", "resource": "servicemonitors",
            "namespace": "gpu-operator", "name": "nvidia-dcgm-exporter"} in exempt
    # Tenants still monitor their own workloads: every workload has its monitor in its
    # own namespace, and tenant roles may manage monitors there.
    for workload in spec.workloads:
        monitors = [m for m in objects.of_kind("PodMonitor", workload.tenant)
                    if m["metadata"]["name"] == workload.name]
        assert monitors and not monitors[0]["spec"].get("namespaceSelector")
    for tenant in spec.tenants:
        admins = [Subject.group(g) for g in tenant.admin_groups]
        for subject in admins:
            assert can_i(objects, subject, "create", "podmonitors", tenant.namespace,
                         api_group="monitoring.coreos.com")
