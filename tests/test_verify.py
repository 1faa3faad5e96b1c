"""`lab verify` offline: rendered object sets stand in for the cluster (baseline: every fault
fixed; faulty: every fault present), plus recorded shapes of live objects for the runtime
evidence only a running cluster has."""

import functools
import json

import pytest
from typer.testing import CliRunner

from faults import build_spec
from kube import ObjectSet
from kube.rbac import Subject
from lab.live import sar_authorizer
from lab.render import render
from kube.symptoms import Context, offline_context
from lab.snapshot import twin_objects
from lab.verify import FIXED, PRESENT, UNKNOWN, table, verify
from kube.images import ARM64_PYTHON
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
    assert len(verdicts) == len(ALL["gpu-lab:faults"]) == 12
    assert {v.fault: v.status for v in verdicts if v.status != FIXED} == {}


def test_faulty_objects_mean_every_fault_is_present(faulty_spec, faulty_ctx):
    verdicts = verify(faulty_spec, faulty_ctx)
    assert {v.fault: v.status for v in verdicts if v.status != PRESENT} == {}
    text = table(verdicts)
    assert text.splitlines()[0].split()[:3] == ["FAULT", "STATUS", "EVIDENCE"]
    assert text.endswith("0/12 fixed")


# -- recorded shapes of live objects --------------------------------------------------------

@functools.lru_cache(maxsize=None)
def image_of(namespace: str, app: str) -> str:
    """The image of the workload's pod template in the all-faults baseline (made from it)."""
    for obj in render(BASELINE, stack="all-faults").kubernetes_objects():
        if obj["kind"] in ("Deployment", "Job") and \
                (obj["metadata"]["namespace"], obj["metadata"]["name"]) == (namespace, app):
            return obj["spec"]["template"]["spec"]["containers"][0]["image"]
    raise KeyError((namespace, app))


def container_status(status: dict, image: str) -> dict:
    """A container status as the API server writes it (image, imageID, restartCount)."""
    return {"image": image, "imageID": "", "restartCount": 0, **status}


def pod(namespace, name, app, phase="Running", ready=True, init=None, main=None):
    main = main or {"name": "infer", "ready": ready, "state": {"running": {}}}
    image = image_of(namespace, app)
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/name": app}},
            "spec": {"initContainers": [{"name": init["name"], "image": image}] if init else [],
                     "containers": [{"name": main["name"], "image": image}]},
            "status": {"phase": phase,
                       "initContainerStatuses": [container_status(init, image)] if init else [],
                       "containerStatuses": [container_status(main, image)]}}


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


def test_create_container_error_of_a_foreign_manifest_is_the_arm64_fault(faulty_spec,
                                                                         baseline_ctx):
    """containerd 2.2.2 and later (transfer service): the pod never starts a container; the
    kubelet's message is what tells (kube/kubelet.py foreign_manifest)."""
    from kube.kubelet import CREATE_CONTAINER_ERROR, NO_FOREIGN_SNAPSHOT
    stuck = pod("tenant-a", "batch-7x2k", "batch", phase="Pending", ready=False, init={
        "name": "install-deps", "ready": False,
        "state": {"waiting": {"reason": CREATE_CONTAINER_ERROR,
                              "message": NO_FOREIGN_SNAPSHOT}}})
    verdict = status_of(faulty_spec, live(baseline_ctx, stuck), "arm64-image")
    assert verdict.status == PRESENT and "parent snapshot" in verdict.evidence


def test_oom_exit_is_the_gpu_memory_fault(faulty_spec, baseline_ctx):
    oom = pod("tenant-a", "finetune-1", "finetune", phase="Running", ready=False, main={
        "name": "infer", "ready": False, "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 3, "reason": "Error"}}})
    logs = {("tenant-a", "finetune-1", "infer"): '{"event": "error", "message": "CUDA out of memory: '
                                              'this model needs 32.0 GiB of GPU memory, but the '
                                              'GPU (Tesla T4) has 14.8 GiB"}'}
    verdict = status_of(faulty_spec, live(baseline_ctx, oom, logs=logs), "gpu-memory-oom")
    assert verdict.status == PRESENT and "CUDA out of memory" in verdict.evidence


def test_pending_pod_event_explains_the_scheduling_fault(faulty_spec, faulty_ctx):
    stuck = pod("tenant-b", "detect-5d", "detect", phase="Pending", ready=False,
                main={"name": "infer", "ready": False, "state": {"waiting": {}}})
    event = {"kind": "Event", "reason": "FailedScheduling", "type": "Warning",
             "involvedObject": {"kind": "Pod", "namespace": "tenant-b", "name": "detect-5d"},
             "message": "0/6 nodes are available: 2 Insufficient nvidia.com/gpu, 4 node(s) "
                        "didn't match Pod's node affinity/selector."}
    verdict = status_of(faulty_spec, live(faulty_ctx, stuck, event), "gpu-pod-on-cpu-pool")
    assert verdict.status == PRESENT
    assert "pod tenant-b/detect-5d Pending: 0/6 nodes are available" in verdict.evidence


def test_image_pull_timeouts_point_at_the_firewall(faulty_spec, baseline_ctx):
    pulling = pod("tenant-c", "infer-1", "infer", phase="Pending", ready=False, main={
        "name": "infer", "ready": False,
        "state": {"waiting": {"reason": "ImagePullBackOff",
                              "message": "dial tcp 104.18.0.1:443: i/o timeout"}}})
    verdict = status_of(faulty_spec, live(baseline_ctx, pulling), "egress-blocked")
    assert verdict.status == PRESENT and "VPC firewall" in verdict.evidence
    assert status_of(faulty_spec, live(baseline_ctx), "egress-blocked").status == FIXED


def test_prometheus_decides_dcgm_when_reachable():
    values = {**BASELINE, "gpu-lab:faults": ["dcgm-metrics-missing"]}
    spec = build_spec(values, stack="test")
    ctx = live(offline_context(spec, render(values, stack="test")))
    ctx.prometheus = lambda query: "exported_namespace" not in query
    assert status_of(spec, ctx, "dcgm-metrics-missing").status == FIXED
    ctx.prometheus = lambda query: True        # scraped, but the GPU series lost their pod
    verdict = status_of(spec, ctx, "dcgm-metrics-missing")
    assert verdict.status == PRESENT and "exported_namespace" in verdict.evidence
    ctx.prometheus = lambda query: None        # unreachable: fall back to the ServiceMonitors
    assert status_of(spec, ctx, "dcgm-metrics-missing").status == PRESENT


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

        def create_subject_access_review(self, review, _preload_content=True):
            """As the client hands back the raw response: its JSON in .data."""
            assert _preload_content is False
            self.reviews.append(review)
            status = {"allowed": True,
                      "reason": 'RBAC: allowed by RoleBinding "dashboard-viewers/tenant-b"'}
            return type("Response", (), {"data": json.dumps({**review, "status": status})})

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
    assert (review["apiVersion"], review["kind"]) == ("authorization.k8s.io/v1",
                                                      "SubjectAccessReview")
    assert review["spec"]["resourceAttributes"] == {
        "verb": "get", "group": "", "resource": "pods", "subresource": "log",
        "namespace": "tenant-b"}
    assert "tenant-a-developers@example.com" in review["spec"]["groups"]


def test_verify_command_without_a_cluster_says_so(tmp_path):
    from lab.cli import app
    result = CliRunner().invoke(app, ["verify", "pairing", "--kubeconfig",
                                      str(tmp_path / "missing")])
    assert result.exit_code == 3
    assert "cannot load the kubeconfig" in result.output


def test_verdicts_as_json(faulty_spec, faulty_ctx):
    verdicts = verify(faulty_spec, faulty_ctx)
    data = json.loads(json.dumps([v.to_json() for v in verdicts]))
    assert set(data[0]) == {"fault", "title", "status", "evidence"}


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
    for container in crashing["spec"]["initContainers"] + crashing["spec"]["containers"]:
        container["image"] = ARM64_PYTHON          # made from the Job's (broken) template
    logs = {("tenant-a", "batch-1", "install-deps"): "exec /usr/bin/python: exec format error"}
    result, reviews = run_verify_command(tmp_path, cluster_objects(faulty_ctx, crashing), logs)
    assert result.exit_code == 1, result.output
    verdicts = {v["fault"]: v for v in json.loads(result.output)["verdicts"]}
    assert verdicts["arm64-image"]["status"] == PRESENT
    assert "exec format error" in verdicts["arm64-image"]["evidence"]
    assert verdicts["gpu-memory-oom"]["status"] == UNKNOWN        # no pod of big yet
    assert verdicts["rbac-cross-tenant-read"]["status"] == PRESENT
    assert "the API server says yes" in verdicts["rbac-cross-tenant-read"]["evidence"]
    assert verdicts["job-submitter-forbidden"]["status"] == PRESENT
    assert verdicts["gpu-quota-ineffective"]["status"] == PRESENT
    assert reviews and reviews[0]["kind"] == "SubjectAccessReview"


def test_live_verify_of_a_fixed_cluster_exits_zero(tmp_path, baseline_ctx):
    # Every pod as the twin runs the healthy stack, as the API server shows them.
    running, logs = twin_objects(baseline_ctx.twin(), baseline_ctx.objects)
    # What the GPU Operator creates at run time when its ServiceMonitor is on.
    dcgm_monitor = {"kind": "ServiceMonitor", "apiVersion": "monitoring.coreos.com/v1",
                    "metadata": {"name": "nvidia-dcgm-exporter", "namespace": "gpu-operator"},
                    "spec": {"selector": {"matchLabels": {"app": "nvidia-dcgm-exporter"}},
                             "endpoints": [{"port": "gpu-metrics", "honorLabels": True}]}}
    result, _ = run_verify_command(tmp_path, cluster_objects(baseline_ctx, *running,
                                                             dcgm_monitor), logs)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["verdicts"]) == 12 and {v["status"] for v in data["verdicts"]} == {FIXED}
    assert data["collateral"] == []


# -- defects of the first verify (issue 14): each test failed before the fix ----------------

import copy

from kube.objects import ObjectSet as _Objects


def gpu_node(name, pool, gpus, ready=True, machine="n1-standard-4"):
    """A GPU node as the API server shows it (labels, allocatable, the Ready condition)."""
    allocatable = {"cpu": "3920m", "memory": "12698Mi", "pods": "110"}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    return {"kind": "Node", "apiVersion": "v1",
            "metadata": {"name": name, "labels": {
                "gpu-lab/pool": pool, "gpu-lab/accelerator": "nvidia-tesla-t4",
                "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name,
                "node.kubernetes.io/instance-type": machine}},
            "spec": {"taints": [{"key": "nvidia.com/gpu", "value": "present",
                                 "effect": "NoSchedule"}]},
            "status": {"allocatable": allocatable, "capacity": dict(allocatable),
                       "conditions": [{"type": "Ready",
                                       "status": "True" if ready else "False"}]}}


def observed(ctx, objects=None, nodes=None, extra=(), logs=None):
    """A context as `lab verify` reads a cluster: these objects and nodes, pods as they are."""
    return Context(spec=ctx.spec, objects=_Objects(list(objects if objects is not None
                                                        else ctx.objects.objects) + list(extra)),
                   nodes=list(nodes if nodes is not None else ctx.nodes), live=True,
                   logs=logs or {})


def gpu_pod(namespace, name, app, node, gpus=1, phase="Running"):
    """A scheduled pod of a workload holding GPUs."""
    found = pod(namespace, name, app, phase=phase)
    found["spec"]["nodeName"] = node
    found["spec"]["containers"][0]["resources"] = {
        "requests": {"nvidia.com/gpu": str(gpus)}, "limits": {"nvidia.com/gpu": str(gpus)}}
    return found


def test_device_plugin_verdict_looks_only_at_the_faults_pool(faulty_spec, baseline_ctx):
    """A node of another pool that is still starting, or a spot replacement whose device
    plugin has not registered yet, says nothing about the fault's pool (t4-spare)."""
    starting = gpu_node("t4-starting", "t4", gpus=0, ready=False)
    replacement = gpu_node("t4-replacement", "t4", gpus=0)
    ctx = observed(baseline_ctx, nodes=baseline_ctx.nodes + [starting, replacement])
    verdict = status_of(faulty_spec, ctx, "gpu-device-plugin-missing")
    assert verdict.status == FIXED, verdict.evidence
    broken = [gpu_node("t4-spare-0", "t4-spare", gpus=0) if
              n["metadata"]["labels"].get("gpu-lab/pool") == "t4-spare" else n
              for n in baseline_ctx.nodes]
    verdict = status_of(faulty_spec, observed(baseline_ctx, nodes=broken),
                        "gpu-device-plugin-missing")
    assert verdict.status == PRESENT and "t4-spare-0" in verdict.evidence


def quota_cluster(ctx, key, hard, used, pods):
    """The baseline's objects with tenant-b's GPU quota line replaced, its status.used as the
    quota controller writes it, and `pods` GPU pods of tenant-b/infer running."""
    objects = copy.deepcopy(ctx.objects.objects)
    for obj in objects:
        if obj["kind"] == "ResourceQuota" and obj["metadata"]["namespace"] == "tenant-b":
            gpu_keys = [k for k in obj["spec"]["hard"] if "nvidia.com/gpu" in k]
            for k in gpu_keys:
                del obj["spec"]["hard"][k]
            obj["spec"]["hard"][key] = str(hard)
            obj["status"] = {"hard": dict(obj["spec"]["hard"]),
                             "used": {key: str(used)} if key.startswith("requests.") else {}}
    running = [gpu_pod("tenant-b", f"infer-{i}", "infer", f"t4-{i}") for i in range(pods)]
    return observed(ctx, objects=objects, extra=running)


def test_quota_verdict_ignores_what_the_namespace_already_uses(faulty_spec, baseline_ctx):
    """tenant-b is allocated 5 GPUs. Fixing the key while 6 pods still hold a GPU each, or
    raising the quota to what they use, is not the fix."""
    key_only = quota_cluster(baseline_ctx, "requests.nvidia.com/gpu", 5, 6, pods=6)
    verdict = status_of(faulty_spec, key_only, "gpu-quota-ineffective")
    assert verdict.status == PRESENT, verdict.evidence
    assert "6" in verdict.evidence and "5" in verdict.evidence
    raised = quota_cluster(baseline_ctx, "requests.nvidia.com/gpu", 6, 6, pods=6)
    verdict = status_of(faulty_spec, raised, "gpu-quota-ineffective")
    assert verdict.status == PRESENT, verdict.evidence
    fixed = quota_cluster(baseline_ctx, "requests.nvidia.com/gpu", 5, 4, pods=4)
    assert status_of(faulty_spec, fixed, "gpu-quota-ineffective").status == FIXED


def observability_fixed(ctx, *, monitor=None, args=None):
    """all-faults' objects with tenant-a/rerank mended: another monitor and/or other args."""
    objects = copy.deepcopy(ctx.objects.objects)
    for obj in objects:
        meta = obj["metadata"]
        if (meta.get("namespace"), meta.get("name")) != ("tenant-a", "rerank"):
            continue
        if obj["kind"] == "Deployment" and args is not None:
            container = obj["spec"]["template"]["spec"]["containers"][0]
            container["args"] = args(container["args"])
        if obj["kind"] == "PodMonitor" and monitor == "portNumber":
            obj["spec"]["podMetricsEndpoints"] = [{"portNumber": 8000, "path": "/metrics"}]
    if monitor == "ServiceMonitor":
        objects.append({"kind": "ServiceMonitor", "apiVersion": "monitoring.coreos.com/v1",
                        "metadata": {"name": "rerank-metrics", "namespace": "tenant-a"},
                        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "rerank"}},
                                 "endpoints": [{"port": "metrics", "path": "/metrics"}]}})
    if monitor == "port":
        for obj in objects:
            if obj["kind"] == "PodMonitor" and obj["metadata"]["name"] == "rerank":
                obj["spec"]["podMetricsEndpoints"][0]["port"] = "metrics"
    return Context(spec=ctx.spec, objects=_Objects(objects), nodes=ctx.nodes)


def no_log_file(args):
    i = args.index("--log-file")
    return args[:i] + args[i + 2:]


def to_stdout(args):
    return [("/dev/stdout" if a == "/tmp/infer.log" else a) for a in args]


@pytest.mark.parametrize("monitor,args", [("ServiceMonitor", no_log_file),
                                          ("portNumber", no_log_file),
                                          ("port", to_stdout)])
def test_observability_counts_every_way_prometheus_scrapes_and_stdout(
        faulty_spec, faulty_ctx, monitor, args):
    ctx = observability_fixed(faulty_ctx, monitor=monitor, args=args)
    verdict = status_of(faulty_spec, ctx, "tenant-observability-broken")
    assert verdict.status == FIXED, verdict.evidence
    half = observability_fixed(faulty_ctx, monitor=monitor)        # logs still to a file
    assert status_of(faulty_spec, half, "tenant-observability-broken").status == PRESENT


def succeeded(namespace, name, app):
    done = pod(namespace, name, app, phase="Succeeded", ready=False, main={
        "name": "infer", "ready": False,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}})
    done["status"]["initContainerStatuses"] = [container_status({
        "name": "install-deps", "ready": True,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        image_of(namespace, app))]
    return done


def test_a_job_that_completes_after_the_fix_is_fixed(faulty_spec, baseline_ctx):
    ctx = observed(baseline_ctx, extra=[succeeded("tenant-a", "batch-2k9xq", "batch"),
                                        succeeded("tenant-a", "finetune-4hx7m", "finetune")])
    for fault_id in ("arm64-image", "gpu-memory-oom"):
        verdict = status_of(faulty_spec, ctx, fault_id)
        assert verdict.status == FIXED, (fault_id, verdict.evidence)
        assert "Completed" in verdict.evidence or "Succeeded" in verdict.evidence


def test_an_arm64_only_tag_fails_at_the_pull_and_is_still_the_fault(faulty_spec, baseline_ctx):
    message = ('Failed to pull image "arm64v8/python:3.11-slim": no match for platform in '
               'manifest: not found')
    pulling = pod("tenant-a", "batch-pull", "batch", phase="Pending", ready=False, init={
        "name": "install-deps", "ready": False,
        "state": {"waiting": {"reason": "ErrImagePull", "message": message}}})
    verdict = status_of(faulty_spec, observed(baseline_ctx, extra=[pulling]), "arm64-image")
    assert verdict.status == PRESENT and "no match for platform" in verdict.evidence


def test_node_sizes_come_from_the_nodes(faulty_spec, faulty_ctx):
    """The guide's own fix for gpu-request-exceeds-node: a bigger machine type with two GPUs
    per node for pool t4, where tenant-a/summarize asks for 2 per pod."""
    bigger = [gpu_node(n["metadata"]["name"], "t4", gpus=2, machine="n1-standard-8")
              if n["metadata"]["labels"].get("gpu-lab/pool") == "t4" else n
              for n in faulty_ctx.nodes]
    ctx = observed(faulty_ctx, nodes=bigger)
    verdict = status_of(faulty_spec, ctx, "gpu-request-exceeds-node")
    assert verdict.status == FIXED, verdict.evidence
    assert status_of(faulty_spec, observed(faulty_ctx), "gpu-request-exceeds-node").status \
        == PRESENT


def test_a_fix_that_breaks_something_else_is_reported(tmp_path, faulty_ctx):
    """rbac-cross-tenant-read "fixed" by deleting every RoleBinding in tenant-b: tenant-b's
    own people and its CI lose their access, and `lab verify` says so (exit 1)."""
    objects = [o for o in cluster_objects(faulty_ctx)
               if not (o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == "tenant-b")]
    result, _ = run_verify_command(tmp_path, objects)
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    verdicts = {v["fault"]: v for v in data["verdicts"]}
    assert verdicts["rbac-cross-tenant-read"]["status"] == FIXED
    lost = " ".join(c["evidence"] for c in data["collateral"])
    assert "tenant-b-developers@example.com" in lost and "job-submitter" in lost


# -- what the cluster would do with a candidate's sidecar, args and roles --------------------

def with_obs(ctx, change):
    """all-faults' objects with tenant-a/rerank's pod template changed; its PodMonitor fixed."""
    objects = copy.deepcopy(ctx.objects.objects)
    for obj in objects:
        meta = obj["metadata"]
        if (obj["kind"], meta.get("namespace"), meta.get("name")) == ("Deployment", "tenant-a",
                                                                      "rerank"):
            change(obj["spec"]["template"]["spec"])
        if (obj["kind"], meta.get("namespace"), meta.get("name")) == ("PodMonitor", "tenant-a",
                                                                      "rerank"):
            obj["spec"]["podMetricsEndpoints"][0]["port"] = "metrics"
    return Context(spec=ctx.spec, objects=_Objects(objects), nodes=ctx.nodes)


def tail(mount=None, native=False):
    def change(spec):
        sidecar = {"name": "log-tail", "image": "busybox:1.36",
                   "command": ["sh", "-c", "tail -F /logs/infer.log"],
                   "securityContext": {"allowPrivilegeEscalation": False,
                                       "capabilities": {"drop": ["ALL"]}}}
        if mount is not None:
            sidecar["volumeMounts"] = [mount]
        if native:
            spec.setdefault("initContainers", []).append({**sidecar, "restartPolicy": "Always"})
        else:
            spec["containers"].append(sidecar)
    return change


@pytest.mark.parametrize("mount,native,status", [
    ({"name": "tmp", "mountPath": "/logs"}, False, FIXED),           # the writer's /tmp
    ({"name": "tmp", "mountPath": "/logs"}, True, FIXED),            # a native sidecar
    ({"name": "deps", "mountPath": "/logs"}, False, PRESENT),        # another volume
    (None, False, PRESENT),                                          # its own filesystem
])
def test_a_log_tail_sidecar_must_see_the_file(faulty_spec, faulty_ctx, mount, native, status):
    ctx = with_obs(faulty_ctx, tail(mount, native))
    verdict = status_of(faulty_spec, ctx, "tenant-observability-broken")
    assert verdict.status == status, verdict.evidence


def test_infer_py_judges_its_own_arguments(faulty_spec, faulty_ctx):
    """The container's args go through the parse_args of the infer.py it runs (the
    ConfigMap's): refused there, the pods crash at start; an infer.py that takes them runs."""
    objects = copy.deepcopy(faulty_ctx.objects.objects)
    for obj in objects:
        meta = obj["metadata"]
        if (obj["kind"], meta.get("namespace"), meta.get("name")) == ("Deployment", "tenant-a",
                                                                      "infer"):
            args = obj["spec"]["template"]["spec"]["containers"][0]["args"]
            args[args.index("--device") + 1] = "cuda:0"
    ctx = Context(spec=faulty_ctx.spec, objects=_Objects(objects), nodes=faulty_ctx.nodes)
    verdict = status_of(faulty_spec, ctx, "cpu-fallback")
    assert verdict.status == UNKNOWN, verdict.evidence
    assert "infer.py: error: argument --device: invalid choice: 'cuda:0'" in verdict.evidence
    for obj in objects:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "infer-program" and \
                obj["metadata"]["namespace"] == "tenant-a":
            obj["data"]["infer.py"] = obj["data"]["infer.py"].replace(
                'choices=("auto", "cuda", "cpu")', 'choices=("auto", "cuda", "cuda:0", "cpu")')
    ctx = Context(spec=faulty_ctx.spec, objects=_Objects(objects), nodes=faulty_ctx.nodes)
    assert status_of(faulty_spec, ctx, "cpu-fallback").status == FIXED


def test_a_binding_to_a_role_the_state_does_not_hold_cannot_tell(faulty_spec, faulty_ctx):
    """Offline, a ClusterRole neither rendered nor one Kubernetes creates may come from a
    chart: "cannot tell", never "no rules, fixed"."""
    objects = copy.deepcopy(faulty_ctx.objects.objects)
    for obj in objects:
        if obj["kind"] == "RoleBinding" and obj["metadata"]["name"] == "dashboard-viewers":
            obj["roleRef"]["name"] = "dashboard-reader"
    ctx = Context(spec=faulty_ctx.spec, objects=_Objects(objects), nodes=faulty_ctx.nodes)
    verdict = status_of(faulty_spec, ctx, "rbac-cross-tenant-read")
    assert verdict.status == UNKNOWN and "dashboard-reader" in verdict.evidence
