"""Spec -> config -> spec: every state a stack can be in, faults injected, is ordinary config.

`load_spec(to_config(spec)) == spec` (minus the list of faults, the scenario and allowFaults,
which to_config never writes) for every shipped stack, every scenario, each fault alone, and
hand-made edge cases; read back as the stack file says it, as YAML, and as the Pulumi engine
hands it over (JSON strings). The keys that make it possible are validated like every other.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from pathlib import Path

import pytest
import yaml

from faults import FAULTS, SCENARIOS, build_spec
from model import ConfigError, load_spec
from model.config import TENANT_ROLES
from model.source import PROJECT_DIR, as_engine_values, read_stack_file
from model.to_config import to_config
from tests.helpers import catalog_refs, stack_values

STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
ALL = stack_values("all-faults")
BASELINE = {k: v for k, v in ALL.items() if k != "gpu-lab:faults"}
REFS = catalog_refs()


def materialized(spec):
    return replace(spec, faults=(), allow_faults=False, scenario=None, dressing=())


def differences(a, b, path="spec") -> list[str]:
    """Where two specs differ, field by field (a readable failure instead of two reprs)."""
    if is_dataclass(a) and is_dataclass(b) and type(a) is type(b):
        return [d for f in fields(a)
                for d in differences(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")]
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def as_yaml(config: dict) -> dict:
    """The config written to a stack file and read back the way `lab render` reads one."""
    return yaml.safe_load(yaml.safe_dump({"config": config}, sort_keys=False))["config"]


def assert_round_trip(spec, tmp_path: Path | None = None):
    want = materialized(spec)
    config = to_config(spec)
    assert not {"gpu-lab:faults", "gpu-lab:scenario", "gpu-lab:allowFaults"} & set(config)
    for form, values in (("dict", config), ("yaml", as_yaml(config)),
                         ("engine", as_engine_values(config))):
        got = load_spec(values, stack=spec.stack)
        assert differences(got, want) == [], form
        assert got == want, form
    if tmp_path is not None:
        path = tmp_path / f"Pulumi.{spec.stack}.yaml"
        path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
        assert load_spec(read_stack_file(path), stack=spec.stack) == want


def scenario_values(name: str) -> dict:
    return {"gpu-lab:scenario": name, "gpu-lab:allowFaults": True, "gcp:project": "p"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_round_trips(stack, tmp_path):
    assert {"dev", "pairing", "all-faults", "local"} <= set(STACKS)
    assert_round_trip(build_spec(stack_values(stack), stack=stack), tmp_path)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_round_trips(scenario):
    assert_round_trip(build_spec(scenario_values(scenario), stack="interview"))


@pytest.mark.parametrize("ref", REFS, ids=lambda r: r if isinstance(r, str) else r["id"])
def test_each_fault_alone_round_trips(ref):
    assert_round_trip(build_spec({**BASELINE, "gpu-lab:faults": [ref]}, stack="test"))


def test_the_faults_change_the_config_they_round_trip_through():
    """Not vacuous: each fault's state differs from the baseline's config."""
    healthy = to_config(build_spec(BASELINE, stack="test"))
    for ref in REFS:
        faulted = to_config(build_spec({**BASELINE, "gpu-lab:faults": [ref]}, stack="test"))
        assert faulted != healthy, ref
    assert {r if isinstance(r, str) else r["id"] for r in REFS} == set(FAULTS)


EDGE_CASES = {
    "defaults": {"gcp:project": "p"},
    "regional, restricted, grouped": {
        "gcp:project": "p", "gcp:region": "europe-west4",
        "gpu-lab:cluster": {"location": "europe-west4", "releaseChannel": "STABLE",
                            "deletionProtection": True,
                            "masterAuthorizedCidrs": ["203.0.113.0/24"],
                            "rbacSecurityGroup": "gke-security-groups@example.com",
                            "network": {"subnetCidr": "10.30.0.0/20"}},
        "gpu-lab:systemPool": {"name": "ops", "machineType": "e2-standard-8", "spot": True,
                               "minNodes": 2, "maxNodes": 4, "diskSizeGb": 80},
        "gpu-lab:gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "maxNodes": 3,
                              "zones": ["europe-west4-a"]}],
        "gpu-lab:expiresAt": "2026-11-24T18:00:00+01:00",
    },
    "operator off, monitoring off, no workloads": {
        "gcp:project": "p",
        "gpu-lab:addons": {"gpuOperator": {"enabled": False},
                           "monitoring": {"enabled": False}},
        "gpu-lab:workloads": [],
    },
    "time-slicing, MIG, custom image, jobs and a CPU workload": {
        "gcp:project": "p",
        "gpu-lab:addons": {"gpuOperator": {"timeSlicing": 4, "migStrategy": "single",
                                           "dcgmExporter": False, "serviceMonitor": False},
                           "monitoring": {"retention": "7d", "alertmanager": True}},
        "gpu-lab:gpuPools": [{"name": "a100", "accelerator": "nvidia-tesla-a100",
                              "machineType": "a2-highgpu-2g", "maxNodes": 2}],
        "gpu-lab:workload": {"image": "registry.example.com/infer:1"},
        "gpu-lab:tenants": [{"name": "tenant-a", "gpus": 4}, {"name": "team-x", "gpus": 0}],
        "gpu-lab:workloads": [
            {"tenant": "tenant-a", "kind": "Job", "batches": 10, "replicas": 2, "gpus": 2,
             "gpuMemoryGb": 12.5, "args": ["--device", "cuda"], "cpu": "500m",
             "memory": "2Gi"},
            {"tenant": "team-x", "name": "cpu", "gpus": 0, "args": ["--device", "cpu"],
             "pool": "system", "customImage": False, "image": "python:3.11-slim"}],
    },
    "every tenant and workload knob": {
        "gcp:project": "p",
        "gpu-lab:tenants": [
            {"name": "tenant-a", "gpus": 2, "team": "recsys-2", "costCenter": "cc-9",
             "cpu": 16, "memory": "64Gi", "maxPods": 40, "maxGpusPerPod": 1,
             "priorityClass": "experiment-low", "adminGroups": [], "developerGroups": ["d@x.io"],
             "gcpServiceAccount": "inference@p.iam.gserviceaccount.com",
             "egress": [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24",
                                             "except": ["203.0.113.64/26"]}},
                                {"ipBlock": {"cidr": "198.51.100.7/32"}}],
                         "ports": [{"protocol": "UDP", "port": 53}, {"port": "https"}]},
                        {"to": [{"ipBlock": {"cidr": "192.0.2.0/24"}}]}, {}],
             "priorityGpuQuotas": {"production-high": 1},
             "quota": {"hard": {"count/jobs.batch": "10", "services": 2,
                                "requests.storage": "100Gi"}},
             "roleBindings": [
                 {"name": "devs", "role": "tenant-developer", "groups": ["d@x.io"],
                  "users": ["u@x.io"]},
                 {"name": "ci", "role": "job-submitter",
                  "serviceAccounts": ["job-submitter", "ci/deployer"]},
                 {"name": "auditors", "roleKind": "ClusterRole", "role": "view",
                  "users": ["audit@x.io"]}]},
            {"name": "tenant-b", "roleBindings": [], "egress": [],
             "quota": {"hard": {"limits.nvidia.com/gpu": 1, "nvidia.com/gpu": "1", "cpu": "2",
                                "limits.memory": "8Gi", "count/pods": "12"}}}],
        "gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 3, "minNodes": 1,
                              "labels": {"team": "vision", "example.com/tier": "gold"}}],
        "gpu-lab:workloads": [
            {"tenant": "tenant-a", "replicas": 2,
             "podMetricsEndpoint": {"port": "http", "path": "/stats", "interval": "1m30s"},
             "monitorSelector": {"app.kubernetes.io/name": "infer", "tier": "serving"},
             "args": ["--log-file", "/tmp/infer.log", "--seed", "3"],
             "env": [{"name": "OMP_NUM_THREADS", "value": "4"}, {"name": "EMPTY", "value": ""},
                     {"name": "model.revision", "value": "2026-11-02"}],
             "topologySpreadConstraints": [],
             "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                 {"topologyKey": "kubernetes.io/hostname",
                  "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "infer"}}}]},
                 "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                     {"weight": 10, "preference": {"matchExpressions": [
                         {"key": "gpu-lab/accelerator", "operator": "In",
                          "values": ["nvidia-tesla-t4"]}]}}]}},
             "batchSize": 8, "seqLen": 64, "hidden": 256, "layers": 2},
            {"tenant": "tenant-b", "topologySpreadConstraints": [
                {"maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone",
                 "whenUnsatisfiable": "DoNotSchedule", "minDomains": 2,
                 "labelSelector": {"matchExpressions": [
                     {"key": "tenant", "operator": "In", "values": ["tenant-b"]}]}}]}],
        "gpu-lab:candidate": {"tenant": "tenant-b"},
    },
    "states only a stack with problems has": {
        "gcp:project": "p",
        "gpu-lab:cluster": {"network": {"firewallRules": [
            {"name": "deny-egress-solo", "direction": "EGRESS", "priority": 1000,
             "denies": [{"protocol": "all"}], "destinationRanges": ["0.0.0.0/0"],
             "targetTags": ["gpu-lab-pool-solo"], "description": "solo stays inside"},
            {"name": "allow-ssh", "sourceRanges": ["35.235.240.0/20"], "priority": 500,
             "allows": [{"protocol": "tcp", "ports": ["22", "8000-8100"]},
                        {"protocol": "icmp"}, {"protocol": "47"}]}]}},
        "gpu-lab:gpuPools": [
            {"name": "t4", "maxNodes": 2, "minNodes": 1,
             "labels": {"nvidia.com/gpu.deploy.device-plugin": "false"}},
            {"name": "solo", "maxNodes": 1, "gpuOperator": False, "gkeDevicePlugin": True,
             "driverVersion": "DEFAULT"}],
        "gpu-lab:tenants": [{"name": "tenant-a",
                             "quota": {"hard": {"limits.nvidia.com/gpu": "1"}}},
                            {"name": "tenant-b", "gpus": 2, "maxGpusPerPod": 2}],
        "gpu-lab:workloads": [
            {"tenant": "tenant-a", "replicas": 3, "pool": "solo"},
            {"tenant": "tenant-a", "name": "mem", "gpuMemoryGb": 64, "gpus": 0},
            {"tenant": "tenant-b", "gpus": 2, "pool": "system"},
            {"tenant": "tenant-b", "name": "arm", "gpus": 0,
             "image": "registry.example.com/arm:1", "imageArchitecture": "arm64",
             "customImage": False}],
    },
    "an existing cluster": {
        "gpu-lab:platform": "existing",
        "gpu-lab:cluster": {"kubeContext": "kind-gpu-lab"},
        "gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 2, "nodes": ["w1", "w2"]},
                             {"name": "l4", "accelerator": "nvidia-l4", "nodes": ["w3"]}],
        "gpu-lab:candidate": {"login": True, "tenant": "tenant-a"},
    },
}


@pytest.mark.parametrize("case", EDGE_CASES)
def test_hand_made_edge_cases_round_trip(case):
    assert_round_trip(load_spec(EDGE_CASES[case], stack="edge"))


def test_unset_things_are_left_out_and_set_things_written():
    config = to_config(load_spec(EDGE_CASES["defaults"], stack="edge"))
    cluster = config["gpu-lab:cluster"]
    assert "rbacSecurityGroup" not in cluster and "kubeContext" not in cluster
    assert "firewallRules" not in cluster["network"]
    assert all("labels" not in pool for pool in config["gpu-lab:gpuPools"])
    # Every tenant's quota and egress rules are written out, in place of the shorthands.
    tenant_a = config["gpu-lab:tenants"][0]
    assert not {"gpus", "cpu", "memory", "maxPods"} & set(tenant_a)
    assert tenant_a["quota"]["hard"]["requests.nvidia.com/gpu"] == "1"
    assert tenant_a["egress"][0]["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert "gpu-lab:expiresAt" not in config and "gpu-lab:candidate" not in config
    assert [w["name"] for w in config["gpu-lab:workloads"]] == ["infer", "infer"]
    assert config["gpu-lab:tenants"][0]["roleBindings"][0] == {
        "name": "tenant-admins", "roleKind": "Role", "role": "tenant-admin",
        "groups": ["tenant-a-admins@example.com"]}
    empty = to_config(load_spec(EDGE_CASES["every tenant and workload knob"], stack="edge"))
    assert empty["gpu-lab:tenants"][1]["roleBindings"] == []
    assert empty["gpu-lab:tenants"][0]["adminGroups"] == []


def test_workloads_are_written_as_kubernetes_shapes():
    """A workload's pod settings are written as the Kubernetes objects they render: the
    default spread constraints in full, an empty list where there are none (unset would
    mean the default), no affinity or args or env where there are none."""
    config = to_config(load_spec(EDGE_CASES["defaults"], stack="edge"))
    plain = config["gpu-lab:workloads"][0]
    assert plain["topologySpreadConstraints"] == [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "infer"}}}]
    assert plain["podMetricsEndpoint"] == {"port": "metrics", "path": "/metrics",
                                           "interval": "15s"}
    assert not {"affinity", "args", "env"} & set(plain)
    knobs = EDGE_CASES["every tenant and workload knob"]["gpu-lab:workloads"][0]
    written = to_config(load_spec(EDGE_CASES["every tenant and workload knob"],
                                  stack="edge"))["gpu-lab:workloads"][0]
    for key in ("topologySpreadConstraints", "affinity", "args", "env", "podMetricsEndpoint"):
        assert written[key] == knobs[key], key
    assert not {"device", "logToFile", "monitorPort", "spread", "pinToOneNode"} & set(written)


# -- the keys a materialized stack needs, validated like every other key ---------------------

def problems(**values) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_spec({"gcp:project": "p", **{f"gpu-lab:{k}": v for k, v in values.items()}})
    return [str(p) for p in caught.value.problems]


def tenant(**fields):
    return [{"name": "tenant-a", **fields}, "tenant-b"]


def workload(**fields):
    return [{"tenant": "tenant-a", **fields}]


DENY = {"name": "deny-egress", "direction": "EGRESS", "denies": [{"protocol": "all"}],
        "destinationRanges": ["0.0.0.0/0"], "targetTags": ["gpu-lab-pool-t4"]}


@pytest.mark.parametrize("values,message", [
    ({"tenants": tenant(quota={"hard": {"limit.nvidia.com/gpu": "1"}})},
     "gpu-lab:tenants[0].quota.hard.limit.nvidia.com/gpu: got '1'; a quota entry for "
     "nvidia.com/gpu is one of requests.nvidia.com/gpu, limits.nvidia.com/gpu, nvidia.com/gpu "
     "(did you mean 'limits.nvidia.com/gpu'?)"),
    ({"tenants": tenant(gpus=1, quota={"hard": {"nvidia.com/gpu": "1"}})},
     "gpu-lab:tenants[0].gpus: got 1; gpu-lab:tenants[0].quota.hard.nvidia.com/gpu sets the "
     "same quota: give one of the two"),
    ({"tenants": tenant(roleBindings=[{"name": "x", "role": "tenant-dev", "groups": ["g"]}])},
     "gpu-lab:tenants[0].roleBindings[0].role: got 'tenant-dev'; must be a Role of the "
     "tenant's namespace: tenant-admin, tenant-developer, job-submitter (did you mean "
     "'tenant-developer'?) (or set roleKind ClusterRole)"),
    ({"tenants": tenant(roleBindings=[{"name": "x", "role": "view", "roleKind": "Clusterrole",
                                       "groups": ["g"]}])},
     "gpu-lab:tenants[0].roleBindings[0].roleKind: got 'Clusterrole'; must be one of Role, "
     "ClusterRole (did you mean 'ClusterRole'?)"),
    ({"tenants": tenant(roleBindings=[{"name": "x", "role": "tenant-admin"}])},
     "gpu-lab:tenants[0].roleBindings[0]: got {'name': 'x', 'role': 'tenant-admin'}; must name "
     "at least one of groups, users, serviceAccounts"),
    ({"tenants": tenant(roleBindings=[{"role": "tenant-admin", "users": ["u"]}])},
     "gpu-lab:tenants[0].roleBindings[0].name: is not set; every role binding needs a name"),
    ({"tenants": tenant(roleBindings=[{"name": "x", "role": "tenant-admin",
                                       "serviceAccounts": ["a/b/c"]}])},
     "gpu-lab:tenants[0].roleBindings[0].serviceAccounts: got 'a/b/c'; every entry must be "
     "<name> (in the tenant's namespace) or <namespace>/<name>"),
    ({"tenants": tenant(roleBindings=[{"name": "x", "role": "tenant-admin", "users": ["u"]},
                                      {"name": "x", "role": "tenant-admin", "users": ["v"]}])},
     "gpu-lab:tenants[0].roleBindings[1].name: got 'x'; must be unique within the tenant"),
    ({"tenants": tenant(roleBindings=[{"name": "x", "role": "tenant-admin", "user": ["u"]}])},
     "gpu-lab:tenants[0].roleBindings[0].user: got ['u']; unknown field (did you mean "
     "'users'?); known fields: groups, name, role, roleKind, serviceAccounts, users"),
    ({"gpuPools": [{"name": "t4", "labels": {"gpu-lab/pool": "other"}}]},
     "gpu-lab:gpuPools[0].labels.gpu-lab/pool: got 'other'; is a label Kubernetes or gpu-lab "
     "sets itself (kubernetes.io/, k8s.io/, gpu-lab/pool, gpu-lab/accelerator)"),
    ({"gpuPools": [{"name": "t4", "labels": {"node.kubernetes.io/role": "gpu"}}]},
     "gpu-lab:gpuPools[0].labels.node.kubernetes.io/role: got 'gpu'; is a label Kubernetes or "
     "gpu-lab sets itself (kubernetes.io/, k8s.io/, gpu-lab/pool, gpu-lab/accelerator)"),
    ({"gpuPools": [{"name": "t4", "labels": {"gke-no-default-nvidia-gpu-device-plugin":
                                              "false"}}]},
     "gpu-lab:gpuPools[0].labels.gke-no-default-nvidia-gpu-device-plugin: got 'false'; the "
     "pool's settings set it to 'true' (gkeDevicePlugin, gpuOperator)"),
    ({"gpuPools": [{"name": "t4", "labels": {"team": "a b"}}]},
     "gpu-lab:gpuPools[0].labels.team: got 'a b'; must be a Kubernetes label (key: value, e.g. "
     "team: vision)"),
    ({"cluster": {"network": {"firewallRules": [DENY | {"targetTags": ["gpu-lab-pool-t4b"]}]}}},
     "gpu-lab:cluster.network.firewallRules[0].targetTags: got 'gpu-lab-pool-t4b'; every entry "
     "must be the network tag of a GPU pool's nodes: gpu-lab-pool-t4 (did you mean "
     "'gpu-lab-pool-t4'?)"),
    ({"platform": "existing", "cluster": {"network": {"firewallRules": [DENY]}},
      "gpuPools": [{"name": "t4", "nodes": ["w1"]}]},
     "gpu-lab:cluster.network.firewallRules: got ['deny-egress']; only applies to "
     "gpu-lab:platform gke (VPC firewall rules); on existing nothing is created in GCP"),
    ({"cluster": {"network": {"firewallRules": [{"name": "open", "sourceRanges": ["0.0.0.0/0"]}]}}},
     "gpu-lab:cluster.network.firewallRules[0]: got {'name': 'open', 'sourceRanges': "
     "['0.0.0.0/0']}; must have allows or denies (one of them, not both)"),
    ({"cluster": {"network": {"firewallRules": [{"name": "x", "allows": [{"protocol": "tpc"}]}]}}},
     "gpu-lab:cluster.network.firewallRules[0].allows[0].protocol: got 'tpc'; must be one of "
     "all, tcp, udp, icmp, esp, ah, sctp, ipip or an IP protocol number (0-255) (did you mean "
     "'tcp'?)"),
    ({"cluster": {"network": {"firewallRules": [
        {"name": "x", "allows": [{"protocol": "icmp", "ports": ["8"]}]}]}}},
     "gpu-lab:cluster.network.firewallRules[0].allows[0].ports: got ['8']; only tcp, udp and "
     "sctp have ports"),
    ({"cluster": {"network": {"firewallRules": [
        {"name": "x", "allows": [{"protocol": "tcp", "ports": ["80-70000"]}]}]}}},
     "gpu-lab:cluster.network.firewallRules[0].allows[0].ports: got '80-70000'; every entry must "
     "be a port (443) or a range (8000-8100) of ports 1-65535"),
    ({"cluster": {"network": {"firewallRules": [DENY | {"priority": 70000}]}}},
     "gpu-lab:cluster.network.firewallRules[0].priority: got 70000; must be an integer from 0 to "
     "65535"),
    ({"cluster": {"network": {"firewallRules": [DENY | {"destinationRanges": ["0.0.0.0"]}]}}},
     "gpu-lab:cluster.network.firewallRules[0].destinationRanges: got '0.0.0.0'; must be an IPv4 "
     "network with its prefix length, such as 10.10.0.0/20"),
    ({"cluster": {"network": {"firewallRules": [DENY, DENY]}}},
     "gpu-lab:cluster.network.firewallRules[1].name: got 'deny-egress'; must be unique"),
    ({"cluster": {"network": {"firewallRules": [DENY | {"name": "Deny"}]}}},
     "gpu-lab:cluster.network.firewallRules[0].name: got 'Deny'; must be a GCP name: lowercase "
     "letters, digits and '-', starting with a letter and not ending with '-'"),
    ({"workloads": workload(podMetricsEndpoint={"port": "HTTP_metrics"})},
     "gpu-lab:workloads[0].podMetricsEndpoint.port: got 'HTTP_metrics'; must be a container "
     "port name: at most 15 lowercase letters, digits and '-', with at least one letter"),
    ({"workloads": workload(monitorSelector={"app": "a b"})},
     "gpu-lab:workloads[0].monitorSelector.app: got 'a b'; must be a Kubernetes label (key: "
     "value, e.g. app.kubernetes.io/name: infer)"),
    ({"workloads": workload(args="--device cpu")},
     "gpu-lab:workloads[0].args: got '--device cpu'; must be a list of strings (quote numbers: "
     "\"8\")"),
    ({"workloads": workload(env={"OMP_NUM_THREADS": "4"})},
     "gpu-lab:workloads[0].env: got {'OMP_NUM_THREADS': '4'}; must be a list, not an object"),
    ({"workloads": workload(affinity=[])},
     "gpu-lab:workloads[0].affinity: got []; must be an object (a YAML mapping), not a list"),
    ({"workloads": workload(customImage=True)},
     "gpu-lab:workloads[0].customImage: got True; pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime "
     "does not carry infer.py: a custom image is built from workload/Dockerfile (set image to "
     "it)"),
    ({"workloads": workload(imageArchitecture="arm64")},
     "gpu-lab:workloads[0].imageArchitecture: got 'arm64'; "
     "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime is built for amd64 only"),
    ({"workloads": workload(pool="sytem")},
     "gpu-lab:workloads[0].pool: got 'sytem'; must be one of the stack's node pools: t4, system "
     "(did you mean 'system'?)"),
])
def test_new_keys_name_the_key_the_value_and_what_is_allowed(values, message):
    assert problems(**values) == [message]


def test_tenant_roles_are_the_roles_the_tenant_component_creates():
    from components.tenant_rbac import ROLES
    assert TENANT_ROLES == tuple(ROLES)


# -- which checks were relaxed, and which still protect a healthy stack ----------------------

def test_states_the_cluster_judges_are_accepted_as_config():
    """Legal settings the scheduler or the node refuses: the config may say them."""
    spec = load_spec({"gcp:project": "p", "gpu-lab:tenants": [
        {"name": "tenant-a", "gpus": 2, "maxGpusPerPod": 2}, "tenant-b"],
        "gpu-lab:workloads": [
            {"tenant": "tenant-a", "gpus": 2},                          # more than a node has
            {"tenant": "tenant-b", "gpuMemoryGb": 32},                   # more than a T4 has
            {"tenant": "tenant-b", "name": "arm", "gpus": 0, "image": "example.com/a:1",
             "imageArchitecture": "arm64"},                              # another architecture
            {"tenant": "tenant-b", "name": "cpu", "gpus": 0, "pool": "system"}]})
    assert [w.pool for w in spec.workloads] == ["t4", "t4", "t4", "system"]


def test_the_gpu_quota_is_left_to_the_api_server():
    """Workloads that ask more GPUs than their tenant's quota holds are config like any other:
    the API server refuses their pods where the quota charges them (tests/test_tenants.py)."""
    over = [{"tenant": "tenant-a", "replicas": 2}]
    assert load_spec({"gcp:project": "p", "gpu-lab:workloads": over}).workloads[0].replicas == 2
    spec = load_spec({"gcp:project": "p", "gpu-lab:workloads": over, "gpu-lab:tenants": [
        {"name": "tenant-a", "quota": {"hard": {"limits.nvidia.com/gpu": "1"}}}, "tenant-b"]})
    assert spec.workloads[0].replicas == 2
    spec = load_spec({"gcp:project": "p", "gpu-lab:tenants": [{"name": "tenant-a", "gpus": 1}],
                      "gpu-lab:workloads": [{"tenant": "tenant-a"},
                                            {"tenant": "tenant-a", "name": "two"}]})
    assert [w.name for w in spec.workloads] == ["infer", "two"]


def test_typos_and_what_the_tenant_refuses_are_still_errors():
    assert problems(workloads=workload(gpus=2)) == [
        "gpu-lab:workloads[0].gpus: got 2; tenant tenant-a allows at most 1 GPU(s) per pod "
        "(maxGpusPerPod)"]
    assert problems(tenants=[{"name": "tenant-a", "gpus": 9}]) == [
        "gpu-lab:tenants[0].gpus: got 9; exceeds what the GPU pools can ever supply: 2 GPUs "
        "(maxNodes x gpusPerNode summed over gpuPools)"]
