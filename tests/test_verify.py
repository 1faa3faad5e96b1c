"""`lab verify` offline: rendered object sets stand in for the cluster (baseline: every fault
fixed; faulty: every fault present), plus recorded shapes of live objects for the runtime
evidence only a running cluster has."""

import json

import pytest
from typer.testing import CliRunner

from faults import build_spec
from kube import ObjectSet
from kube.rbac import Subject
from lab.live import sar_authorizer
from lab.render import render
from kube.symptoms import Context, offline_context
from lab.verify import FIXED, PRESENT, UNKNOWN, table, verify
from tests.helpers import stack_values

ALL = stack_values("all-faults")
BASELINE = {k: v for k, v in ALL.items() if k != "gpu-lab:faults"}


@pytest.fixture(scope="module")
def faulty_spec():
    return build_spec(ALL, stack="all-faults")


@pytest.fixture(scope="module")
def baseline_ctx():
    spec = build_spec(BASELINE, stack="all-faults")
    return offline_context(spec, render(BASELINE, stack="all-faults"))


@pytest.fixture(scope="module")
def faulty_ctx(faulty_spec):
    return offline_context(faulty_spec, render(ALL, stack="all-faults"))


def test_baseline_objects_mean_every_fault_is_fixed(faulty_spec, baseline_ctx):
    verdicts = verify(faulty_spec, baseline_ctx)
    assert len(verdicts) == 13
    assert {v.fault: v.status for v in verdicts if v.status != FIXED} == {}


def test_faulty_objects_mean_every_fault_is_present(faulty_spec, faulty_ctx):
    verdicts = verify(faulty_spec, faulty_ctx)
    assert {v.fault: v.status for v in verdicts if v.status != PRESENT} == {}
    text = table(verdicts)
    assert text.splitlines()[0].split()[:3] == ["FAULT", "STATUS", "EVIDENCE"]
    assert text.endswith("0/13 fixed")


# -- recorded shapes of live objects --------------------------------------------------------

IMAGE = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"


def container_status(status: dict) -> dict:
    """A container status as the API server writes it (image, imageID, restartCount)."""
    return {"image": IMAGE, "imageID": "", "restartCount": 0, **status}


def pod(namespace, name, app, phase="Running", ready=True, init=None, main=None):
    main = main or {"name": "infer", "ready": ready, "state": {"running": {}}}
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/name": app}},
            "spec": {"initContainers": [{"name": init["name"], "image": IMAGE}] if init else [],
                     "containers": [{"name": main["name"], "image": IMAGE}]},
            "status": {"phase": phase,
                       "initContainerStatuses": [container_status(init)] if init else [],
                       "containerStatuses": [container_status(main)]}}


def live(ctx: Context, *extra, logs=None) -> Context:
    """The rendered objects plus recorded live objects, as `lab verify` would see them."""
    return Context(spec=ctx.spec, objects=ObjectSet(ctx.objects.objects + list(extra)),
                   nodes=ctx.nodes, live=True, logs=logs or {},
                   authorizer=None)


def status_of(spec, ctx, fault_id):
    [verdict] = [v for v in verify(spec, ctx) if v.fault == fault_id]
    return verdict


def test_crashloop_with_exec_format_error_is_the_arm64_fault(faulty_spec, baseline_ctx):
    crashing = pod("tenant-a", "batch-7x2k", "batch", phase="Pending", ready=False, init={
        "name": "install-deps", "ready": False, "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff",
                              "message": "back-off 1m20s restarting failed container"}},
        "lastState": {"terminated": {"exitCode": 255, "reason": "Error"}}})
    logs = {("tenant-a", "batch-7x2k", "install-deps"):
            "exec /opt/conda/bin/python: exec format error\n"}
    verdict = status_of(faulty_spec, live(baseline_ctx, crashing, logs=logs), "arm64-image")
    assert verdict.status == PRESENT and "exec format error" in verdict.evidence

    healthy = pod("tenant-a", "batch-9q", "batch")
    assert status_of(faulty_spec, live(baseline_ctx, healthy), "arm64-image").status == FIXED
    assert status_of(faulty_spec, live(baseline_ctx), "arm64-image").status == UNKNOWN


def test_oom_exit_is_the_gpu_memory_fault(faulty_spec, baseline_ctx):
    oom = pod("tenant-a", "big-1", "big", phase="Running", ready=False, main={
        "name": "infer", "ready": False, "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 3, "reason": "Error"}}})
    logs = {("tenant-a", "big-1", "infer"): '{"event": "error", "message": "CUDA out of memory: '
                                              'this model needs 32.0 GiB of GPU memory, but the '
                                              'GPU (Tesla T4) has 14.8 GiB"}'}
    verdict = status_of(faulty_spec, live(baseline_ctx, oom, logs=logs), "gpu-memory-oom")
    assert verdict.status == PRESENT and "CUDA out of memory" in verdict.evidence


def test_pending_pod_event_explains_the_scheduling_fault(faulty_spec, faulty_ctx):
    stuck = pod("tenant-b", "placed-5d", "placed", phase="Pending", ready=False,
                main={"name": "infer", "ready": False, "state": {"waiting": {}}})
    event = {"kind": "Event", "reason": "FailedScheduling", "type": "Warning",
             "involvedObject": {"kind": "Pod", "namespace": "tenant-b", "name": "placed-5d"},
             "message": "0/6 nodes are available: 2 Insufficient nvidia.com/gpu, 4 node(s) "
                        "didn't match Pod's node affinity/selector."}
    verdict = status_of(faulty_spec, live(faulty_ctx, stuck, event), "gpu-pod-on-cpu-pool")
    assert verdict.status == PRESENT
    assert "pod tenant-b/placed-5d Pending: 0/6 nodes are available" in verdict.evidence


def test_image_pull_timeouts_point_at_the_firewall(faulty_spec, baseline_ctx):
    pulling = pod("tenant-c", "infer-1", "infer", phase="Pending", ready=False, main={
        "name": "infer", "ready": False,
        "state": {"waiting": {"reason": "ImagePullBackOff",
                              "message": "dial tcp 104.18.0.1:443: i/o timeout"}}})
    verdict = status_of(faulty_spec, live(baseline_ctx, pulling), "egress-blocked")
    assert verdict.status == PRESENT and "VPC firewall" in verdict.evidence
    assert status_of(faulty_spec, live(baseline_ctx), "egress-blocked").status == FIXED


def test_prometheus_decides_dcgm_when_reachable(faulty_spec, faulty_ctx):
    ctx = live(faulty_ctx)
    ctx.prometheus = lambda query: True
    assert status_of(faulty_spec, ctx, "dcgm-metrics-missing").status == FIXED
    ctx.prometheus = lambda query: None        # unreachable: fall back to the ServiceMonitors
    assert status_of(faulty_spec, ctx, "dcgm-metrics-missing").status == PRESENT


def test_access_questions_go_to_the_authorizer(faulty_spec, faulty_ctx):
    asked = []

    def authorizer(subject, verb, resource, namespace):
        from kube.answer import Answer
        asked.append((subject.user, verb, resource, namespace))
        return Answer(False, "the API server says no")

    ctx = live(faulty_ctx)
    ctx.authorizer = authorizer
    assert status_of(faulty_spec, ctx, "rbac-cross-tenant-read").status == FIXED
    assert ("member-of:tenant-a-developers@example.com", "list", "pods", "tenant-b") in asked


def test_subject_access_review_request():
    class FakeAuthorizationApi:
        def __init__(self):
            self.reviews = []

        def create_subject_access_review(self, review):
            self.reviews.append(review)
            status = type("Status", (), {"allowed": True, "reason": 'RBAC: allowed by '
                                         'RoleBinding "dashboard-viewers/tenant-b"'})
            return type("Review", (), {"status": status})

    fake = FakeAuthorizationApi()
    from kubernetes import client
    original = client.AuthorizationV1Api
    client.AuthorizationV1Api = lambda api_client: fake
    try:
        authorize = sar_authorizer(api_client=None)
        answer = authorize(Subject.group("tenant-a-developers@example.com"), "get", "pods/log",
                           "tenant-b")
    finally:
        client.AuthorizationV1Api = original
    assert answer and 'RoleBinding "dashboard-viewers/tenant-b"' in answer.reason
    [review] = fake.reviews
    attributes = review.spec.resource_attributes
    assert (attributes.verb, attributes.resource, attributes.subresource,
            attributes.namespace, attributes.group) == ("get", "pods", "log", "tenant-b", "")
    assert "tenant-a-developers@example.com" in review.spec.groups


def test_verify_command_without_a_cluster_says_so(tmp_path):
    from lab.cli import app
    result = CliRunner().invoke(app, ["verify", "pairing", "--kubeconfig",
                                      str(tmp_path / "missing")])
    assert result.exit_code == 3
    assert "cannot load the kubeconfig" in result.output


def test_verdicts_as_json(faulty_spec, faulty_ctx):
    verdicts = verify(faulty_spec, faulty_ctx)
    data = json.loads(json.dumps([v.to_json() for v in verdicts]))
    assert set(data[0]) == {"fault", "title", "status", "evidence", "question"}


# -- end to end through the Kubernetes client, against a fake API server ---------------------

def cluster_objects(ctx, *extra):
    """What a cluster built from this context would hold: its objects and its nodes."""
    kinds = {o["kind"] for o in ctx.objects.objects} - {"HelmRelease", "GcpFirewall"}
    objects = [o for o in ctx.objects.objects if o["kind"] in kinds]
    return objects + ctx.nodes + list(extra)


def run_verify_command(tmp_path, objects, logs=None):
    import yaml
    from lab.cli import app
    from tests.fake_kube_api import FakeKubeAPI

    with FakeKubeAPI(objects, logs or {}) as api:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(api.kubeconfig()))
        result = CliRunner().invoke(app, ["verify", "all-faults", "--kubeconfig",
                                          str(kubeconfig), "--json"])
        return result, api.reviews


def test_live_verify_of_a_broken_cluster(tmp_path, faulty_ctx):
    crashing = pod("tenant-a", "batch-1", "batch", phase="Pending", ready=False, init={
        "name": "install-deps", "ready": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 255, "reason": "Error"}}})
    logs = {("tenant-a", "batch-1", "install-deps"): "exec /usr/bin/python: exec format error"}
    result, reviews = run_verify_command(tmp_path, cluster_objects(faulty_ctx, crashing), logs)
    assert result.exit_code == 1, result.output
    verdicts = {v["fault"]: v for v in json.loads(result.output)}
    assert verdicts["arm64-image"]["status"] == PRESENT
    assert "exec format error" in verdicts["arm64-image"]["evidence"]
    assert verdicts["gpu-memory-oom"]["status"] == UNKNOWN        # no pod of big yet
    assert verdicts["rbac-cross-tenant-read"]["status"] == PRESENT
    assert "the API server says yes" in verdicts["rbac-cross-tenant-read"]["evidence"]
    assert verdicts["job-submitter-forbidden"]["status"] == PRESENT
    assert verdicts["gpu-quota-ineffective"]["status"] == PRESENT
    assert verdicts["dcgm-metrics-missing"]["status"] == PRESENT
    assert reviews and reviews[0]["kind"] == "SubjectAccessReview"


def test_live_verify_of_a_fixed_cluster_exits_zero(tmp_path, baseline_ctx):
    running = [pod("tenant-a", f"{app}-1", app) for app in ("batch", "big")]
    # What the GPU Operator creates at run time when its ServiceMonitor is on.
    dcgm_monitor = {"kind": "ServiceMonitor", "apiVersion": "monitoring.coreos.com/v1",
                    "metadata": {"name": "nvidia-dcgm-exporter", "namespace": "gpu-operator"},
                    "spec": {"selector": {"matchLabels": {"app": "nvidia-dcgm-exporter"}},
                             "endpoints": [{"port": "gpu-metrics"}]}}
    result, _ = run_verify_command(tmp_path, cluster_objects(baseline_ctx, *running,
                                                             dcgm_monitor))
    assert result.exit_code == 0, result.output
    verdicts = json.loads(result.output)
    assert len(verdicts) == 13 and {v["status"] for v in verdicts} == {FIXED}
