"""The twin's node side: GKE's allocatable formula, the registry stand-in and the kubelet's
outcomes for gpu-lab's containers."""

from decimal import Decimal

import pytest

from kube.images import ARM64_PYTHON, image, registry_of
from kube.kubelet import NodeNetwork, run_container, run_infer
from model.machines import GIB, machine

T4_NODE = {"metadata": {"name": "t4-0", "labels": {
    "kubernetes.io/arch": "amd64", "gpu-lab/accelerator": "nvidia-tesla-t4"}}}


# GKE's "Node allocatable resources" (plan-node-sizes): CPU reserve 6% of the first core,
# 1% of the next, 0.5% of the next two, 0.25% above four; memory 25/20/10/6/2% tiers plus
# a 100 MiB eviction threshold.
@pytest.mark.parametrize("machine_type, cpu, memory_gib", [
    # 1 core: 6% reserved.
    ("n1-standard-1", Decimal("0.94"), Decimal("3.75") - Decimal("0.9375") - Decimal(100) / 1024),
    # 4 cores: 0.06 + 0.01 + 2 x 0.005 = 0.08; 16 GiB: 1 + 0.8 + 0.8 = 2.6 GiB.
    ("e2-standard-4", Decimal("3.92"), Decimal(16) - Decimal("2.6") - Decimal(100) / 1024),
    # 8 cores: 0.08 + 4 x 0.0025 = 0.09; 30 GiB: 1 + 0.8 + 0.8 + 0.06 x 14 = 3.44 GiB.
    ("n1-standard-8", Decimal("7.91"), Decimal(30) - Decimal("3.44") - Decimal(100) / 1024),
    # 12 cores, 85 GiB: 2.6 + 0.06 x 69 = 6.74 GiB.
    ("a2-highgpu-1g", Decimal("11.90"), Decimal(85) - Decimal("6.74") - Decimal(100) / 1024),
])
def test_gke_allocatable(machine_type, cpu, memory_gib):
    m = machine(machine_type)
    assert m.allocatable_cpu == cpu
    assert m.allocatable_memory / GIB == memory_gib


def test_machines_under_1_gib_reserve_255_mib():
    from model.machines import Machine
    tiny = Machine("f1-micro", 1, Decimal("0.6") * GIB)
    assert tiny.allocatable_memory / GIB == Decimal("0.6") - Decimal(355) / 1024


@pytest.mark.parametrize("machine_type, says", [
    ("z9-mega-7", "not a machine type gpu-lab knows"),
    ("n1-standard-3", "n1-standard comes with 1, 2, 4, 8"),
    ("e2-highmem-32", "e2-highmem comes with 2, 4, 8, 16 vCPUs"),
    ("g2-standard-5", "g2-standard comes as g2-standard-4"),
    ("N1-Standard-4", "lowercase: n1-standard-4"),
])
def test_unknown_machine_types_are_refused(machine_type, says):
    with pytest.raises(ValueError, match=says):
        machine(machine_type)


def test_registries_of_references():
    assert registry_of("pytorch/pytorch:2.5.1") == "docker.io"
    assert registry_of("python@sha256:abc") == "docker.io"
    assert registry_of("nvcr.io/nvidia/gpu-operator:v26.3.3") == "nvcr.io"
    assert registry_of("us-docker.pkg.dev/p/r/img:1") == "us-docker.pkg.dev"
    assert registry_of("localhost:5000/img") == "localhost:5000"


def test_an_index_without_the_nodes_platform_fails_the_pull():
    outcome = run_container({"name": "c", "image": "arm64v8/python:3.11-slim",
                             "command": ["python"]}, T4_NODE, NodeNetwork(), True, 0)
    assert outcome.waiting == "ImagePullBackOff"
    assert "no match for platform in manifest" in outcome.message


def test_a_single_arm64_manifest_pulls_and_then_cannot_exec():
    assert not image(ARM64_PYTHON).index
    outcome = run_container({"name": "c", "image": ARM64_PYTHON,
                             "command": ["python", "-m", "pip", "install", "x"]},
                            T4_NODE, NodeNetwork(), True, 0)
    assert outcome.exit_code == 255
    assert outcome.logs == "exec /usr/local/bin/python: exec format error"


def test_pulls_from_the_internet_need_the_nodes_way_out_but_google_registries_do_not():
    cut_off = NodeNetwork(internet=False)
    assert run_container({"name": "c", "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                          "command": ["sleep"]}, T4_NODE, cut_off, True, 0).waiting
    assert run_container({"name": "c", "image": "us-docker.pkg.dev/p/r/img:1",
                          "command": ["sleep"]}, T4_NODE, cut_off, True, 0).running


def test_pip_needs_the_pods_egress():
    container = {"name": "install-deps", "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                 "command": ["python", "-m", "pip", "install", "prometheus-client"]}
    assert run_container(container, T4_NODE, NodeNetwork(), True, 0).exit_code == 0
    blocked = run_container(container, T4_NODE, NodeNetwork(), False, 0)
    assert blocked.exit_code == 1 and "Connection to pypi.org timed out" in blocked.logs


@pytest.mark.parametrize("accelerator", ["nvidia-tesla-t4", "nvidia-l4", "nvidia-tesla-a100",
                                         "nvidia-a100-80gb", "nvidia-h100-80gb"])
@pytest.mark.parametrize("demand", [2, 14.7, 14.8, 16, 32, 80])
def test_infer_runs_out_of_gpu_memory_as_infer_py_does(accelerator, demand):
    """The twin says what workload/infer.py itself prints, for what torch reports of the GPU."""
    from kube.kubelet import TORCH_GPU_MEMORY
    from model.gpu_catalog import CATALOG
    from workload.infer import memory_shortfall
    expected = memory_shortfall(demand, TORCH_GPU_MEMORY[accelerator], CATALOG[accelerator].model)
    outcome = run_infer(["--device", "auto", "--gpu-memory-gb", str(demand)], 1, accelerator)
    if expected is None:
        assert outcome.running and '"device": "cuda"' in outcome.logs
    else:
        assert outcome.exit_code == 3 and expected in outcome.logs


def test_a_t4_reports_14_8_gib():
    from kube.kubelet import TORCH_GPU_MEMORY
    assert f"{TORCH_GPU_MEMORY['nvidia-tesla-t4'] / 2 ** 30:.1f}" == "14.8"


def test_infer_device_choices():
    assert '"device": "cpu"' in run_infer(["--device", "cpu"], 1, "nvidia-tesla-t4").logs
    assert '"device": "cpu"' in run_infer(["--device", "auto"], 0, None).logs
    assert run_infer(["--device", "cuda"], 0, None).exit_code == 4
    assert run_infer(["--device", "auto", "--batches", "5"], 1, "nvidia-tesla-t4").exit_code == 0
    assert run_infer(["--device", "auto", "--log-file", "/tmp/x"], 1,
                     "nvidia-tesla-t4").logs == ""
