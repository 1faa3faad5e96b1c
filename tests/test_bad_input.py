"""Bad stack config, class by class: each refusal names the key, the value and what is
allowed, exits 2, writes nothing and shows no traceback. No config at all gets a traceback
out of the model or the catalog (a mutation sweep over every shipped stack and scenario)."""

from __future__ import annotations

import copy
import importlib
import re
import runpy
import sys
from pathlib import Path
from typing import Any, Iterator

import pulumi
import pytest
import yaml
from typer.testing import CliRunner

from faults import SCENARIOS, build_spec
from lab.cli import app
from lab.render import _Mocks, render
from model.config import gcp_provider_keys
from model.errors import ConfigError
from model.source import PROJECT_DIR, as_engine_values, read_stack_file
from tests.helpers import NODE_POOL, one, stack_values

runner = CliRunner()
SHIPPED = ("dev", "pairing", "all-faults", "local")


def refused(path: Path, tmp_path: Path, *keys_and_words: str) -> str:
    """Render the file through the CLI; assert a clean refusal and return stderr."""
    out = tmp_path / "resources.json"
    result = runner.invoke(app, ["render", "--config-file", str(path), "--json", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""                   # nothing rendered
    assert not out.exists()
    for text in keys_and_words:
        assert text in result.stderr, result.stderr
    return result.stderr


def stack_file_with(tmp_path: Path, change) -> Path:
    """The dev stack file with its config changed by `change(config)`."""
    config = stack_values("dev")
    change(config)
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


def dev_workload(config: dict, **fields: Any) -> None:
    config["gpu-lab:workloads"] = [{"tenant": "tenant-a", **fields}]


# -- the file itself ----------------------------------------------------------------------

@pytest.mark.parametrize("content, words", [
    ("gpu-lab:tenants: [tenant-a]\ngcp:project: p\n",
     ["gpu-lab:tenants stands at the top level", "go under 'config:'"]),
    ("confg:\n  gcp:project: p\n", ["unknown top-level field 'confg'", "did you mean 'config'"]),
    ("config:\n  gcp:project: p\n  gcp:project: q\n",
     ["'gcp:project' is set twice", "(line 2 column 3 and line 3 column 3)"]),
    ("config:\n  gcp:project: p\n  gpu-lab:cluster:\n    name: a\n    location: b\n    name: c\n",
     ["'name' is set twice", "(line 4 column 5 and line 6 column 5)"]),
    ("config:\n  gcp:project: p\n  gpu-lab:cluster: {name: aaa, name: bbb}\n",
     ["'name' is set twice", "(line 3 column 21 and line 3 column 32)"]),
    (b"config:\n  gcp:project: p\n  gpu-lab:tenants: [caf\xe9]\n",
     ["line 3", "is not UTF-8"]),
    ("config:\n  tenants: [tenant-a]\n  gpu-lab:tenants: [tenant-b]\n",
     ["gpu-lab:tenants is set twice (once as gpu-lab:tenants)"]),
])
def test_the_file_itself(tmp_path, content, words):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    refused(path, tmp_path, str(path), *words)


def test_the_file_reads_as_pulumi_reads_it(tmp_path):
    """A key without a namespace is the project's, <ns>:config:<name> is <ns>:<name>, and YAML
    merge keys work (a key beside one overrides what it merges)."""
    path = tmp_path / "Pulumi.ok.yaml"
    path.write_text("config:\n  gcp:config:project: p\n  tenants:\n"
                    "    - &base {name: tenant-a, gpus: 1, team: recsys}\n"
                    "    - {<<: *base, name: tenant-b, team: vision}\n")
    values = read_stack_file(path)
    assert values == {"gcp:project": "p", "gpu-lab:tenants": [
        {"name": "tenant-a", "gpus": 1, "team": "recsys"},
        {"name": "tenant-b", "gpus": 1, "team": "vision"}]}
    assert [t.team for t in build_spec(values).tenants] == ["recsys", "vision"]


def test_a_directory_as_config_file(tmp_path):
    refused(tmp_path, tmp_path, "is a directory", "Pulumi.<stack>.yaml")


# -- namespaces and keys ------------------------------------------------------------------

@pytest.mark.parametrize("key, words", [
    ("gpulab:tenants", ["unknown config namespace 'gpulab'", "did you mean 'gpu-lab'"]),
    ("gpu_lab:tenants", ["unknown config namespace 'gpu_lab'", "did you mean 'gpu-lab'"]),
    ("gpc:region", ["unknown config namespace 'gpc'", "did you mean 'gcp'"]),
    ("GCP:region", ["unknown config namespace 'GCP'", "did you mean 'gcp'"]),
    ("google:region", ["unknown config namespace 'google'", "did you mean 'gcp'"]),
])
def test_near_miss_namespaces(tmp_path, key, words):
    path = stack_file_with(tmp_path, lambda c: c.update({key: "x"}))
    refused(path, tmp_path, f"{key}: got 'x'", *words)


@pytest.mark.parametrize("key, words", [
    ("gcp:projet", ["not a config key of the gcp provider", "did you mean 'project'"]),
    ("gcp:regoin", ["did you mean 'region'"]),
    ("gcp:location", ["not a config key of the gcp provider"]),
])
def test_unknown_gcp_keys(tmp_path, key, words):
    path = stack_file_with(tmp_path, lambda c: c.update({key: "x"}))
    refused(path, tmp_path, f"{key}: got 'x'", *words)


def test_other_namespaces_are_left_alone():
    """Other providers' settings and what a Pulumi ESC environment brings are not gpu-lab's."""
    assert build_spec(stack_values("dev", **{"aws:region": "eu-west-1", "kubernetes:context":
                                             "kind", "pulumi:tags": {"team": "ml"}}))


def test_the_provider_keys_are_the_installed_providers():
    """model/gcp_provider_keys.txt is the pinned pulumi-gcp's own list of config keys."""
    importlib.import_module("pulumi_gcp.config").region     # loads the lazy module
    provider_config = type(sys.modules["pulumi_gcp.config"])   # its class of properties
    installed = {re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)
                 for name, value in vars(provider_config).items() if isinstance(value, property)}
    assert installed == set(gcp_provider_keys())
    # Keys a stack really sets are in it: gpu-lab accepts every one of them.
    assert build_spec(stack_values("dev", **{
        "gcp:zone": "us-central1-a", "gcp:defaultLabels": {"team": "ml"},
        "gcp:impersonateServiceAccount": "deployer@acme-ml.iam.gserviceaccount.com"}))


# -- networks -----------------------------------------------------------------------------

def network(**fields: Any):
    return lambda c: c["gpu-lab:cluster"].setdefault("network", {}).update(fields)


@pytest.mark.parametrize("change, key, words", [
    (network(subnetCidr="10.10.0.0"), "network.subnetCidr", ["with its prefix length"]),
    (network(podsCidr="10.20.0.1/14"), "network.podsCidr", ["host bits set",
                                                            "the network is 10.20.0.0/14"]),
    (network(servicesCidr="fd00::/108"), "network.servicesCidr", ["IPv6 is not used here"]),
    (network(masterCidr="172.16.0.0/24"), "network.masterCidr", ["must be a /28"]),
    (network(podsCidr="10.10.0.0/16"), "network.podsCidr",
     ["overlaps gpu-lab:cluster.network.subnetCidr (10.10.0.0/20)"]),
    (network(masterCidr="10.24.0.16/28"), "network.masterCidr",
     ["overlaps gpu-lab:cluster.network.servicesCidr"]),
    (lambda c: c["gpu-lab:cluster"].update(masterAuthorizedCidrs=["203.0.113.7"]),
     "masterAuthorizedCidrs", ["with its prefix length"]),
])
def test_networks(tmp_path, change, key, words):
    refused(stack_file_with(tmp_path, change), tmp_path, f"gpu-lab:cluster.{key}: got", *words)


# -- names and labels ---------------------------------------------------------------------

def tenant_a(**fields: Any):
    return lambda c: c["gpu-lab:tenants"][0].update(fields)


@pytest.mark.parametrize("change, key, words", [
    (lambda c: c.update({"gpu-lab:systemPool": {"machineType": "E2-Standard-4"}}),
     "gpu-lab:systemPool.machineType", ["lowercase: e2-standard-4"]),
    (lambda c: c["gpu-lab:gpuPools"][0].update(machineType="n1-standard-3"),
     "gpu-lab:gpuPools[0].machineType", ["n1-standard comes with 1, 2, 4, 8"]),
    (lambda c: c.update({"gpu-lab:systemPool": {"machineType": "e2-highmem-32"}}),
     "gpu-lab:systemPool.machineType", ["e2-highmem comes with 2, 4, 8, 16 vCPUs"]),
    (tenant_a(name="kube-team"), "gpu-lab:tenants[0].name", ["reserved: kube-*"]),
    (tenant_a(team="t" * 64), "gpu-lab:tenants[0].team", ["at most 63 characters"]),
    (tenant_a(costCenter="cc 42"), "gpu-lab:tenants[0].costCenter",
     ["must be a Kubernetes label value"]),
    (tenant_a(gcpServiceAccount="infer@gmail.com"), "gpu-lab:tenants[0].gcpServiceAccount",
     ["service account's e-mail"]),
    (tenant_a(gcpServiceAccount="ml@ml-models.iam.gserviceaccount.com"),
     "gpu-lab:tenants[0].gcpServiceAccount", ["service account's e-mail"]),   # id under 6
    (lambda c: c["gpu-lab:cluster"].update(rbacSecurityGroup="admins@example.com"),
     "gpu-lab:cluster.rbacSecurityGroup", ["must be gke-security-groups@<your domain>"]),
    (lambda c: c["gpu-lab:gpuPools"][0].update(accelerator=""),
     "gpu-lab:gpuPools[0].accelerator", ["must not be empty"]),
])
def test_names_and_labels(tmp_path, change, key, words):
    refused(stack_file_with(tmp_path, change), tmp_path, f"{key}: got", *words)


def test_label_values_kubernetes_accepts_are_accepted():
    spec = build_spec(stack_values("dev", **{"gpu-lab:tenants": [
        {"name": "tenant-a", "team": "ML_Platform.v2", "costCenter": "CC-42"}, "tenant-b"]}))
    assert (spec.tenants[0].team, spec.tenants[0].cost_center) == ("ML_Platform.v2", "CC-42")


# -- fit ----------------------------------------------------------------------------------

@pytest.mark.parametrize("change, key, words", [
    # n1-standard-4: 4 vCPUs, 15 GiB; GKE leaves 3.92 CPU and 15 - (1 + 0.8 + 0.7) GiB - 100 MiB
    # = 12.40 GiB to pods (model/machines.py).
    (lambda c: dev_workload(c, cpu="4"), "gpu-lab:workloads[0].cpu",
     ["a node of pool t4 (n1-standard-4) can allocate 3.92 cpu"]),
    (lambda c: dev_workload(c, memory="14Gi"), "gpu-lab:workloads[0].memory",
     ["a node of pool t4 (n1-standard-4) can allocate 12.40Gi memory"]),
    (lambda c: dev_workload(c, pool="system", gpus=0, cpu="4"), "gpu-lab:workloads[0].cpu",
     ["a node of pool system (e2-standard-4)"]),
    # The quota counts limits, replicas included: 3 x 4Gi against tenant-a's 8Gi.
    (lambda c: (tenant_a(memory="8Gi")(c), dev_workload(c, gpus=0, replicas=3)),
     "gpu-lab:workloads[0].memory", ["its pods need 12.00Gi memory", "memory quota is 8Gi"]),
    (lambda c: (tenant_a(cpu="1500m")(c),
                c.update({"gpu-lab:workloads": [{"tenant": "tenant-a", "gpus": 0},
                                                {"tenant": "tenant-a", "name": "batch",
                                                 "gpus": 0}]})),
     "gpu-lab:workloads", ["together they need 2 cpu", "cpu quota is 1500m"]),
])
def test_fit(tmp_path, change, key, words):
    refused(stack_file_with(tmp_path, change), tmp_path, f"{key}: got", *words)


def test_the_install_container_counts_where_it_is_larger():
    """A 100m app container with the install init container (limits 500m) counts 500m a pod:
    the quota evaluator takes the larger of init and app containers (kube/pod_resources.py)."""
    values = stack_values("dev", **{"gpu-lab:tenants": [{"name": "tenant-a", "cpu": "1"},
                                                         "tenant-b"],
                                    "gpu-lab:workloads": [{"tenant": "tenant-a", "gpus": 0,
                                                           "cpu": "100m", "replicas": 3}]})
    with pytest.raises(ConfigError, match=r"its pods need 1.5 cpu"):
        build_spec(values)
    values["gpu-lab:workloads"][0]["replicas"] = 2
    assert build_spec(values).workloads[0].replicas == 2


@pytest.mark.parametrize("workload", [
    {"tenant": "tenant-a", "gpus": 0, "cpu": "100m", "memory": "128Mi"},   # init is larger
    {"tenant": "tenant-a", "cpu": "2", "memory": "6Gi"},                   # app is larger
    {"tenant": "tenant-a", "cpu": "300m", "memory": "1Gi", "customImage": True,
     "image": "registry.example.com/infer:1"},                             # no init container
])
def test_the_models_footprint_is_what_the_quota_evaluator_counts(workload):
    """pod_footprint (model/workloads.py) against the rendered pod, summed by the port of
    upstream's PodRequests/PodLimits (kube/pod_resources.py, from
    k8s.io/component-helpers/resource/helpers.go, tested in test_upstream_admission.py)."""
    from kube.pod_resources import pod_limits, pod_requests
    from model.workloads import pod_footprint

    values = stack_values("dev", **{"gpu-lab:workloads": [workload]})
    spec = build_spec(values)
    deployment = next(r for r in render(values, stack="test").of_type(
        "kubernetes:apps/v1:Deployment"))
    pod_spec = deployment.inputs["spec"]["template"]["spec"]
    footprint = pod_footprint(spec.workloads[0])
    for resource in ("cpu", "memory"):
        assert pod_requests(pod_spec)[resource] == footprint[f"requests.{resource}"]
        assert pod_limits(pod_spec)[resource] == footprint[f"limits.{resource}"]


# -- faults and scenarios -----------------------------------------------------------------

@pytest.mark.parametrize("change, key, words", [
    (lambda c: c.update({"gpu-lab:scenario": "pairing", "gpu-lab:faults": "cpu-fallback"}),
     "gpu-lab:faults", ["must be a list of fault ids"]),
    (lambda c: c.update({"gpu-lab:faults": "cpu-fallback", "gpu-lab:allowFaults": True}),
     "gpu-lab:faults", ["must be a list of fault ids"]),
    (lambda c: c.update({"gpu-lab:faults": "[cpu-fallback", "gpu-lab:allowFaults": True}),
     "gpu-lab:faults", ["must be a list of fault ids"]),
    (lambda c: (tenant_a(developerGroups=[])(c),
                c.update({"gpu-lab:faults": ["rbac-cross-tenant-read"],
                          "gpu-lab:allowFaults": True})),
     "gpu-lab:faults[0].reader", ["needs a tenant with developerGroups"]),
])
def test_faults_and_scenarios(tmp_path, change, key, words):
    refused(stack_file_with(tmp_path, change), tmp_path, f"{key}: got", *words)


# -- add-ons ------------------------------------------------------------------------------

def test_time_slicing_without_the_operator_is_gkes_time_sharing():
    """With the GPU Operator off, timeSlicing configures GKE's GPU time-sharing on the pool;
    the nodes advertise gpusPerNode x N and quotas are counted in those units."""
    values = stack_values("dev", **{
        "gpu-lab:addons": {"gpuOperator": {"enabled": False, "timeSlicing": 3}},
        "gpu-lab:tenants": [{"name": "tenant-a", "gpus": 6}, {"name": "tenant-b", "gpus": 1}]})
    rendering = render(values, stack="test")
    pool = one(rendering, NODE_POOL, name="t4")
    accelerator = pool.inputs["nodeConfig"]["guestAccelerators"][0]
    assert accelerator["gpuSharingConfig"] == {"gpuSharingStrategy": "TIME_SHARING",
                                               "maxSharedClientsPerGpu": 3}
    # maxNodes 2 x 1 GPU x 3 clients: a quota of 6 is what the pool can supply, 7 is not.
    values["gpu-lab:tenants"][0]["gpus"] = 7
    with pytest.raises(ConfigError, match=r"tenants\[0\].gpus: got 7; exceeds what the GPU "
                                          r"pools can ever supply: 6 GPUs"):
        build_spec(values)


def test_operator_pools_keep_time_slicing_to_the_operator():
    rendering = render(stack_values("dev", **{
        "gpu-lab:addons": {"gpuOperator": {"timeSlicing": 3}}}), stack="test")
    accelerator = one(rendering, NODE_POOL, name="t4").inputs["nodeConfig"][
        "guestAccelerators"][0]
    assert "gpuSharingConfig" not in accelerator


@pytest.mark.parametrize("change, key, words", [
    (lambda c: c.update({"gpu-lab:addons": {"gpuOperator": {"enabled": False,
                                                            "timeSlicing": 49}}}),
     "gpu-lab:addons.gpuOperator.timeSlicing", ["at most 48 containers"]),
    (lambda c: (c.update({"gpu-lab:addons": {"gpuOperator": {"enabled": False,
                                                             "timeSlicing": 4}}}),
                tenant_a(gpus=2)(c), dev_workload(c, gpus=2)),
     "gpu-lab:workloads[0].gpus", ["at most 1 nvidia.com/gpu"]),
])
def test_addons(tmp_path, change, key, words):
    refused(stack_file_with(tmp_path, change), tmp_path, f"{key}: got", *words)


# -- the program: a refusal is one message, not a traceback --------------------------------

@pytest.mark.parametrize("program", [PROJECT_DIR / "__main__.py", "handout"])
def test_the_program_refuses_bad_config_with_one_message(tmp_path, program):
    """`pulumi up` prints a RunError as its message alone; any other exception comes with
    the program's traceback."""
    if program == "handout":
        from lab.handout import write_handout
        write_handout(stack_values("dev"), "dev", tmp_path / "handout")
        program = tmp_path / "handout" / "__main__.py"
    pulumi.runtime.set_mocks(_Mocks(), project="gpu-lab", stack="bad", preview=False)
    pulumi.runtime.set_all_config(as_engine_values({"gcp:project": "p",
                                                    "gpu-lab:tenants": [{"name": "kube-x"}]}))
    try:
        with pytest.raises(pulumi.RunError, match=r"gpu-lab:tenants\[0\].name: got 'kube-x'"):
            runpy.run_path(str(program), run_name="__pulumi_program__")
    finally:
        pulumi.runtime.set_all_config({})


# -- no config gets a traceback -----------------------------------------------------------

# Values of every type and shape a hand-written stack file or `pulumi config set` produces.
MUTANTS = (None, "", " ", "x", "N1-Standard-4", "10.0.0.1", "a" * 100, 0, -1, 1.5, 10 ** 12,
           True, [], ["x"], [None], {}, {"x": 1})


def _paths(value: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, path + (index,))


def _mutated(values: dict, key: str, path: tuple, new: Any) -> dict:
    out = copy.deepcopy(values)
    if not path:
        out[key] = new
        return out
    node = out[key]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return out


def _sources() -> Iterator[tuple[str, dict]]:
    for stack in SHIPPED:
        yield stack, stack_values(stack)
    for name in SCENARIOS:
        yield f"scenario {name}", {"gcp:project": "p", "gpu-lab:scenario": name,
                                   "gpu-lab:allowFaults": True, "gpu-lab:faults": []}


def _sweep(values: dict) -> Iterator[dict]:
    """Every value of the config replaced, at every depth, by every mutant; and an unknown
    field added to every mapping."""
    for key in values:
        for path in _paths(values[key]):
            for mutant in MUTANTS:
                yield _mutated(values, key, path, mutant)


@pytest.mark.parametrize("name, values", list(_sources()), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_no_config_gets_a_traceback(name, values):
    """Every mutation of every shipped stack and scenario, as a stack file has it and as the
    Pulumi engine hands it over, is either built or refused with ConfigError whose every
    problem names a key of the stack."""
    built = refused_count = 0
    for mutated in _sweep(values):
        for form in (mutated, as_engine_values(mutated)):
            try:
                build_spec(form, stack="sweep")
                built += 1
            except ConfigError as err:
                refused_count += 1
                for problem in err.problems:
                    assert problem.key.split(":")[0] in {"gpu-lab", "gcp"} or \
                        problem.key in form, problem
                    # Refused by a check, not by the boundaries that catch the unforeseen.
                    assert "gpu-lab cannot read it" not in problem.allowed, problem
                    assert "cannot be baked into this stack" not in problem.allowed, problem
    assert refused_count > built > 0


def test_accepted_mutations_of_the_dev_stack_render():
    """What the model accepts, the components render: the dev stack's accepted mutations,
    one per (key, mutant type), through the whole program."""
    base = stack_values("dev")
    seen: set[tuple] = set()
    rendered = 0
    for key in base:
        for path in _paths(base[key]):
            for mutant in MUTANTS:
                mutated = _mutated(base, key, path, mutant)
                kind = (key, len(path), type(mutant).__name__)
                if kind in seen:
                    continue
                try:
                    build_spec(mutated, stack="sweep")
                except ConfigError:
                    continue
                seen.add(kind)
                render(mutated, stack="sweep")
                rendered += 1
    assert rendered > 5


def test_an_unforeseen_failure_still_names_its_key(monkeypatch):
    """The boundary of load_spec: an exception no check foresaw leaves as a ConfigError naming
    the key without which the config reads."""
    import model.config

    original = model.config._addons

    def addons_that_trip_on_monitoring(f):
        if f.has("monitoring"):
            raise ZeroDivisionError("division by zero")
        return original(f)

    monkeypatch.setattr(model.config, "_addons", addons_that_trip_on_monitoring)
    values = stack_values("dev", **{"gpu-lab:addons": {"monitoring": {"retention": "3d"}}})
    with pytest.raises(ConfigError) as err:
        build_spec(values)
    assert err.value.keys() == ["gpu-lab:addons"]
    assert "ZeroDivisionError: division by zero" in str(err.value)
