"""Model: defaults, engine-format parsing, and one test per validation error."""

import json

import pytest

from model import CATALOG, ConfigError, load_spec
from model.source import as_engine_values

BASE = {"gcp:project": "demo-project"}


def problems_of(values: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_spec({**BASE, **values})
    return [str(p) for p in caught.value.problems]


def only_problem(values: dict) -> str:
    problems = problems_of(values)
    assert len(problems) == 1, problems
    return problems[0]


# -- defaults -----------------------------------------------------------------------

def test_defaults_make_a_cheap_destroyable_zonal_lab():
    spec = load_spec(BASE, stack="dev")
    assert spec.platform == "gke"
    assert spec.gcp.region == "us-central1"
    assert spec.cluster.name == "gpu-lab-dev"
    assert spec.cluster.location == "us-central1-a" and not spec.cluster.regional
    assert spec.cluster.deletion_protection is False
    assert spec.cluster.release_channel == "REGULAR"
    assert (spec.system_pool.min_nodes, spec.system_pool.max_nodes) == (1, 3)
    [pool] = spec.gpu_pools
    assert (pool.accelerator, pool.machine_type, pool.gpus_per_node) == \
        ("nvidia-tesla-t4", "n1-standard-4", 1)
    assert pool.min_nodes == 0 and pool.spot
    assert [t.name for t in spec.tenants] == ["tenant-a", "tenant-b"]
    assert spec.faults == ()


def test_gpus_per_node_defaults_to_what_the_machine_type_carries():
    spec = load_spec({**BASE, "gpu-lab:gpuPools": [
        {"name": "l4x2", "accelerator": "nvidia-l4", "machineType": "g2-standard-24"}]})
    assert spec.gpu_pools[0].gpus_per_node == 2
    assert spec.gpu_pools[0].gpu_memory_gb == 24


def test_default_machine_type_follows_the_accelerator():
    spec = load_spec({**BASE, "gpu-lab:gpuPools": [{"name": "h100", "accelerator":
                                                   "nvidia-h100-80gb"}]})
    assert spec.gpu_pools[0].machine_type == "a3-highgpu-1g"


def test_engine_values_parse_like_stack_file_values():
    values = {**BASE, "gpu-lab:cluster": {"location": "us-central1", "deletionProtection": True},
              "gpu-lab:gpuPools": [{"name": "a100", "accelerator": "nvidia-tesla-a100",
                                    "machineType": "a2-highgpu-2g", "maxNodes": 3}]}
    engine = as_engine_values(values)
    assert isinstance(engine["gpu-lab:cluster"], str)
    assert load_spec(engine) == load_spec(values)
    spec = load_spec(engine)
    assert spec.cluster.regional and spec.cluster.deletion_protection
    assert spec.gpu_pools[0].max_gpus == 6


def test_catalog_covers_the_gke_accelerators():
    memory = {name: acc.memory_gb for name, acc in CATALOG.items()}
    assert memory == {"nvidia-tesla-t4": 16, "nvidia-l4": 24, "nvidia-tesla-a100": 40,
                      "nvidia-a100-80gb": 80, "nvidia-h100-80gb": 80}


# -- validation: one message per problem, naming key, value and what is allowed --------

def test_unknown_top_level_key_suggests_the_right_one():
    message = only_problem({"gpu-lab:gpuPool": []})
    assert message.startswith("gpu-lab:gpuPool: got []")
    assert "did you mean 'gpuPools'" in message


def test_unknown_nested_field_suggests_the_right_one():
    message = only_problem({"gpu-lab:cluster": {"locaton": "us-central1-b"}})
    assert message.startswith("gpu-lab:cluster.locaton: got 'us-central1-b'")
    assert "did you mean 'location'" in message


def test_string_where_a_number_belongs():
    message = only_problem({"gpu-lab:gpuPools": [{"name": "t4", "maxNodes": "3"}]})
    assert message == "gpu-lab:gpuPools[0].maxNodes: got '3'; must be an integer, not a string"


def test_list_where_an_object_belongs():
    message = only_problem({"gpu-lab:cluster": ["us-central1-a"]})
    assert message == ("gpu-lab:cluster: got ['us-central1-a']; "
                       "must be an object (a YAML mapping), not a list")


def test_object_where_a_list_belongs():
    message = only_problem({"gpu-lab:gpuPools": {"name": "t4"}})
    assert message.startswith("gpu-lab:gpuPools: got {'name': 't4'}; must be a list")


def test_negative_node_count():
    message = only_problem({"gpu-lab:gpuPools": [{"name": "t4", "minNodes": -1}]})
    assert message == "gpu-lab:gpuPools[0].minNodes: got -1; must be an integer >= 0"


@pytest.mark.parametrize("key,pool", [
    ("gpu-lab:gpuPools[0].maxNodes", {"name": "t4", "maxNodes": 0}),
    ("gpu-lab:gpuPools[0].gpusPerNode", {"name": "t4", "gpusPerNode": 0}),
])
def test_zero_where_at_least_one_is_needed(key, pool):
    assert only_problem({"gpu-lab:gpuPools": [pool]}) == f"{key}: got 0; must be an integer >= 1"


def test_system_pool_needs_a_node():
    assert only_problem({"gpu-lab:systemPool": {"minNodes": 0}}) == \
        "gpu-lab:systemPool.minNodes: got 0; must be an integer >= 1"


def test_min_above_max():
    message = only_problem({"gpu-lab:gpuPools": [{"name": "t4", "minNodes": 3, "maxNodes": 2}]})
    assert message == "gpu-lab:gpuPools[0].minNodes: got 3; must be <= maxNodes (2)"


def test_accelerator_not_in_catalog():
    message = only_problem({"gpu-lab:gpuPools": [{"name": "x", "accelerator": "nvidia-l4x"}]})
    assert message.startswith("gpu-lab:gpuPools[0].accelerator: got 'nvidia-l4x'; must be one of")
    assert "nvidia-tesla-t4" in message and "did you mean 'nvidia-l4'" in message


@pytest.mark.parametrize("pool,allowed", [
    ({"accelerator": "nvidia-l4", "machineType": "n1-standard-4"},
     "nvidia-l4 runs only on G2 machine types"),
    ({"accelerator": "nvidia-l4", "machineType": "g2-standard-4", "gpusPerNode": 2},
     "g2-standard-4 carries exactly 1 nvidia-l4 GPU(s), not 2"),
    ({"accelerator": "nvidia-tesla-t4", "machineType": "g2-standard-8"},
     "nvidia-tesla-t4 attaches only to n1-standard-*"),
    ({"accelerator": "nvidia-tesla-t4", "machineType": "n1-standard-8", "gpusPerNode": 3},
     "nvidia-tesla-t4 attaches in counts of 1, 2, 4, not 3"),
    ({"accelerator": "nvidia-tesla-t4", "machineType": "n1-standard-64", "gpusPerNode": 1},
     "1 nvidia-tesla-t4 GPU(s) allow at most 48 vCPUs, n1-standard-64 has 64"),
    ({"accelerator": "nvidia-h100-80gb", "machineType": "a2-highgpu-1g"},
     "nvidia-h100-80gb runs only on A3 High machine types"),
])
def test_machine_type_that_cannot_carry_the_accelerator(pool, allowed):
    message = only_problem({"gpu-lab:gpuPools": [{"name": "p", **pool}]})
    assert message.startswith(f"gpu-lab:gpuPools[0].machineType: got {pool['machineType']!r}; ")
    assert allowed in message


def test_t4_machine_types_that_fit():
    spec = load_spec({**BASE, "gpu-lab:gpuPools": [
        {"name": "t4x4", "accelerator": "nvidia-tesla-t4", "machineType": "n1-standard-96",
         "gpusPerNode": 4}]})
    assert spec.gpu_pools[0].max_gpus == 4


@pytest.mark.parametrize("name", ["GPU_Lab", "lab-", "-lab", "lab.one"])
def test_cluster_name_must_be_a_dns_label(name):
    message = only_problem({"gpu-lab:cluster": {"name": name}})
    assert message.startswith(f"gpu-lab:cluster.name: got {name!r}; must be a DNS-1123 label")


def test_cluster_name_too_long_for_gke():
    name = "a" * 41
    assert only_problem({"gpu-lab:cluster": {"name": name}}) == \
        f"gpu-lab:cluster.name: got {name!r}; must be at most 40 characters (it has 41)"


def test_cluster_name_must_start_with_a_letter():
    assert "must start with a letter" in only_problem({"gpu-lab:cluster": {"name": "1lab"}})


def test_pool_name_must_be_a_dns_label():
    message = only_problem({"gpu-lab:gpuPools": [{"name": "T4 pool"}]})
    assert message.startswith("gpu-lab:gpuPools[0].name: got 'T4 pool'; must be a DNS-1123 label")


def test_pool_needs_a_name():
    assert only_problem({"gpu-lab:gpuPools": [{"accelerator": "nvidia-tesla-t4"}]}) == \
        "gpu-lab:gpuPools[0].name: is not set; every GPU pool needs a name (a DNS-1123 label)"


def test_duplicate_pool_names():
    message = only_problem({"gpu-lab:gpuPools": [{"name": "t4"}, {"name": "t4"}]})
    assert message == ("gpu-lab:gpuPools[1].name: got 't4'; must be unique; "
                       "gpu-lab:gpuPools[0].name has it already")


def test_gpu_pool_may_not_reuse_the_system_pool_name():
    message = only_problem({"gpu-lab:gpuPools": [{"name": "system"}]})
    assert "gpu-lab:systemPool.name has it already" in message


def test_missing_gcp_project_on_gke():
    with pytest.raises(ConfigError) as caught:
        load_spec({})
    assert [str(p) for p in caught.value.problems] == [
        "gcp:project: is not set; the gke platform needs the GCP project to create resources "
        "in: pulumi config set gcp:project <id>"]


def test_location_outside_the_region():
    message = only_problem({"gpu-lab:cluster": {"location": "europe-west4-a"}})
    assert message == "gpu-lab:cluster.location: got 'europe-west4-a'; must lie in gcp:region us-central1"


def test_unknown_release_channel():
    message = only_problem({"gpu-lab:cluster": {"releaseChannel": "STABEL"}})
    assert "must be one of RAPID, REGULAR, STABLE, EXTENDED (did you mean 'STABLE'?)" in message


def test_all_problems_are_reported_together():
    with pytest.raises(ConfigError) as caught:
        load_spec({"gpu-lab:clustr": {}, "gpu-lab:gpuPools": [
            {"name": "t4", "minNodes": 5, "maxNodes": 1, "accelerator": "nvidia-a10"}]})
    keys = caught.value.keys()
    assert keys == ["gpu-lab:clustr", "gcp:project", "gpu-lab:gpuPools[0].accelerator",
                    "gpu-lab:gpuPools[0].minNodes"]
    text = str(caught.value)
    assert text.startswith("gpu-lab config has 4 problems:\n  - gpu-lab:clustr")


def test_json_garbage_in_engine_value_is_a_type_problem():
    message = only_problem({"gpu-lab:cluster": "{not json"})
    assert message == ("gpu-lab:cluster: got '{not json'; must be an object (a YAML mapping), "
                       "not a string")


def test_boolean_field_rejects_other_types():
    message = only_problem({"gpu-lab:cluster": {"deletionProtection": "yes"}})
    assert message == ("gpu-lab:cluster.deletionProtection: got 'yes'; "
                       "must be true or false, not a string")
    assert json.loads(as_engine_values({"k": True})["k"]) is True


# -- a workload's tenant ------------------------------------------------------------------

def test_a_workload_naming_an_unknown_tenant_is_one_problem_on_its_tenant_key():
    """Its other fields are still read (none is an "unknown field"), and the one problem
    names the key, the value and the tenants there are, with a did-you-mean."""
    message = only_problem({"gpu-lab:tenants": ["tenant-a", "tenant-b", "research"],
                            "gpu-lab:workloads": [{"tenant": "reserch", "name": "train",
                                                   "kind": "Job", "batches": 10,
                                                   "pool": "t4", "gpus": 1}]})
    assert message == ("gpu-lab:workloads[0].tenant: got 'reserch'; must be one of the "
                       "stack's tenants: tenant-a, tenant-b, research (did you mean "
                       "'research'?)")


def test_a_workload_without_a_tenant_is_one_problem_listing_the_tenants():
    message = only_problem({"gpu-lab:workloads": [{"name": "train", "kind": "Job",
                                                   "batches": 10}]})
    assert message == ("gpu-lab:workloads[0].tenant: is not set; every workload names the "
                       "tenant it runs in: tenant-a, tenant-b")


def test_a_workload_of_an_unknown_tenant_still_has_its_own_fields_checked():
    """Typos in its other fields are reported next to the tenant (with their own
    did-you-mean), not hidden behind it."""
    problems = problems_of({"gpu-lab:workloads": [{"tenant": "tenant-x", "nmae": "train",
                                                   "pool": "t44"}]})
    assert [p.split(":")[1].split(";")[0] for p in problems] == [
        "workloads[0].tenant", "workloads[0].pool", "workloads[0].nmae"]
    assert "(did you mean 'name'?)" in problems[2]
    assert "(did you mean 't4'?)" in problems[1]
