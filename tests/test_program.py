"""Program tests: the real __main__.py under Pulumi mocks, asserting on what the
mock monitor captured (inputs arrive camelCase, integers as floats)."""

import pytest

from lab.render import SECRET
from tests.helpers import CLUSTER, NODE_POOL, one, render_with

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}


def test_cluster_is_destroyable_private_vpc_native_with_dataplane_v2(dev):
    cluster = one(dev, CLUSTER).inputs
    assert cluster["name"] == "gpu-lab-dev"
    assert cluster["location"] == "us-central1-a"
    assert cluster["deletionProtection"] is False
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["networkingMode"] == "VPC_NATIVE"
    assert cluster["removeDefaultNodePool"] is True
    assert cluster["enableShieldedNodes"] is True
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "gpu-lab-test.svc.id.goog"}
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert "WORKLOADS" in cluster["loggingConfig"]["enableComponents"]
    assert cluster["monitoringConfig"]["enableComponents"] == ["SYSTEM_COMPONENTS"]


def test_cluster_secondary_ranges_exist_in_its_subnet(dev):
    cluster = one(dev, CLUSTER).inputs
    subnet = one(dev, "gcp:compute/subnetwork:Subnetwork").inputs
    ranges = {r["rangeName"]: r["ipCidrRange"] for r in subnet["secondaryIpRanges"]}
    policy = cluster["ipAllocationPolicy"]
    assert ranges == {policy["clusterSecondaryRangeName"]: "10.20.0.0/14",
                      policy["servicesSecondaryRangeName"]: "10.24.0.0/20"}
    assert subnet["privateIpGoogleAccess"] is True
    assert cluster["subnetwork"] == "lab-network-subnet-id"


def test_private_nodes_get_nat_and_the_control_plane_reaches_webhooks(dev):
    nat = one(dev, "gcp:compute/routerNat:RouterNat").inputs
    assert nat["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"
    control_plane = one(dev, "gcp:compute/firewall:Firewall",
                        sourceRanges=["172.16.0.0/28"]).inputs
    assert {"8443", "9443", "10250"} <= set(control_plane["allows"][0]["ports"])


def test_gpu_pool_is_tainted_autoscaled_spot_t4s(dev):
    pool = one(dev, NODE_POOL, name="t4").inputs
    config = pool["nodeConfig"]
    assert config["taints"] == [GPU_TAINT]
    assert pool["autoscaling"]["totalMinNodeCount"] == 0
    assert pool["autoscaling"]["totalMaxNodeCount"] == 2
    assert pool["initialNodeCount"] == 0
    assert config["spot"] is True
    assert config["machineType"] == "n1-standard-4"
    [accelerator] = config["guestAccelerators"]
    assert accelerator["type"] == "nvidia-tesla-t4" and accelerator["count"] == 1
    assert config["labels"]["gpu-lab/accelerator"] == "nvidia-tesla-t4"
    assert config["labels"]["gpu-lab/pool"] == "t4"
    assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert "https://www.googleapis.com/auth/cloud-platform" not in config["oauthScopes"]
    assert config["serviceAccount"].startswith("gpu-lab-dev-nodes@")


def test_driver_and_device_plugin_follow_the_gpu_operator_switch(dev):
    # Default (NVIDIA's GKE guide): GKE's automatic install off, Google's driver installer
    # DaemonSet installs the driver, the GPU Operator brings the device plugin.
    config = one(dev, NODE_POOL, name="t4").inputs["nodeConfig"]
    driver = config["guestAccelerators"][0]["gpuDriverInstallationConfig"]
    assert driver == {"gpuDriverVersion": "INSTALLATION_DISABLED"}
    assert config["labels"]["gke-no-default-nvidia-gpu-device-plugin"] == "true"

    gke_managed = render_with(**{"gpu-lab:addons": {"gpuOperator": {"enabled": False}}})
    config = one(gke_managed, NODE_POOL, name="t4").inputs["nodeConfig"]
    assert "gke-no-default-nvidia-gpu-device-plugin" not in config["labels"]
    assert config["guestAccelerators"][0]["gpuDriverInstallationConfig"] == \
        {"gpuDriverVersion": "LATEST"}


def test_system_pool_autoscales_and_has_no_gpus(dev):
    pool = one(dev, NODE_POOL, name="system").inputs
    assert (pool["autoscaling"]["totalMinNodeCount"], pool["autoscaling"]["totalMaxNodeCount"]) \
        == (1, 3)
    assert "guestAccelerators" not in pool["nodeConfig"]
    assert "taints" not in pool["nodeConfig"]


def test_deletion_protection_is_configurable():
    rendering = render_with(**{"gpu-lab:cluster": {"deletionProtection": True}})
    assert one(rendering, CLUSTER).inputs["deletionProtection"] is True


def test_regional_cluster_with_two_accelerator_pools():
    rendering = render_with(**{
        "gpu-lab:cluster": {"location": "us-central1"},
        "gpu-lab:gpuPools": [
            {"name": "t4", "minNodes": 3, "maxNodes": 6},
            {"name": "l4", "accelerator": "nvidia-l4", "machineType": "g2-standard-24",
             "zones": ["us-central1-a", "us-central1-b"], "maxNodes": 2}],
    })
    assert one(rendering, CLUSTER).inputs["location"] == "us-central1"
    t4 = one(rendering, NODE_POOL, name="t4").inputs
    # t4 spreads over us-central1's 4 T4 zones: 1 node in each, within minNodes 3..maxNodes 6
    assert t4["nodeLocations"] == ["us-central1-a", "us-central1-b", "us-central1-c",
                                   "us-central1-f"]
    assert t4["initialNodeCount"] == 1
    l4 = one(rendering, NODE_POOL, name="l4").inputs
    assert l4["nodeLocations"] == ["us-central1-a", "us-central1-b"]
    assert l4["nodeConfig"]["guestAccelerators"][0]["count"] == 2
    assert l4["nodeConfig"]["spot"] is False
    assert l4["autoscaling"]["locationPolicy"] == "BALANCED"
    pools = rendering.of_type("gpu-lab:cluster:GpuNodePool")
    assert sorted(p.name for p in pools) == ["lab-gpu-l4", "lab-gpu-t4"]


def test_components_use_gpu_lab_tokens_and_children_hang_off_them(dev):
    components = {r.type for r in dev.resources if r.type.startswith("gpu-lab:")}
    assert components >= {"gpu-lab:lab:Lab", "gpu-lab:network:Network",
                          "gpu-lab:cluster:GkeCluster", "gpu-lab:cluster:GpuNodePool"}
    keys = {f"{r.type}::{r.name}" for r in dev.resources}
    for resource in dev.resources:
        if resource.type == "gpu-lab:lab:Lab":
            assert resource.parent is None
        else:
            assert resource.parent in keys, resource
            assert resource.name.startswith("lab"), resource.name


def test_kubernetes_provider_uses_the_cluster_endpoint_and_ca(dev):
    provider = one(dev, "pulumi:providers:kubernetes").inputs
    kubeconfig = provider["kubeconfig"][SECRET]
    assert "server: https://203.0.113.10" in kubeconfig
    assert "certificate-authority-data: Q0EtQ0VSVElGSUNBVEU=" in kubeconfig
    assert "command: gke-gcloud-auth-plugin" in kubeconfig


def test_exports(dev):
    outputs = dev.outputs
    assert outputs["clusterName"] == "gpu-lab-dev"
    assert outputs["location"] == "us-central1-a"
    assert outputs["endpoint"] == "203.0.113.10"
    assert SECRET in outputs["kubeconfig"], "the kubeconfig must be exported as a secret"
    pools = {p["name"]: p for p in outputs["nodePools"]}
    assert pools["system"]["role"] == "system"
    assert pools["t4"]["accelerator"] == "nvidia-tesla-t4"
    assert pools["t4"]["gpuMemoryGb"] == 16


def test_renders_are_independent():
    first = render_with(**{"gpu-lab:cluster": {"name": "first"}})
    second = render_with(**{"gpu-lab:cluster": {"name": "second"}})
    assert one(first, CLUSTER).inputs["name"] == "first"
    assert one(second, CLUSTER).inputs["name"] == "second"
    assert len(first.resources) == len(second.resources)


def test_bad_config_registers_nothing():
    from model import ConfigError
    with pytest.raises(ConfigError):
        render_with(**{"gpu-lab:gpuPools": [{"name": "t4", "maxNodes": -2}]})


def test_google_apis_resolve_to_private_google_access(dev):
    zones = {r.inputs["dnsName"]: r.inputs for r in dev.of_type("gcp:dns/managedZone:ManagedZone")}
    assert set(zones) == {"googleapis.com.", "gcr.io.", "pkg.dev."}
    assert all(zone["visibility"] == "private" for zone in zones.values())
    records = {(r.inputs["name"], r.inputs["type"]): r.inputs["rrdatas"]
               for r in dev.of_type("gcp:dns/recordSet:RecordSet")}
    assert records[("private.googleapis.com.", "A")] == ["199.36.153.8", "199.36.153.9",
                                                        "199.36.153.10", "199.36.153.11"]
    assert records[("*.gcr.io.", "CNAME")] == ["gcr.io."]
    egress = one(dev, "gcp:compute/firewall:Firewall", direction="EGRESS").inputs
    assert "199.36.153.8/30" in egress["destinationRanges"]
    assert "172.16.0.0/28" in egress["destinationRanges"]      # the control plane
