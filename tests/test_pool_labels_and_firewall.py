"""A GPU pool's node labels and the network's firewall rules, as config: what reaches the
node pool and the VPC, and what the cluster then shows (does a node advertise GPUs? can its
pods reach the internet?)."""

from __future__ import annotations

import pytest

from faults import build_spec
from kube import Endpoint, ObjectSet, egress_allowed
from kube.nodes import advertises_gpus, pool_network
from kube.symptoms import CHECKS, offline_context
from lab.render import render
from tests.helpers import NODE_POOL, one, stack_values

FIREWALL = "gcp:compute/firewall:Firewall"
NO_PLUGIN = {"nvidia.com/gpu.deploy.device-plugin": "false"}
GKE_STACK = {"gpuOperator": False, "gkeDevicePlugin": True, "driverVersion": "LATEST"}


def stack(**overrides):
    values = stack_values("dev", **{f"gpu-lab:{key}": value for key, value in overrides.items()})
    return build_spec(values, stack="test"), render(values, stack="test")


def gpu_nodes(spec, rendering) -> dict[str, str]:
    """{node: nvidia.com/gpu it advertises ("0" for none)} of the GPU pools' nodes."""
    ctx = offline_context(spec, rendering)
    return {node["metadata"]["name"]: node["status"]["allocatable"].get("nvidia.com/gpu", "0")
            for node in ctx.nodes if node["metadata"]["labels"].get("gpu-lab/accelerator")}


def finds(check_id: str, spec, rendering) -> list[str]:
    """The evidence of a symptom check on the rendered stack ([] when it finds nothing)."""
    return [f.evidence for f in CHECKS[check_id].findings(offline_context(spec, rendering))]


# -- gpuPools[].labels ------------------------------------------------------------------------

def test_pool_labels_are_the_node_pools_kubernetes_labels():
    _, rendering = stack(gpuPools=[{"name": "t4", "maxNodes": 2, "labels": {
        "team": "vision", "example.com/tier": "gold"}}])
    assert one(rendering, NODE_POOL, name="t4").inputs["nodeConfig"]["labels"] == {
        "gpu-lab/pool": "t4", "gpu-lab/accelerator": "nvidia-tesla-t4",
        "gke-no-default-nvidia-gpu-device-plugin": "true",
        "team": "vision", "example.com/tier": "gold"}


def test_the_operators_device_plugin_label_leaves_the_nodes_without_gpus():
    healthy, healthy_rendering = stack(gpuPools=[{"name": "t4", "maxNodes": 2}])
    assert set(gpu_nodes(healthy, healthy_rendering).values()) == {"1"}
    assert not finds("gpus-not-advertised", healthy, healthy_rendering)
    spec, rendering = stack(gpuPools=[{"name": "t4", "maxNodes": 2, "labels": NO_PLUGIN}])
    labels = one(rendering, NODE_POOL, name="t4").inputs["nodeConfig"]["labels"]
    assert labels["nvidia.com/gpu.deploy.device-plugin"] == "false"
    assert labels["gke-no-default-nvidia-gpu-device-plugin"] == "true"
    assert set(gpu_nodes(spec, rendering).values()) == {"0"}
    assert not advertises_gpus(spec, spec.pool("t4"))
    assert finds("gpus-not-advertised", spec, rendering)


def test_on_a_pool_gke_serves_the_operators_label_changes_nothing():
    """GKE's device plugin does not read the GPU Operator's label; its own does."""
    spec, rendering = stack(gpuPools=[{"name": "t4", "maxNodes": 2, **GKE_STACK,
                                       "labels": NO_PLUGIN}])
    assert set(gpu_nodes(spec, rendering).values()) == {"1"}
    spec, rendering = stack(gpuPools=[{"name": "t4", "maxNodes": 2, **GKE_STACK, "labels": {
        **NO_PLUGIN, "gke-no-default-nvidia-gpu-device-plugin": "true"}}])
    assert set(gpu_nodes(spec, rendering).values()) == {"0"}


def test_on_an_existing_cluster_the_label_keeps_the_fake_operator_away():
    values = stack_values("local", **{"gpu-lab:gpuPools": [
        {"name": "t4", "nodes": ["gpu-lab-worker"]},
        {"name": "t4-off", "nodes": ["gpu-lab-worker2"], "labels": NO_PLUGIN}]})
    spec, rendering = build_spec(values, stack="local"), render(values, stack="local")
    patches = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]
               for r in rendering.of_type("kubernetes:core/v1:NodePatch")}
    assert patches["gpu-lab-worker"]["run.ai/simulated-gpu-node-pool"] == "t4"
    assert "run.ai/simulated-gpu-node-pool" not in patches["gpu-lab-worker2"]
    assert patches["gpu-lab-worker2"]["nvidia.com/gpu.deploy.device-plugin"] == "false"
    assert gpu_nodes(spec, rendering) == {"gpu-lab-worker": "1", "gpu-lab-worker2": "0"}


def test_the_device_plugin_fault_is_that_label():
    values = {**stack_values("dev"), "gpu-lab:allowFaults": True, "gpu-lab:variation": False,
              "gpu-lab:faults": [{"id": "gpu-device-plugin-missing", "pool": "t4"}]}
    spec = build_spec(values, stack="test")
    assert dict(spec.pool("t4").node_labels) == NO_PLUGIN
    assert not advertises_gpus(spec, spec.pool("t4"))


# -- cluster.network.firewallRules ------------------------------------------------------------

DENY = {"name": "deny-egress-t4", "direction": "EGRESS", "priority": 1000,
        "denies": [{"protocol": "all"}], "destinationRanges": ["0.0.0.0/0"],
        "targetTags": ["gpu-lab-pool-t4"], "description": "t4 stays inside"}


def test_firewall_rules_are_compute_firewalls_of_the_vpc():
    _, rendering = stack(gpuPools=[{"name": "t4", "maxNodes": 2, **GKE_STACK}],
                         cluster={"location": "us-central1-a", "network": {"firewallRules": [
                             DENY, {"name": "allow-iap-ssh", "sourceRanges": ["35.235.240.0/20"],
                                    "allows": [{"protocol": "tcp", "ports": ["22"]}]}]}})
    deny = rendering.named("lab-network-deny-egress-t4", FIREWALL).inputs
    assert {k: v for k, v in deny.items() if k != "network"} == {
        "name": "gpu-lab-test-deny-egress-t4", "project": "gpu-lab-test", "direction": "EGRESS",
        "priority": 1000, "denies": [{"protocol": "all"}],
        "destinationRanges": ["0.0.0.0/0"], "targetTags": ["gpu-lab-pool-t4"],
        "description": "t4 stays inside"}
    ssh = rendering.named("lab-network-allow-iap-ssh", FIREWALL).inputs
    assert ssh["direction"] == "INGRESS" and ssh["allows"] == [{"protocol": "tcp",
                                                                 "ports": ["22"]}]
    assert ssh["sourceRanges"] == ["35.235.240.0/20"] and "targetTags" not in ssh


def test_a_deny_egress_rule_cuts_the_pools_nodes_off_the_internet():
    spec, rendering = stack(gpuPools=[{"name": "t4", "maxNodes": 2, **GKE_STACK}],
                            cluster={"location": "us-central1-a",
                                     "network": {"firewallRules": [DENY]}})
    objects = ObjectSet(rendering.check_objects())
    assert not pool_network(spec.pool("t4"), objects).internet
    # node-exporter's image (quay.io) could not be pulled there: it stays off the pool.
    [release] = [r for r in rendering.of_type("kubernetes:helm.sh/v3:Release")
                 if r.inputs["name"] == "kube-prometheus-stack"]
    affinity = release.inputs["values"]["prometheus-node-exporter"]["affinity"]
    [term] = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]
    assert term["matchExpressions"] == [
        {"key": "gpu-lab/pool", "operator": "NotIn", "values": ["t4"]}]
    assert any("GCP firewall denies egress from t4 nodes" in finding
               for finding in finds("tenant-egress-blocked", spec, rendering))
    # GKE's GPU stack comes from Google's registries: the nodes still advertise their GPUs.
    assert set(gpu_nodes(spec, rendering).values()) == {"1"}


def test_an_allow_rule_cuts_nothing_off():
    spec, rendering = stack(cluster={"location": "us-central1-a", "network": {"firewallRules": [
        {**DENY, "denies": None, "allows": [{"protocol": "all"}]}]}})
    assert pool_network(spec.pool("t4"), ObjectSet(rendering.check_objects())).internet
    assert spec.cluster.network.internet_denied_tags == ()


@pytest.mark.parametrize("tenant", ["tenant-c"])
def test_the_egress_fault_is_a_firewall_rule_and_an_empty_egress_list(tenant):
    values = stack_values("all-faults")
    values["gpu-lab:faults"] = [{"id": "egress-blocked", "tenant": tenant}]
    spec = build_spec(values, stack="test")
    [rule] = spec.cluster.network.firewall_rules
    assert (rule.name, rule.direction, rule.target_tags, rule.destination_ranges) == (
        "deny-egress-gpu-lab-pool-t4-tenant-c", "EGRESS", ("gpu-lab-pool-t4-tenant-c",),
        ("0.0.0.0/0",))
    assert spec.tenant(tenant).egress == ()
    assert spec.tenant("tenant-a").egress != ()
    objects = ObjectSet(render(values, stack="test").check_objects())
    assert objects.get("NetworkPolicy", "allow-internet-egress", tenant) is None
    assert not egress_allowed(objects, tenant, Endpoint.internet())
    assert egress_allowed(objects, "tenant-a", Endpoint.internet())
