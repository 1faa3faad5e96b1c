"""The InferenceWorkload component as rendered, and the checks that say every dev-stack
workload is admitted by its tenant's quota and can be scheduled on a GPU pool."""

import pytest

from faults import build_spec
from faults.capacity import pinned_to_one_node
from kube import ObjectSet, pod_admitted, pod_schedulable
from kube.nodes import nodes_from_spec
from kube.symptoms import CHECKS, offline_context
from lab.simulate import simulate_rendering
from model import ConfigError, load_spec
from model.source import PROJECT_DIR
from model.workloads import PUBLIC_IMAGE
from tests.helpers import render_with, stack_values

GPU = "nvidia.com/gpu"
OWN = {"matchLabels": {"app.kubernetes.io/name": "infer"}}
SPREAD = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
           "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": OWN}]
PINNED = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"topologyKey": "kubernetes.io/hostname", "labelSelector": OWN}]}}


@pytest.fixture(scope="module")
def objects(dev):
    return ObjectSet(dev.kubernetes_objects())


def deployment(objects, tenant):
    return objects.get("Deployment", "infer", tenant)


def test_dev_stack_runs_one_inference_service_per_tenant(dev, objects):
    assert sorted(d["metadata"]["namespace"] for d in objects.of_kind("Deployment")) == \
        ["tenant-a", "tenant-b"]
    assert dev.outputs["workloads"] == ["tenant-a/infer", "tenant-b/infer"]


@pytest.mark.parametrize("tenant", ["tenant-a", "tenant-b"])
def test_pod_template_asks_for_a_gpu_the_right_way(objects, tenant):
    spec = deployment(objects, tenant)["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    resources = container["resources"]
    assert resources["requests"] == resources["limits"]
    assert resources["limits"][GPU] == "1"
    assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["nodeSelector"] == {"gpu-lab/pool": "t4"}
    # Unset, the replicas spread over nodes where they can.
    assert pod["topologySpreadConstraints"] == SPREAD
    assert pod["serviceAccountName"] == "workload"
    assert pod["automountServiceAccountToken"] is False
    priority = {"tenant-a": "production-high", "tenant-b": "training-medium"}[tenant]
    assert pod["priorityClassName"] == priority
    assert "affinity" not in pod


@pytest.mark.parametrize("tenant", ["tenant-a", "tenant-b"])
def test_security_context_satisfies_pod_security_restricted(objects, tenant):
    pod = deployment(objects, tenant)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"] + pod["initContainers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert "privileged" not in context


def test_public_image_gets_infer_py_from_a_configmap_and_deps_at_start(objects):
    pod = deployment(objects, "tenant-a")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == PUBLIC_IMAGE
    assert container["command"] == ["python", "/app/infer.py"]
    args = container["args"]
    # infer.py's own default device (auto) and log (stdout).
    assert "--device" not in args and "--log-file" not in args
    assert args[args.index("--batches") + 1] == "0"
    [init] = pod["initContainers"]
    assert init["command"][:3] == ["python", "-m", "pip"] and "--target" in init["command"]
    program = objects.get("ConfigMap", "infer-program", "tenant-a")
    assert program["data"]["infer.py"] == (PROJECT_DIR / "workload" / "infer.py").read_text()
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["app"]["configMap"]["name"] == "infer-program"


def test_service_and_pod_monitor_scrape_the_metrics_port(objects):
    for tenant in ("tenant-a", "tenant-b"):
        pod = deployment(objects, tenant)["spec"]["template"]
        ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
        monitor = objects.get("PodMonitor", "infer", tenant)
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert all(pod["metadata"]["labels"].get(k) == v for k, v in selector.items())
        [endpoint] = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint == {"port": "metrics", "path": "/metrics", "interval": "15s"}
        assert endpoint["port"] in ports
        service = objects.get("Service", "infer", tenant)
        assert service["spec"]["ports"][0]["targetPort"] == endpoint["port"]
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()


def test_workloads_skip_pulumi_readiness_waits(objects):
    assert len(objects.of_kind("Deployment")) == 2
    for controller in objects.of_kind("Deployment"):
        assert controller["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"


def test_every_dev_workload_is_admitted_and_schedulable(dev, objects):
    spec = load_spec(stack_values("dev"), stack="dev")
    nodes = nodes_from_spec(spec)
    found = objects.workload_pods()
    assert len(found) == 2
    for controller, pod, replicas in found:
        namespace = controller["metadata"]["namespace"]
        admitted = pod_admitted(objects, namespace, pod, copies=replicas)
        assert admitted, admitted.reason
        placed = pod_schedulable(pod, nodes)
        assert placed and placed.reason.startswith("fits node t4-"), placed.reason


def test_scheduling_check_explains_failures(dev, objects):
    spec = load_spec(stack_values("dev"), stack="dev")
    nodes = nodes_from_spec(spec)
    _, pod, _ = objects.workload_pods()[0]
    greedy = {**pod, "spec": {**pod["spec"], "containers": [{
        **pod["spec"]["containers"][0], "resources": {"requests": {GPU: "2"},
                                                      "limits": {GPU: "2"}}}]}}
    answer = pod_schedulable(greedy, nodes)
    assert not answer
    assert answer.reason == ("0/5 nodes are available: 2 Insufficient nvidia.com/gpu, "
                             "3 node(s) didn't match Pod's node affinity/selector.")
    untolerating = {**pod, "spec": {**pod["spec"], "tolerations": []}}
    answer = pod_schedulable(untolerating, nodes)
    assert "2 node(s) had untolerated taint {nvidia.com/gpu: present}" in answer.reason


def test_a_batch_job_and_a_custom_image():
    rendering = render_with(**{
        "gpu-lab:workload": {"image": "registry.example.com/gpu-lab-infer:1"},
        "gpu-lab:workloads": [{"tenant": "tenant-a", "name": "batch", "kind": "Job",
                               "batches": 50, "gpuMemoryGb": 12}]})
    objects = ObjectSet(rendering.kubernetes_objects())
    job = objects.get("Job", "batch", "tenant-a")
    assert job["spec"]["completions"] == 1
    pod = job["spec"]["template"]["spec"]
    # A crashing pod restarts where it is, logs and node kept, for longer than an interview.
    assert pod["restartPolicy"] == "OnFailure"
    assert job["spec"]["backoffLimit"] == 200
    assert pod["initContainers"] == []
    assert pod["containers"][0]["image"] == "registry.example.com/gpu-lab-infer:1"
    args = pod["containers"][0]["args"]
    assert args[args.index("--batches") + 1] == "50"
    assert args[args.index("--gpu-memory-gb") + 1] == "12"
    assert objects.get("ConfigMap", "batch-program", "tenant-a") is None
    assert objects.get("Deployment", "infer", "tenant-a") is None


def problems(workloads, **more):
    with pytest.raises(ConfigError) as caught:
        load_spec({"gcp:project": "p", "gpu-lab:workloads": workloads, **more})
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("workload,message", [
    ({"tenant": "tenant-x"}, "gpu-lab:workloads[0].tenant: got 'tenant-x'; must be one of the "
                             "stack's tenants: tenant-a, tenant-b (did you mean 'tenant-b'?)"),
    ({"tenant": "tenant-a", "pool": "l4"}, "gpu-lab:workloads[0].pool: got 'l4'; must be one of "
                                           "the stack's node pools: t4, system"),
    ({"tenant": "tenant-a", "gpus": 2}, "gpu-lab:workloads[0].gpus: got 2; tenant tenant-a "
                                        "allows at most 1 GPU(s) per pod (maxGpusPerPod)"),
    ({"tenant": "tenant-a", "imageArchitecture": "arm64"},
     "gpu-lab:workloads[0].imageArchitecture: got 'arm64'; "
     "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime is built for amd64 only"),
    ({"tenant": "tenant-a", "kind": "Job", "batches": 0},
     "gpu-lab:workloads[0].batches: got 0; a Job must end: give the number of batches (>= 1)"),
    ({"tenant": "tenant-a", "args": ["--batches", 5]},
     "gpu-lab:workloads[0].args: got ['--batches', 5]; must be a list of strings (quote "
     "numbers: \"8\")"),
    ({"tenant": "tenant-a", "env": [{"name": "1ST", "value": "x"}]},
     "gpu-lab:workloads[0].env[0].name: got '1ST'; must be an environment variable name: "
     "letters, digits, '_', '-' and '.', not starting with a digit"),
    ({"tenant": "tenant-a", "env": [{"name": "OMP_NUM_THREADS", "value": 4}]},
     "gpu-lab:workloads[0].env[0].value: got 4; must be a string (quote numbers and booleans: "
     "\"1\", \"true\")"),
    ({"tenant": "tenant-a", "env": [{"value": "x"}]},
     "gpu-lab:workloads[0].env[0].name: is not set; every env entry needs a name"),
    ({"tenant": "tenant-a", "env": [{"name": "A", "valueFrom": {}}]},
     "gpu-lab:workloads[0].env[0].valueFrom: got {}; unknown field (did you mean 'value'?); "
     "known fields: name, value"),
    ({"tenant": "tenant-a", "podMetricsEndpoint": {"port": 8000}},
     "gpu-lab:workloads[0].podMetricsEndpoint.port: got 8000; must be a string, not a number"),
    ({"tenant": "tenant-a", "podMetricsEndpoint": {"port": "metrics", "intervall": "30s"}},
     "gpu-lab:workloads[0].podMetricsEndpoint.intervall: got '30s'; unknown field (did you "
     "mean 'interval'?); known fields: interval, path, port"),
    ({"tenant": "tenant-a", "podMetricsEndpoint": {"interval": "30"}},
     "gpu-lab:workloads[0].podMetricsEndpoint.interval: got '30'; must be a Prometheus "
     "duration such as 15s, 1m or 1m30s"),
    ({"tenant": "tenant-a", "topologySpreadConstraints": {"maxSkew": 1}},
     "gpu-lab:workloads[0].topologySpreadConstraints: got {'maxSkew': 1}; must be a list of "
     "topology spread constraints ({maxSkew, topologyKey, whenUnsatisfiable, labelSelector, "
     "...}), or []"),
    ({"tenant": "tenant-a", "topologySpreadConstraints": [{"maxSkew": 1,
                                                           "topologyKey": "zone"}]},
     "gpu-lab:workloads[0].topologySpreadConstraints[0].whenUnsatisfiable: is not set; every "
     "topology spread constraint sets maxSkew, topologyKey, whenUnsatisfiable"),
    ({"tenant": "tenant-a", "topologySpreadConstraints": [{**SPREAD[0], "topologykey": "x"}]},
     "gpu-lab:workloads[0].topologySpreadConstraints[0].topologykey: got 'x'; unknown field "
     "(did you mean 'topologyKey'?); known fields: labelSelector, matchLabelKeys, maxSkew, "
     "minDomains, nodeAffinityPolicy, nodeTaintsPolicy, topologyKey, whenUnsatisfiable"),
    ({"tenant": "tenant-a", "affinity": {"podAfinity": {}}},
     "gpu-lab:workloads[0].affinity.podAfinity: got {}; unknown field (did you mean "
     "'podAffinity'?); known fields: nodeAffinity, podAffinity, podAntiAffinity"),
    ({"tenant": "tenant-a", "affinity": {"podAffinity": []}},
     "gpu-lab:workloads[0].affinity.podAffinity: got []; must be an object"),
])
def test_workload_validation(workload, message):
    assert problems([workload])[0] == message


def test_a_two_gpu_pod_breaks_the_tenants_limit_range():
    # More GPUs than a node has is the scheduler's to refuse (tests/test_config_roundtrip.py),
    # more than the quota holds the API server's; the tenant's LimitRange is the model's.
    assert problems([{"tenant": "tenant-a", "gpus": 2}]) == [
        "gpu-lab:workloads[0].gpus: got 2; tenant tenant-a allows at most 1 GPU(s) per pod "
        "(maxGpusPerPod)"]


def test_workload_names_are_unique_per_tenant():
    assert problems([{"tenant": "tenant-a", "gpus": 0}, {"tenant": "tenant-a", "gpus": 0}]) == [
        "gpu-lab:workloads[1].name: got 'infer'; must be unique within tenant tenant-a"]


# -- what a team's config says of its pods, and what the cluster makes of it ------------------

def two_replicas(**fields) -> dict:
    """The dev stack with tenant-a's infer at two replicas (its quota two GPUs), on a pool
    of two nodes of two GPUs each that stay up: both replicas fit on either node."""
    values = stack_values("dev")
    values["gpu-lab:gpuPools"][0].update(minNodes=2, machineType="n1-standard-8", gpusPerNode=2)
    values["gpu-lab:tenants"][0]["gpus"] = 2
    values["gpu-lab:workloads"] = [{"tenant": "tenant-a", "replicas": 2, **fields},
                                   {"tenant": "tenant-b"}]
    return values


def rendered(values: dict):
    from lab.render import render
    spec = build_spec(values, stack="test")
    rendering = render(values, stack="test")
    return spec, rendering, ObjectSet(rendering.check_objects())


def test_args_and_env_come_after_the_computed_ones():
    spec, _, objects = rendered(two_replicas(
        args=["--batch-size", "8", "--seed", "7"],
        env=[{"name": "OMP_NUM_THREADS", "value": "4"}, {"name": "HOME", "value": "/work"}]))
    [container] = deployment(objects, "tenant-a")["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[-4:] == ["--batch-size", "8", "--seed", "7"]
    assert args.count("--batch-size") == 2            # infer.py's parser takes the last
    # The twin reads the options as infer.py's parser does: the last --batch-size.
    from kube.kubelet import option
    assert option(args, "--batch-size", "") == "8"
    assert container["env"][-2:] == [{"name": "OMP_NUM_THREADS", "value": "4"},
                                     {"name": "HOME", "value": "/work"}]
    assert spec.workload("tenant-a", "infer").env == (("OMP_NUM_THREADS", "4"), ("HOME", "/work"))


def test_device_cpu_in_args_holds_the_gpu_without_using_it():
    spec, rendering, _ = rendered(two_replicas(args=["--device", "cpu"]))
    answer = CHECKS["gpu-held-on-cpu"].run(offline_context(spec, rendering))
    assert answer and "runs infer.py --device cpu" in answer.reason
    # The last --device wins: cpu then auto computes on the GPU.
    spec, rendering, _ = rendered(two_replicas(args=["--device", "cpu", "--device=auto"]))
    assert not CHECKS["gpu-held-on-cpu"].run(offline_context(spec, rendering))


def test_pod_metrics_endpoint_is_the_pod_monitors():
    spec, rendering, objects = rendered(two_replicas(podMetricsEndpoint={
        "port": "http-metrics", "path": "/stats", "interval": "30s"}))
    monitor = objects.get("PodMonitor", "infer", "tenant-a")
    assert monitor["spec"]["podMetricsEndpoints"] == [
        {"port": "http-metrics", "path": "/stats", "interval": "30s"}]
    # The pod names its port metrics: nothing is scraped.
    answer = CHECKS["tenant-observability-broken"].run(offline_context(spec, rendering))
    assert answer and "tenant-a/infer" in answer.reason


def test_log_file_in_args_takes_the_log_off_stdout():
    spec, rendering, _ = rendered(two_replicas(args=["--log-file", "/tmp/infer.log"]))
    answer = CHECKS["tenant-observability-broken"].run(offline_context(spec, rendering))
    assert answer and "/tmp/infer.log" in answer.reason


def nodes_of(spec, rendering) -> list[str]:
    return sorted(v.node for v in simulate_rendering(spec, rendering)
                  if v.namespace == "tenant-a" and v.owner == "Deployment/infer")


def test_default_spread_puts_replicas_on_different_nodes():
    spec, rendering, _ = rendered(two_replicas())
    [first, second] = nodes_of(spec, rendering)
    assert first != second
    assert not pinned_to_one_node(spec.workload("tenant-a", "infer"))


def test_required_pod_affinity_pins_the_replicas_to_one_node():
    spec, rendering, objects = rendered(two_replicas(topologySpreadConstraints=[],
                                                     affinity=PINNED))
    pod = deployment(objects, "tenant-a")["spec"]["template"]["spec"]
    assert "topologySpreadConstraints" not in pod and pod["affinity"] == PINNED
    [first, second] = nodes_of(spec, rendering)
    assert first == second
    assert pinned_to_one_node(spec.workload("tenant-a", "infer"))
    answer = CHECKS["replicas-pinned"].run(offline_context(spec, rendering))
    assert answer and "required pod affinity on kubernetes.io/hostname" in answer.reason


def test_a_preferred_or_foreign_affinity_does_not_pin():
    preferred = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                            "labelSelector": OWN}}]}}
    other = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname",
         "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "cache"}}}]}}
    for affinity in (preferred, other):
        spec = load_spec(two_replicas(affinity=affinity), stack="test")
        assert not pinned_to_one_node(spec.workload("tenant-a", "infer"))
