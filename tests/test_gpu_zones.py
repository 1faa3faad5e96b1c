"""GPU pools spread over the zones of the region that offer their accelerator: the catalog's
zone table, the model's defaults and checks, GKE's per-zone initial counts, and the
NodePool the program registers."""

import pytest

from components.node_settings import spread
from model import CATALOG, ConfigError, load_spec
from model.gpu_catalog import ZONE_TABLE_REGIONS
from tests.helpers import NODE_POOL, one, render_with

BASE = {"gcp:project": "demo-project"}


def pool_spec(region: str = "us-central1", **pool):
    values = {**BASE, "gcp:region": region,
              "gpu-lab:cluster": {"location": f"{region}-b"},
              "gpu-lab:gpuPools": [{"name": "gpu", **pool}]}
    return load_spec(values).gpu_pools[0]


def problems_of(region: str = "us-central1", **pool) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        pool_spec(region, **pool)
    return [str(p) for p in caught.value.problems]


# -- the catalog --------------------------------------------------------------------------

def test_zone_table_covers_the_regions_and_accelerators_gpu_lab_uses():
    assert set(ZONE_TABLE_REGIONS) >= {"us-central1", "us-east1", "us-east4", "us-west1",
                                       "us-west4", "europe-west1", "europe-west4",
                                       "asia-east1", "asia-southeast1"}
    for accelerator in CATALOG.values():
        assert accelerator.regions, accelerator.type
        assert set(accelerator.zones) <= set(ZONE_TABLE_REGIONS)
        for region, zones in accelerator.zones.items():
            assert zones and all(z.startswith(f"{region}-") for z in zones)
    # T4 and L4 are in every covered region, the big GPUs in fewer.
    assert CATALOG["nvidia-tesla-t4"].regions == tuple(sorted(ZONE_TABLE_REGIONS))
    assert CATALOG["nvidia-l4"].regions == tuple(sorted(ZONE_TABLE_REGIONS))
    assert "us-east1" not in CATALOG["nvidia-h100-80gb"].regions


def test_each_accelerator_names_its_compute_engine_quota():
    assert {a.type: (a.quota_metric, a.preemptible_quota_metric) for a in CATALOG.values()} == {
        "nvidia-tesla-t4": ("NVIDIA_T4_GPUS", "PREEMPTIBLE_NVIDIA_T4_GPUS"),
        "nvidia-l4": ("NVIDIA_L4_GPUS", "PREEMPTIBLE_NVIDIA_L4_GPUS"),
        "nvidia-tesla-a100": ("NVIDIA_A100_GPUS", "PREEMPTIBLE_NVIDIA_A100_GPUS"),
        "nvidia-a100-80gb": ("NVIDIA_A100_80GB_GPUS", "PREEMPTIBLE_NVIDIA_A100_80GB_GPUS"),
        "nvidia-h100-80gb": ("NVIDIA_H100_GPUS", "PREEMPTIBLE_NVIDIA_H100_GPUS"),
    }


# -- the model's defaults -------------------------------------------------------------------

@pytest.mark.parametrize("region,accelerator,zones", [
    ("us-central1", "nvidia-tesla-t4",
     ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f")),
    ("us-central1", "nvidia-l4", ("us-central1-a", "us-central1-b", "us-central1-c")),
    ("us-east1", "nvidia-tesla-t4", ("us-east1-b", "us-east1-c", "us-east1-d")),
    ("europe-west4", "nvidia-l4", ("europe-west4-a", "europe-west4-b", "europe-west4-c")),
    ("asia-east1", "nvidia-tesla-t4", ("asia-east1-a", "asia-east1-c")),
    ("us-east4", "nvidia-a100-80gb", ("us-east4-c",)),
    ("asia-southeast1", "nvidia-h100-80gb", ("asia-southeast1-b", "asia-southeast1-c")),
])
def test_a_pool_defaults_to_the_zones_that_offer_its_gpu(region, accelerator, zones):
    pool = pool_spec(region, accelerator=accelerator)
    assert pool.zones == zones == CATALOG[accelerator].zones_in(region)


def test_default_dev_pool_spreads_over_the_t4_zones():
    [pool] = load_spec(BASE).gpu_pools
    assert pool.zones == CATALOG["nvidia-tesla-t4"].zones_in("us-central1")
    assert len(pool.zones) > 1


def test_explicit_zones_win():
    pool = pool_spec(accelerator="nvidia-l4", zones=["us-central1-c"])
    assert pool.zones == ("us-central1-c",)


def test_region_without_the_gpu_is_an_error_naming_the_regions_that_have_it():
    [message] = problems_of("us-east1", accelerator="nvidia-h100-80gb")
    assert message == ("gpu-lab:gpuPools[0].accelerator: got 'nvidia-h100-80gb'; no zone of "
                       "gcp:region us-east1 offers it; regions that have it: asia-east1, "
                       "asia-southeast1, europe-west1, europe-west4, us-central1, us-east4, "
                       "us-west1, us-west4")


def test_explicit_zone_without_the_gpu_is_an_error_naming_the_zones_that_have_it():
    [message] = problems_of(accelerator="nvidia-a100-80gb", zones=["us-central1-a",
                                                                   "us-central1-b"])
    assert message == ("gpu-lab:gpuPools[0].zones: got 'us-central1-b'; does not offer "
                       "nvidia-a100-80gb; zones of us-central1 that do: us-central1-a, "
                       "us-central1-c")


def test_explicit_zone_in_a_region_without_the_gpu():
    [message] = problems_of("us-east1", accelerator="nvidia-a100-80gb", zones=["us-east1-b"])
    assert message.startswith("gpu-lab:gpuPools[0].zones: got 'us-east1-b'; no zone of "
                              "gcp:region us-east1 offers nvidia-a100-80gb; regions that have "
                              "it: asia-southeast1, europe-west4, us-central1, us-east4")


def test_zone_outside_the_region_is_still_an_error():
    [message] = problems_of(zones=["europe-west4-a"])
    assert message == ("gpu-lab:gpuPools[0].zones: got 'europe-west4-a'; every entry must be "
                       "a zone of us-central1")


def test_region_the_table_does_not_cover_needs_explicit_zones():
    [message] = problems_of("me-west1")
    assert message.startswith("gpu-lab:gpuPools[0].zones: is not set; gpu-lab's zone table "
                              "(model/gpu_catalog.py) does not cover gcp:region me-west1: list "
                              "the zones of me-west1 that offer nvidia-tesla-t4, or use one of "
                              "the regions that have it: asia-east1")
    assert pool_spec("me-west1", zones=["me-west1-b"]).zones == ("me-west1-b",)


def test_existing_platform_keeps_zones_empty():
    values = {"gpu-lab:platform": "existing",
              "gpu-lab:gpuPools": [{"name": "t4", "nodes": ["kind-worker"]}]}
    assert load_spec(values).gpu_pools[0].zones == ()
    with pytest.raises(ConfigError) as caught:
        load_spec({**values, "gpu-lab:gpuPools": [
            {"name": "t4", "nodes": ["kind-worker"], "zones": ["us-central1-a"]}]})
    assert caught.value.keys() == ["gpu-lab:gpuPools[0].zones"]


# -- GKE's per-zone initial count ----------------------------------------------------------

ZONES = ("us-central1-a", "us-central1-b", "us-central1-c")


@pytest.mark.parametrize("min_nodes,max_nodes,zones,per_zone", [
    (0, 2, ZONES, 0),                              # scales from zero in every zone
    (0, 1, ZONES, 0),
    (1, 3, ZONES, 1),                              # 3 to start, the autoscaler trims to 1
    (1, 1, ZONES[:1], 1),                          # 3 x 1 would break maxNodes: one zone
    (1, 2, ZONES[:2], 1),
    (2, 2, ZONES[:2], 1),
    (3, 6, ZONES, 1),
    (4, 6, ZONES, 2),                              # spread wins: 3 x 2 within 4..6
])
def test_initial_nodes_stay_between_the_totals(min_nodes, max_nodes, zones, per_zone):
    cluster = load_spec(BASE).cluster               # zonal, us-central1-a
    assert spread(cluster, min_nodes, max_nodes, ZONES) == (zones, per_zone)
    assert min_nodes <= len(zones) * per_zone <= max_nodes


def test_narrowed_pool_starts_in_the_clusters_own_zone():
    cluster = load_spec({**BASE, "gpu-lab:cluster": {"location": "us-central1-c"}}).cluster
    assert spread(cluster, 1, 1, ZONES) == (("us-central1-c",), 1)
    assert spread(cluster, 0, 1, ZONES) == (ZONES, 0)


# -- the program ------------------------------------------------------------------------------

def test_dev_node_pool_spreads_over_the_catalog_zones(dev):
    pool = one(dev, NODE_POOL, name="t4").inputs
    assert pool["nodeLocations"] == list(CATALOG["nvidia-tesla-t4"].zones_in("us-central1"))
    assert pool["initialNodeCount"] == 0
    assert pool["autoscaling"] == {"totalMinNodeCount": 0, "totalMaxNodeCount": 2,
                                   "locationPolicy": "ANY"}


def test_small_fixed_pool_is_created_in_as_many_zones_as_it_has_nodes():
    rendering = render_with(**{"gpu-lab:gpuPools": [
        {"name": "pair", "minNodes": 2, "maxNodes": 2, "spot": True}]})
    pool = one(rendering, NODE_POOL, name="pair").inputs
    assert pool["nodeLocations"] == ["us-central1-a", "us-central1-b"]
    assert pool["initialNodeCount"] == 1
    assert (pool["autoscaling"]["totalMinNodeCount"],
            pool["autoscaling"]["totalMaxNodeCount"]) == (2, 2)
