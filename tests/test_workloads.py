"""The InferenceWorkload component as rendered, and the checks that say every dev-stack
workload is admitted by its tenant's quota and can be scheduled on a GPU pool."""

import pytest

from kube import ObjectSet, pod_admitted, pod_schedulable
from kube.nodes import nodes_from_spec
from model import ConfigError, load_spec
from model.source import PROJECT_DIR
from model.workloads import PUBLIC_IMAGE
from tests.helpers import render_with, stack_values

GPU = "nvidia.com/gpu"


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
    [spread] = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "infer"}
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
    assert args[args.index("--device") + 1] == "auto"
    assert args[args.index("--batches") + 1] == "0"
    assert "--log-file" not in args
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
    ({"tenant": "tenant-a", "replicas": 2}, "gpu-lab:workloads[0].replicas: got 2; 2 x 1 GPU(s) "
                                            "exceeds tenant tenant-a's quota of 1"),
    ({"tenant": "tenant-a", "imageArchitecture": "arm64"},
     "gpu-lab:workloads[0].imageArchitecture: got 'arm64'; "
     "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime is built for amd64 only"),
    ({"tenant": "tenant-a", "kind": "Job", "batches": 0},
     "gpu-lab:workloads[0].batches: got 0; a Job must end: give the number of batches (>= 1)"),
    ({"tenant": "tenant-a", "device": "gpu"}, "gpu-lab:workloads[0].device: got 'gpu'; must be "
                                              "one of auto, cuda, cpu (did you mean 'cpu'?)"),
])
def test_workload_validation(workload, message):
    assert problems([workload])[0] == message


def test_a_two_gpu_pod_breaks_both_tenant_rules_at_once():
    # More GPUs than a node has is the scheduler's to refuse (tests/test_config_roundtrip.py);
    # the tenant's LimitRange and quota are the model's.
    assert problems([{"tenant": "tenant-a", "gpus": 2}]) == [
        "gpu-lab:workloads[0].gpus: got 2; tenant tenant-a allows at most 1 GPU(s) per pod "
        "(maxGpusPerPod)",
        "gpu-lab:workloads[0].replicas: got 1; 1 x 2 GPU(s) exceeds tenant tenant-a's quota of 1"]


def test_workload_names_are_unique_per_tenant():
    assert problems([{"tenant": "tenant-a", "gpus": 0}, {"tenant": "tenant-a", "gpus": 0}]) == [
        "gpu-lab:workloads[1].name: got 'infer'; must be unique within tenant tenant-a"]
