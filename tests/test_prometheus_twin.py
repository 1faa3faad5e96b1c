"""Prometheus in the twin: the targets the operator makes of every monitor (ported from
prometheus-operator and checked with its test cases), the series the exporters expose, and
what Prometheus' own engine (promtool, from Debian's package) answers over them for every
shipped stack: the platform's targets are up, and a healthy stack fires no alert but the
chart's always-on ones."""

from __future__ import annotations

import functools
import re

import pytest

from faults import SCENARIOS, build_spec, enabled
from kube import ObjectSet
from kube.prometheus_engine import (SAMPLES, EngineError, Series, evaluate, notation,
                                    parse_labels, parse_samples, tool)
from kube.prometheus_series import Target, attach
from kube.prometheus_targets import Discovery, endpoints, find_port, should_be_in_endpoints
from lab.render import render
from lab.simulate import prometheus_view
from tests.helpers import stack_values

SHIPPED = ["dev", "pairing", "all-faults", "local"]
ALWAYS_ON = {"Watchdog"}


def _without_faults(stack: str) -> dict:
    values = stack_values(stack)
    scenario = values.pop("gpu-lab:scenario", None)
    values.pop("gpu-lab:faults", None)
    if scenario:
        values.update({f"gpu-lab:{k}": v for k, v in SCENARIOS[scenario].config.items()})
    return values


def scenario_values(name: str) -> dict:
    return {"gcp:project": "gpu-lab-test", "gcp:region": "us-central1",
            "gpu-lab:allowFaults": True, "gpu-lab:scenario": name}


# Every stack the Prometheus tests look at: (config, stack name).
STACKS = {
    **{stack: (lambda s=stack: stack_values(s), stack) for stack in SHIPPED},
    "pairing without faults": (lambda: _without_faults("pairing"), "pairing"),
    "all-faults without faults": (lambda: _without_faults("all-faults"), "test"),
    **{f"scenario {name}": (lambda n=name: scenario_values(n), name) for name in SCENARIOS},
}
HEALTHY = ["dev", "local", "pairing without faults", "all-faults without faults"]


@functools.lru_cache(maxsize=None)
def stack_spec(key: str):
    values, name = STACKS[key]
    return build_spec(values(), stack=name)


@functools.lru_cache(maxsize=None)
def prometheus_of(key: str):
    """The stack's targets, series and rules (rendered and simulated once per process)."""
    values, name = STACKS[key]
    return prometheus_view(stack_spec(key), render(values(), stack=name))


# -- Prometheus' tools are there ---------------------------------------------------------

def test_promtool_is_installed():
    """make install unpacks Debian's prometheus package; without it these tests fail
    (they never skip)."""
    assert tool("promtool").is_file()


# -- the engine's plumbing ---------------------------------------------------------------

def test_values_in_promtools_expanding_notation():
    # cmd/promtool's series notation: 'a+bxn' is n+1 values, '_' a missing sample.
    assert notation([1, 1, 1]) == "1.0+0.0x2"
    assert notation([0, 2, 4, None, None, 7]) == "0.0+2.0x2 _x1 7.0"
    assert notation([5, 3]) == "5.0-2.0x1"


def test_promtools_output_is_read_back():
    # labels.Labels.String() quotes values with strconv.Quote; samples print as %E.
    assert parse_labels('alertname="X", a="q\\"uote", b="back\\\\slash"') == \
        {"alertname": "X", "a": 'q"uote', "b": "back\\slash"}
    assert parse_samples('{__name__="up", job="a, b"} 1E+00, {job="c"} 8.7E+01') == [
        {"metric": {"__name__": "up", "job": "a, b"}, "value": 1.0},
        {"metric": {"job": "c"}, "value": 87.0}]
    assert parse_samples("nil") == []


def test_a_query_prometheus_refuses_is_an_error():
    series = [Series.of("up", {"job": "x"}, 1)]
    answers = evaluate({"s": series}, ["sum(", "up"])
    assert "parse error" in answers["s"].errors["sum("]
    assert answers["s"].queries["up"] == [{"metric": {"__name__": "up", "job": "x"},
                                           "value": 1.0}]
    with pytest.raises(EngineError):
        from kube.prometheus_engine import query
        query({"s": series}, "rate(up)")


# -- the operator's targets, with prometheus-operator's own cases ------------------------

def _pod(name, labels, phase="Running", ready=True, ports=(("web", 8080),), ns="default",
         policy="Always"):
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": "n1", "restartPolicy": policy, "containers": [
                {"name": "app", "ports": [{"name": n, "containerPort": p} for n, p in ports]}]},
            "status": {"phase": phase, "podIP": f"10.0.0.{len(name)}",
                       "containerStatuses": [{"name": "app", "ready": ready}]}}


def _service(name, labels, selector, ports=(("web", "web"),), ns="default"):
    return {"kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"selector": selector, "ports": [{"name": n, "port": 80, "targetPort": t}
                                                     for n, t in ports]}}


# prometheus-operator pkg/prometheus/promcfg_test.go, TestEnforcedNamespaceLabelServiceMonitor
# and testdata/EnforcedNamespaceLabelServiceMonitor_Expected.golden: keep Services with
# foo=bar and alpha in (beta, gamma), the endpoint port `web`, node/pod from the address's
# target, namespace, service, pod, container, the running filter, job from the Service
# name, endpoint=web, the endpoint's relabeling (pod_ready from __meta_kubernetes_pod_ready),
# then `ns-key: default` last, on the target and on every sample.
GOLDEN_MONITOR = {
    "kind": "ServiceMonitor", "metadata": {"name": "test", "namespace": "default"},
    "spec": {"selector": {"matchLabels": {"foo": "bar"}, "matchExpressions": [
        {"key": "alpha", "operator": "In", "values": ["beta", "gamma"]}]},
        "endpoints": [{"port": "web", "interval": "30s", "relabelings": [
            {"action": "replace", "regex": "(.*)", "replacement": "$1",
             "sourceLabels": ["__meta_kubernetes_pod_ready"], "targetLabel": "pod_ready"}]}]}}


def test_enforced_namespace_label_service_monitor_golden():
    objects = ObjectSet([
        GOLDEN_MONITOR,
        _service("svc", {"foo": "bar", "alpha": "beta"}, {"app": "a"}),
        _service("other", {"foo": "bar", "alpha": "delta"}, {"app": "a"}),   # alpha not in
        _service("nofoo", {"alpha": "gamma"}, {"app": "a"}),                  # foo missing
        _pod("a-running", {"app": "a"}),
        _pod("a-done", {"app": "a"}, phase="Succeeded", ready=False),
    ])
    prometheus = {"enforcedNamespaceLabel": "ns-key",
                  "serviceMonitorSelectorNilUsesHelmValues": False}
    targets = Discovery(objects, prometheus).targets()
    assert [t.labels for t in targets] == [{
        "namespace": "default", "service": "svc", "pod": "a-running", "container": "app",
        "job": "svc", "endpoint": "web", "pod_ready": "true", "ns-key": "default",
        "instance": "10.0.0.9:8080"}]
    assert targets[0].up and targets[0].enforced == ("ns-key", "default")
    assert attach({"pod_name": "x"}, targets[0])["ns-key"] == "default"


# TestEnforcedNamespaceLabelOnExcludedServiceMonitor
# (EnforcedNamespaceLabelOnExcludedServiceMonitor_Expected.golden): an excluded monitor's
# relabelings get no ns-key.
def test_enforced_namespace_label_on_excluded_service_monitor_golden():
    objects = ObjectSet([GOLDEN_MONITOR, _service("svc", {"foo": "bar", "alpha": "beta"},
                                                  {"app": "a"}), _pod("a-running", {"app": "a"})])
    prometheus = {"enforcedNamespaceLabel": "ns-key", "excludedFromEnforcement": [
        {"group": "monitoring.coreos.com", "resource": "servicemonitors",
         "namespace": "default", "name": "test"}],
        "serviceMonitorSelectorNilUsesHelmValues": False}
    target, = Discovery(objects, prometheus).targets()
    assert "ns-key" not in target.labels and target.enforced is None


# TestEnforcedNamespaceLabelPodMonitor (EnforcedNamespaceLabelPodMonitor_Expected.golden) and
# generatePodMonitorConfig: the running filter first, the pod's labels, the container port
# by name, namespace/container/pod, job <namespace>/<name>, endpoint, then ns-key.
def test_enforced_namespace_label_pod_monitor_golden():
    monitor = {"kind": "PodMonitor",
               "metadata": {"name": "podmonitor", "namespace": "pod-monitor-ns"},
               "spec": {"selector": {"matchLabels": {"foo": "bar"}},
                        "podMetricsEndpoints": [{"port": "web", "interval": "30s"}]}}
    objects = ObjectSet([monitor,
                         _pod("p1", {"foo": "bar"}, ns="pod-monitor-ns"),
                         _pod("p2", {"foo": "baz"}, ns="pod-monitor-ns"),
                         _pod("p3", {"foo": "bar"}, ns="pod-monitor-ns", phase="Failed",
                              ready=False, policy="Never"),
                         _pod("p4", {"foo": "bar"}, ns="pod-monitor-ns", ports=(("http", 80),))])
    prometheus = {"enforcedNamespaceLabel": "ns-key",
                  "podMonitorSelectorNilUsesHelmValues": False}
    targets = Discovery(objects, prometheus).targets()
    assert [t.labels for t in targets] == [{
        "namespace": "pod-monitor-ns", "container": "app", "pod": "p1",
        "job": "pod-monitor-ns/podmonitor", "endpoint": "web", "ns-key": "pod-monitor-ns",
        "instance": "10.0.0.2:8080"}]


def test_job_label_and_target_labels_come_from_the_service():
    # promcfg_test.go TestTargetLabels / TestPodTargetLabels: labels copied when present.
    monitor = {"kind": "ServiceMonitor", "metadata": {"name": "m", "namespace": "default"},
               "spec": {"selector": {"matchLabels": {"app": "a"}}, "jobLabel": "team",
                        "targetLabels": ["env"], "podTargetLabels": ["tier"],
                        "endpoints": [{"port": "web"}]}}
    objects = ObjectSet([monitor, _service("svc", {"app": "a", "team": "t1", "env": "prod"},
                                           {"app": "a"}),
                         _pod("pod-1", {"app": "a", "tier": "back"})])
    target, = Discovery(objects, {"serviceMonitorSelectorNilUsesHelmValues": False}).targets()
    assert target.labels["job"] == "t1" and target.labels["env"] == "prod" and \
        target.labels["tier"] == "back"


# kubernetes pkg/controller/util/endpoint/controller_utils_test.go, TestShouldPodBeInEndpoints
# (the cases without deletion): no IP never; a terminal pod depends on its restart policy.
@pytest.mark.parametrize("policy,phase,ip,expected", [
    ("Always", "Pending", "", False),
    ("Never", "Failed", "1.2.3.4", False),
    ("Never", "Succeeded", "1.2.3.4", False),
    ("OnFailure", "Succeeded", "1.2.3.4", False),
    ("Always", "Running", "1.2.3.4", True),
    ("OnFailure", "Failed", "1.2.3.4", True),
    ("Never", "Running", "1.2.3.4", True),
    ("Always", "Pending", "1.2.3.4", True),
], ids=["pending-no-ip", "failed-never", "succeeded-never", "succeeded-onfailure",
        "running", "failed-onfailure", "running-never", "pending-with-ip"])
def test_should_pod_be_in_endpoints(policy, phase, ip, expected):
    pod = {"spec": {"restartPolicy": policy}, "status": {"phase": phase, "podIP": ip}}
    assert should_be_in_endpoints(pod) is expected


def test_a_named_target_port_resolves_to_the_container_port():
    # kubernetes pkg/api/v1/pod/util.go FindPort (TestFindPort: by name, by number, missing).
    pod = _pod("p", {}, ports=(("metrics", 8000), ("web", 8080)))
    assert find_port(pod, "metrics") == (8000, "app")
    assert find_port(pod, 9999) == (9999, None)
    assert find_port(pod, "nope") is None
    service = _service("s", {}, {"app": "a"}, ports=(("m", "metrics"), ("x", "nope")))
    pod["metadata"]["labels"] = {"app": "a"}
    assert [(a.port_name, a.port) for a in endpoints(service, [pod])] == [("m", 8000)]


# prometheus/prometheus scrape/scrape_test.go, TestScrapeLoopAppend: honor_labels off renames
# a clashing exposed label exported_<name>, on keeps the exposed one; empty labels go.
@pytest.mark.parametrize("honor,exposed,target,expected", [
    (False, {"n": "1"}, {"n": "2"}, {"exported_n": "1", "n": "2"}),
    (False, {}, {"n": "2", "exported_n": "2"}, {"n": "2", "exported_n": "2"}),
    (False, {"n": ""}, {}, {}),
    (True, {"n1": "1", "n2": "2"}, {"n1": "0"}, {"n1": "1", "n2": "2"}),
], ids=["label-name-collision", "exported-from-discovery-kept", "empty-labels-deleted",
        "honor-labels"])
def test_target_labels_onto_samples(honor, exposed, target, expected):
    assert attach(exposed, Target(target, True, "m", honor_labels=honor)) == expected


# -- every shipped stack --------------------------------------------------------------------

PLATFORM_JOBS = {"apiserver", "kubelet", "kube-state-metrics", "node-exporter"}
QUERIES = ['up == 1', 'up == 0', 'count by (job) (up{job="kubelet"}) ',
           'count(kube_node_info)']


@functools.lru_cache(maxsize=1)
def healthy_answers():
    """The healthy stacks' firing alerts (gpu-lab's rules and the chart's) and their answers
    to QUERIES: one promtool run."""
    view = prometheus_of(HEALTHY[0])
    return evaluate({key: prometheus_of(key).series for key in HEALTHY}, QUERIES,
                    view.rule_groups, alerts=True)


def check_platform_targets(stack: str, answers) -> None:
    """The platform's jobs are up; the DCGM exporter's where GPU nodes exist (none with
    dcgm-metrics-missing, its promise); every node's kubelet on its three paths."""
    spec = stack_spec(stack)
    up = {r["metric"]["job"] for r in answers.queries["up == 1"]}
    dns = "kube-dns" if spec.platform == "gke" else "coredns"
    assert PLATFORM_JOBS | {dns} <= up, up
    faults = {fault.id for fault, _ in enabled(spec)}
    if spec.gpu_pools and "dcgm-metrics-missing" not in faults:
        assert "nvidia-dcgm-exporter" in up
    else:          # the fault's promise: no such job
        assert not any(t.job == "nvidia-dcgm-exporter" for t in prometheus_of(stack).targets)
    nodes, = answers.queries["count(kube_node_info)"]
    kubelets, = answers.queries['count by (job) (up{job="kubelet"}) ']
    assert kubelets["value"] == 3 * nodes["value"]      # /metrics, cadvisor, probes


def check_only_faults_targets_down(stack: str, answers) -> None:
    spec = stack_spec(stack)
    targeted = {t.removeprefix("workload:") for fault, params in enabled(spec)
                for t in fault.targets(spec, **params) if t.startswith("workload:")}
    for metric in (r["metric"] for r in answers.queries["up == 0"]):
        owner = re.sub(r"-[a-z0-9]+(-[a-z0-9]+)?$", "", metric.get("pod", ""))
        workload = f"{metric.get('namespace')}/{owner}"
        assert workload in targeted, f"{metric} is down, and no fault targets {workload}"


# The shipped stacks without faults here; pairing and all-faults in tests/test_guide_promql.py,
# from its run.
@pytest.mark.parametrize("stack", [s for s in SHIPPED if s in HEALTHY])
def test_the_platforms_targets_are_up(stack):
    check_platform_targets(stack, healthy_answers()[stack])
    check_only_faults_targets_down(stack, healthy_answers()[stack])


# -- a healthy stack fires no alert but Watchdog ------------------------------------------

# Every shipped stack runs without Alertmanager, so nothing is inhibited: the Alerts page of
# Prometheus shows every firing alert, info ones included, to the candidate.
@pytest.mark.parametrize("stack", HEALTHY)
def test_a_healthy_stack_fires_only_the_always_on_alerts(stack):
    firing = healthy_answers()[stack].alerts
    assert "Watchdog" in {a["alert"] for a in firing}
    others = [(a["alert"], a["labels"].get("namespace")) for a in firing
              if a["alert"] not in ALWAYS_ON]
    assert others == [], others


def test_a_full_gpu_quota_alerts_only_once_it_refuses_a_deployments_pod():
    """tenant-b's quota holds one GPU and its Deployment asks for two: the ReplicaSet's second
    create is refused (FailedCreate), kube_deployment_status_replicas stays at 1, and
    gpu-lab's GpuTenantQuotaExhausted fires for tenant-b only; tenant-a, at its quota with
    every pod created, stays quiet."""
    from lab.simulate import alerts, query

    values = _without_faults("pairing")
    values["gpu-lab:workloads"] = [{"tenant": "tenant-a", "name": "infer"},
                                   {"tenant": "tenant-b", "name": "infer", "replicas": 2}]
    view = prometheus_view(build_spec(values, stack="quota"), render(values, stack="quota"))
    short = query(view, "kube_deployment_spec_replicas - kube_deployment_status_replicas > 0")
    assert [(r["metric"]["namespace"], r["metric"]["deployment"], r["value"])
            for r in short] == [("tenant-b", "infer", 1.0)]
    quota = [a["labels"]["namespace"] for a in alerts(view)
             if a["alert"] == "GpuTenantQuotaExhausted"]
    assert quota == ["tenant-b"]


def test_the_charts_disabled_rules_are_left_out():
    # kubernetes-resources.yaml: {{- if not (.Values.defaultRules.disabled.KubeQuotaFullyUsed
    # | default false) }} around the rule; likewise for every alert of the chart.
    from kube.prometheus_rules import chart_rule_groups

    def names(values):
        return {r["alert"] for g in chart_rule_groups(values) for r in g["rules"]}

    assert "KubeQuotaFullyUsed" in names({})
    assert "KubeQuotaFullyUsed" in names({"defaultRules": {"disabled": {
        "KubeQuotaFullyUsed": False}}})
    assert names({"defaultRules": {"disabled": {"KubeQuotaFullyUsed": True}}}) == \
        names({}) - {"KubeQuotaFullyUsed"}
    assert names({"defaultRules": {"create": False}}) == set()


# -- the command ------------------------------------------------------------------------------

def test_simulate_query_and_alerts_on_the_command_line():
    """`simulate --query EXPR --json` prints [{metric, value}]; --query and --alerts
    together exit 2 (a query Prometheus refuses: test_a_query_prometheus_refuses_is_an_error)."""
    import json

    from typer.testing import CliRunner

    from lab.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["simulate", "--scenario", "pairing", "--json", "--query",
                                 'sum by (job) (gpu_lab_inference_batches_total{job=~".*/infer"})'])
    assert result.exit_code == 0, result.output
    assert [r["metric"] for r in json.loads(result.output)] == [{"job": "tenant-b/infer"}]
    result = runner.invoke(app, ["simulate", "--stack", "dev", "--query", "up", "--alerts"])
    assert result.exit_code == 2 and "--query and --alerts together" in result.output
    # --after: the cluster as it is then; workload-failures' arm64 Job has restarted in place
    # for two hours (kube_pod_container_status_restarts_total of its pod keeps climbing).
    restarts = 'max(kube_pod_container_status_restarts_total{namespace="tenant-a"})'
    counts = []
    for after in ("5m", "2h"):
        result = runner.invoke(app, ["simulate", "--scenario", "workload-failures", "--after",
                                     after, "--json", "--query", restarts])
        assert result.exit_code == 0, result.output
        counts.append(json.loads(result.output)[0]["value"])
    assert 0 < counts[0] < counts[1], counts
