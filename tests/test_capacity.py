"""Room after faults: a fault that adds GPU demand must find it in its pool and quota, or the
stack is refused naming that fault (and nothing is rendered)."""

import pytest

from faults import build_spec
from model import ConfigError
from faults.capacity import placed_gpus, shortfalls
from tests.helpers import stack_values

ALL = stack_values("all-faults")


def test_shipped_stacks_have_room():
    for stack in ("dev", "pairing", "all-faults", "local"):
        assert shortfalls(build_spec(stack_values(stack), stack=stack)) == []


def test_a_fault_that_overflows_its_pool_is_named():
    values = {**ALL, "gpu-lab:gpuPools": [{**ALL["gpu-lab:gpuPools"][0], "maxNodes": 6},
                                          *ALL["gpu-lab:gpuPools"][1:]]}
    with pytest.raises(ConfigError) as refused:
        build_spec(values, stack="test")
    text = str(refused.value)
    assert "gpu-lab:gpuPools[0].maxNodes: got 6" in text
    assert "gpu-quota-ineffective (gpu-lab:faults[2])" in text
    # Faults that add no demand on the pool are not blamed.
    for innocent in ("arm64-image", "gpu-memory-oom", "cpu-fallback",
                     "tenant-observability-broken"):
        assert innocent not in text


def test_pods_that_stay_pending_by_design_need_no_room():
    spec = build_spec(ALL, stack="all-faults")
    by_name = {f"{w.tenant}/{w.name}": w for w in spec.workloads}
    assert placed_gpus(spec, by_name["tenant-a/summarize"]) == 0   # more GPUs than a node has
    assert placed_gpus(spec, by_name["tenant-b/detect"]) == 0      # on the CPU pool
    assert placed_gpus(spec, by_name["tenant-b/segment"]) == 2     # both replicas on one node
    assert placed_gpus(spec, by_name["tenant-b/spare"]) == 0       # a pool without a plugin


def test_an_enforced_quota_too_small_for_what_a_fault_adds_is_named():
    tenants = [dict(t) for t in ALL["gpu-lab:tenants"]]
    values = {**ALL, "gpu-lab:faults": [{"id": "unbalanced-scheduling",
                                         "workload": "tenant-b/segment"}],
              "gpu-lab:tenants": tenants}
    tenants[1]["gpus"] = 4        # infer 1 + placed 1 + spare 1 + pinned 2 after the fault
    with pytest.raises(ConfigError, match=r"tenants\[1\]\.gpus: got 4.*unbalanced-scheduling"):
        build_spec(values, stack="test")
