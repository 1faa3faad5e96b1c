"""Grading the candidate's fix, fault by fault: the guide's fix is fixed, a different valid fix
is fixed, a fix that removes the symptom by breaking something else is reported as
collateral (exit 1), the untouched fault is present. Judged through the snapshot source
(`lab verify --snapshot`), through the live source against the fake API server where the
state lives in pods, events and logs, and through the candidate's edited handout.

Each stack is the all-faults baseline with one fault (as tests/test_faults.py). A state is
what the cluster holds after a fix: the stack's objects and nodes after the candidate's
change (to the code and config, rendered like their handout; or to objects, as kubectl
would), and the pods the twin says those objects run, as the API server shows them."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest
import yaml
from typer.testing import CliRunner

from faults import build_spec
from kube.images import NGC_PYTORCH
from kube.nodes import nodes_from_spec
from kube.objects import ObjectSet
from kube.prometheus_platform import created_at_run_time
from kube.twin import simulate
from lab import grading, snapshot
from lab.cli import app
from lab.handout import stack_config, write_handout
from lab.render import render
from lab.verify import FIXED, PRESENT, UNKNOWN
from tests.helpers import catalog_refs, stack_values

ALL = stack_values("all-faults")
BASELINE = {k: v for k, v in ALL.items() if k != "gpu-lab:faults"}
REFS = {(r if isinstance(r, str) else r["id"]): r for r in catalog_refs()}
NOT_IN_A_CLUSTER = ("HelmRelease", "GcpFirewall")
runner = CliRunner()


# -- states ---------------------------------------------------------------------------------

@dataclass
class State:
    """What a cluster holds: objects (with the Helm releases and firewall rules the twin and
    the nodes need, which kubectl does not show) and nodes, the spec its pools come from."""
    spec: object
    objects: list[dict]
    nodes: Optional[list[dict]] = None

    def __post_init__(self):
        if self.nodes is None:
            self.nodes = nodes_from_spec(self.spec, ObjectSet(self.objects))

    def cluster(self) -> tuple[list[dict], dict]:
        """Every object `kubectl get -A -o yaml` would print, pods as the twin runs them,
        and the previous logs of their failed containers."""
        objects = ObjectSet(self.objects)
        views = simulate(self.spec, objects, self.nodes)
        pods, logs = snapshot.twin_objects(views, objects)
        shown = [o for o in self.objects if o["kind"] not in NOT_IN_A_CLUSTER]
        return shown + created_at_run_time(objects) + self.nodes + pods, logs


class Stack:
    """The all-faults baseline with one fault: its stack file, rendering and plain config."""

    def __init__(self, fault_id: str, directory: Path):
        self.fault = fault_id
        # tests/test_faults.py's stack name: the suite renders each of these stacks once.
        self.name = "test"
        self.values = {**BASELINE, "gpu-lab:faults": [REFS[fault_id]]}
        (directory / fault_id).mkdir()
        self.file = directory / fault_id / f"Pulumi.{self.name}.yaml"
        self.file.write_text(yaml.safe_dump({"config": self.values}, sort_keys=False))
        self.reference = grading.reference(self.values, self.name)    # as the CLI's, cached
        self.spec = self.reference.untouched.spec
        self.untouched = State(self.spec, self.reference.untouched.objects.objects)

    def config(self) -> dict:
        """The stack as plain settings: what the candidate's handout config says."""
        return copy.deepcopy(stack_config(self.spec))

    def after_config(self, change: Callable[[dict], None]) -> State:
        """The candidate changed the code's config and ran `pulumi up`."""
        config = self.config()
        change(config)
        spec = build_spec(config, stack=self.name)
        return State(spec, render(config, stack=self.name).check_objects())

    def after_objects(self, change: Callable[[list[dict]], Optional[list[dict]]],
                      base: Optional[State] = None) -> State:
        """The candidate changed objects in the cluster (kubectl edit, apply, delete)."""
        base = base or self.untouched
        objects = copy.deepcopy(base.objects)
        objects = change(objects) or objects
        return State(base.spec, objects)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    directory = tmp_path_factory.mktemp("stacks")
    made: dict[str, Stack] = {}

    def get(fault_id: str) -> Stack:
        if fault_id not in made:
            made[fault_id] = Stack(fault_id, directory)
        return made[fault_id]
    return get


# -- editing config and objects ------------------------------------------------------------

def named(items: list[dict], **where) -> dict:
    [found] = [i for i in items if all(i.get(k) == v for k, v in where.items())]
    return found


def workload(config: dict, ref: str) -> dict:
    tenant, name = ref.split("/")
    return named(config["gpu-lab:workloads"], tenant=tenant, name=name)


def tenant(config: dict, name: str) -> dict:
    return named(config["gpu-lab:tenants"], name=name)


def pool(config: dict, name: str) -> dict:
    return named(config["gpu-lab:gpuPools"], name=name)


def obj(objects: list[dict], kind: str, namespace: Optional[str], name: str) -> dict:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name
               and o["metadata"].get("namespace") == namespace]
    return found


def template(objects: list[dict], namespace: str, name: str) -> dict:
    controller = [o for o in objects if o["kind"] in ("Deployment", "Job")
                  and (o["metadata"]["namespace"], o["metadata"]["name"]) == (namespace, name)]
    return controller[0]["spec"]["template"]["spec"]


def without(objects: list[dict], kind: str, namespace: str, name: Optional[str] = None):
    return [o for o in objects if not (o["kind"] == kind and
                                       o["metadata"].get("namespace") == namespace and
                                       name in (None, o["metadata"]["name"]))]


def drop_gpu_request(objects, namespace, name):
    for container in template(objects, namespace, name)["containers"]:
        for kind in ("requests", "limits"):
            container["resources"][kind].pop("nvidia.com/gpu", None)


def no_firewall_deny(objects):
    return [o for o in objects if not (o["kind"] == "GcpFirewall" and o["spec"].get("denies"))]


def cluster_admin_for(subject: dict, name: str) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name}, "subjects": [subject],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "cluster-admin"}}


def set_(target: dict, **values) -> None:
    target.update(values)


def without_option(target: dict, flag: str) -> None:
    """Drop an option and its value from a workload's args."""
    args, kept = target.get("args", []), []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(flag + "="):
            kept.append(arg)
    target["args"] = kept


def with_option(target: dict, flag: str, value: str) -> None:
    """A workload's args with the option set to value (dropped first, then appended)."""
    without_option(target, flag)
    target["args"] += [flag, value]


def observability_back(config: dict) -> None:
    """The guide's fix of tenant-observability-broken: the PodMonitor scrapes the port the
    container names, and infer.py logs to stdout."""
    obs = workload(config, "tenant-a/rerank")
    obs["podMetricsEndpoint"]["port"] = "metrics"
    without_option(obs, "--log-file")


def spread_like_the_others(config: dict) -> None:
    """The guide's fix of unbalanced-scheduling: tenant-b/infer's topologySpreadConstraints,
    selecting pinned's own pods, instead of the required podAffinity."""
    spread = copy.deepcopy(workload(config, "tenant-b/infer")["topologySpreadConstraints"])
    for constraint in spread:
        constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] = "segment"
    pinned = workload(config, "tenant-b/segment")
    assert pinned["topologySpreadConstraints"] == [] and "podAffinity" in pinned["affinity"]
    pinned["topologySpreadConstraints"] = spread
    del pinned["affinity"]


# -- the matrix: per fault, the guide's fix, another valid fix, a fix that breaks something ---

def gke_gpu_stack(pool_config):
    """GKE's own driver and device plugin on a pool, the GPU Operator's operands off it."""
    pool_config.update(gpuOperator=False, gkeDevicePlugin=True, driverVersion="LATEST")


def rename_quota_entry(tenant_config: dict, old: str, new: str) -> None:
    """The quota.hard entry `old` under the name `new`, in the same place."""
    hard = tenant_config["quota"]["hard"]
    tenant_config["quota"]["hard"] = {new if key == old else key: value
                                      for key, value in hard.items()}


def without_deny_egress(config: dict) -> None:
    network = config["gpu-lab:cluster"]["network"]
    network["firewallRules"] = [rule for rule in network.get("firewallRules", [])
                                if not rule["name"].startswith("deny-egress-")]


def operator_off_gke_plugin_everywhere(config):
    for pool_config in config["gpu-lab:gpuPools"]:
        gke_gpu_stack(pool_config)
    config["gpu-lab:addons"]["gpuOperator"]["enabled"] = False


def quota_second_line_and_scaled(objects):
    objects.append({"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "gpu", "namespace": "tenant-b"},
                    "spec": {"hard": {"requests.nvidia.com/gpu": "5"}}})
    obj(objects, "Deployment", "tenant-b", "infer")["spec"]["replicas"] = 1


def quota_key_fixed_and_scaled_to_zero(objects):
    hard = obj(objects, "ResourceQuota", "tenant-b", "compute")["spec"]["hard"]
    hard["requests.nvidia.com/gpu"] = hard.pop("limits.nvidia.com/gpu")
    obj(objects, "Deployment", "tenant-b", "infer")["spec"]["replicas"] = 0


def scraped_by_service_monitor_and_stdout(objects):
    objects.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                    "metadata": {"name": "rerank", "namespace": "tenant-a"},
                    "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "rerank"}},
                             "endpoints": [{"port": "metrics", "path": "/metrics"}]}})
    container = template(objects, "tenant-a", "rerank")["containers"][0]
    container["args"] = ["/dev/stdout" if a == "/tmp/infer.log" else a for a in container["args"]]


def obs_deleted(objects):
    for kind in ("Deployment", "Service", "PodMonitor", "ConfigMap"):
        objects = [o for o in objects if not (o["kind"] == kind and
                                              o["metadata"].get("namespace") == "tenant-a" and
                                              o["metadata"]["name"].startswith("rerank"))]
    return objects


# Made by hand as the GPU Operator would make it: in its namespace under the name the
# platform exempts from the namespace label, keeping the exporter's namespace and pod labels.
DCGM_MONITOR = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                "metadata": {"name": "nvidia-dcgm-exporter", "namespace": "gpu-operator"},
                "spec": {"selector": {"matchLabels": {"app": "nvidia-dcgm-exporter"}},
                         "endpoints": [{"port": "gpu-metrics", "interval": "15s",
                                        "honorLabels": True}]}}


def dcgm_by_hand(objects):
    objects.append(copy.deepcopy(DCGM_MONITOR))


def dcgm_by_hand_and_prometheus_admin(objects):
    dcgm_by_hand(objects)
    objects.append(cluster_admin_for({"kind": "ServiceAccount", "namespace": "monitoring",
                                      "name": "kube-prometheus-stack-prometheus"},
                                     "prometheus-admin"))


def anti_affinity(objects):
    spec = template(objects, "tenant-b", "segment")
    spec["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {
            "topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "segment"}}}}]}}


def allow_all_egress(objects):
    objects = no_firewall_deny(objects)
    objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "allow-all-egress", "namespace": "tenant-c"},
                    "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}})
    return objects


def no_policies_no_firewall(objects):
    return without(no_firewall_deny(objects), "NetworkPolicy", "tenant-c")


def second_binding_for_ci(objects):
    objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": "job-submitter-ci", "namespace": "tenant-a"},
                    "subjects": [{"kind": "ServiceAccount", "name": "job-submitter",
                                  "namespace": "tenant-a"}],
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                "name": "job-submitter"}})


def ci_cluster_admin(objects):
    objects.append(cluster_admin_for({"kind": "ServiceAccount", "namespace": "tenant-a",
                                      "name": "job-submitter"}, "ci-admin"))


def on_a100(config):
    config["gpu-lab:gpuPools"].append({"name": "a100", "accelerator": "nvidia-tesla-a100",
                                       "machineType": "a2-highgpu-1g", "gpusPerNode": 1,
                                       "minNodes": 0, "maxNodes": 1, "spot": True})
    workload(config, "tenant-a/finetune")["pool"] = "a100"


def on_accelerator_label(objects):
    template(objects, "tenant-b", "detect")["nodeSelector"] = {
        "gpu-lab/accelerator": "nvidia-tesla-t4"}


# fault id -> {kind: (how, change, collateral check expected or None)}
Fix = tuple[str, Callable, Optional[str]]
MATRIX: dict[str, dict[str, Fix]] = {
    "gpu-device-plugin-missing": {
        "guide": ("config", lambda c: pool(c, "t4-spare").pop("labels"), None),
        "other": ("config", lambda c: gke_gpu_stack(pool(c, "t4-spare")), None),
        "breaking": ("config", operator_off_gke_plugin_everywhere, "dcgm-not-scraped"),
    },
    "rbac-cross-tenant-read": {
        "guide": ("config", lambda c: set_(tenant(c, "tenant-b"), roleBindings=[
            b for b in tenant(c, "tenant-b")["roleBindings"] if b["name"] != "dashboard-viewers"]),
            None),
        "other": ("objects", lambda o: set_(obj(o, "RoleBinding", "tenant-b", "dashboard-viewers"),
                                            subjects=[{"kind": "Group", "name":
                                                       "tenant-b-developers@example.com"}]),
                  None),
        "breaking": ("objects", lambda o: without(o, "RoleBinding", "tenant-b"), "access-lost"),
    },
    "gpu-quota-ineffective": {
        "guide": ("config", lambda c: (rename_quota_entry(tenant(c, "tenant-b"),
                                                          "limits.nvidia.com/gpu",
                                                          "requests.nvidia.com/gpu"),
                                       set_(workload(c, "tenant-b/infer"), replicas=1)), None),
        "other": ("objects", quota_second_line_and_scaled, None),
        "breaking": ("objects", quota_key_fixed_and_scaled_to_zero, "workload-removed"),
    },
    "tenant-observability-broken": {
        "guide": ("config", observability_back, None),
        "other": ("objects", scraped_by_service_monitor_and_stdout, None),
        "breaking": ("objects", obs_deleted, "workload-removed"),
    },
    "dcgm-metrics-missing": {
        "guide": ("config", lambda c: set_(c["gpu-lab:addons"]["gpuOperator"],
                                           serviceMonitor=True), None),
        "other": ("objects", dcgm_by_hand, None),
        "breaking": ("objects", dcgm_by_hand_and_prometheus_admin, "access-gained"),
    },
    "arm64-image": {
        "guide": ("config", lambda c: set_(workload(c, "tenant-a/batch"),
                                           image="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                                           imageArchitecture="amd64"), None),
        "other": ("config", lambda c: set_(workload(c, "tenant-a/batch"), image=NGC_PYTORCH,
                                           imageArchitecture="amd64"), None),
        "breaking": ("objects", lambda o: without(o, "Job", "tenant-a", "batch"),
                     "workload-removed"),
    },
    "gpu-pod-on-cpu-pool": {
        "guide": ("config", lambda c: set_(workload(c, "tenant-b/detect"), pool="t4"), None),
        "other": ("objects", on_accelerator_label, None),
        "breaking": ("objects", lambda o: drop_gpu_request(o, "tenant-b", "detect"),
                     "workload-gpus"),
    },
    "gpu-request-exceeds-node": {
        "guide": ("config", lambda c: set_(workload(c, "tenant-a/summarize"), gpus=1), None),
        "other": ("config", lambda c: set_(pool(c, "t4"), machineType="n1-standard-8",
                                           gpusPerNode=2), None),
        "breaking": ("objects", lambda o: drop_gpu_request(o, "tenant-a", "summarize"),
                     "workload-gpus"),
    },
    "gpu-memory-oom": {
        "guide": ("config", lambda c: set_(workload(c, "tenant-a/finetune"), gpuMemoryGb=12), None),
        "other": ("config", on_a100, None),
        "breaking": ("config", lambda c: with_option(workload(c, "tenant-a/finetune"), "--device",
                                                     "cpu"), "gpu-held-on-cpu"),
    },
    "cpu-fallback": {
        "guide": ("config", lambda c: without_option(workload(c, "tenant-a/infer"), "--device"),
                  None),
        "other": ("config", lambda c: with_option(workload(c, "tenant-a/infer"), "--device",
                                                  "cuda"), None),
        "breaking": ("objects", lambda o: drop_gpu_request(o, "tenant-a", "infer"),
                     "workload-gpus"),
    },
    "unbalanced-scheduling": {
        "guide": ("config", spread_like_the_others, None),
        "other": ("objects", anti_affinity, None),
        "breaking": ("objects", lambda o: without(o, "Deployment", "tenant-b", "segment"),
                     "workload-removed"),
    },
    "egress-blocked": {
        "guide": ("config", lambda c: (tenant(c, "tenant-c").pop("egress"),
                                       without_deny_egress(c)), None),
        "other": ("objects", allow_all_egress, None),
        "breaking": ("objects", no_policies_no_firewall, "network-isolation"),
    },
    "job-submitter-forbidden": {
        "guide": ("config", lambda c: set_(named(tenant(c, "tenant-a")["roleBindings"],
                                                 name="job-submitter"),
                                           serviceAccounts=["job-submitter"]), None),
        "other": ("objects", second_binding_for_ci, None),
        "breaking": ("objects", ci_cluster_admin, "access-gained"),
    },
}


def state_after(stack: Stack, kind: str) -> State:
    if kind == "untouched":
        return stack.untouched
    how, change, _ = MATRIX[stack.fault][kind]
    return stack.after_config(change) if how == "config" else stack.after_objects(change)


# -- sources --------------------------------------------------------------------------------

def verify_snapshot(stack: Stack, state: State, directory: Path) -> tuple[int, dict, str]:
    objects, logs = state.cluster()
    path = snapshot.write(directory / f"{stack.fault}.json", objects, logs)   # as -o json
    result = runner.invoke(app, ["verify", "--config-file", str(stack.file), "--snapshot",
                                 str(path), "--json"])
    return result.exit_code, (json.loads(result.output) if result.exit_code in (0, 1) else {}), \
        result.output


def verify_live(stack: Stack, state: State, directory: Path) -> tuple[int, dict, str]:
    from tests.fake_kube_api import FakeKubeAPI
    objects, logs = state.cluster()
    with FakeKubeAPI(objects, logs) as api:
        kubeconfig = directory / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(api.kubeconfig()))
        result = runner.invoke(app, ["verify", "--config-file", str(stack.file),
                                     "--kubeconfig", str(kubeconfig), "--json"])
    return result.exit_code, (json.loads(result.output) if result.exit_code in (0, 1) else {}), \
        result.output


def check_row(stack: Stack, kind: str, code: int, data: dict, output: str) -> dict:
    """The row's verdict for its fault, asserted against what the matrix says."""
    assert code in (0, 1), output
    [verdict] = [v for v in data["verdicts"] if v["fault"] == stack.fault]
    checks = {c["check"] for c in data["collateral"]}
    where = f"{stack.fault} {kind}: {verdict} {data['collateral']}"
    if kind == "untouched":
        assert verdict["status"] == PRESENT, where
        assert data["collateral"] == [] and code == 1, where
    elif kind in ("guide", "other"):
        assert verdict["status"] == FIXED, where
        assert data["collateral"] == [] and code == 0, where
    else:
        expected = MATRIX[stack.fault][kind][2]
        assert expected in checks and code == 1, where
        assert verdict["status"] != PRESENT, where
    return verdict


ROWS = [(fault, kind) for fault in MATRIX for kind in ("untouched", "guide", "other", "breaking")]


@pytest.mark.parametrize("fault,kind", ROWS, ids=[f"{f}-{k}" for f, k in ROWS])
def test_matrix_through_a_snapshot(stacks, tmp_path, fault, kind):
    stack = stacks(fault)
    check_row(stack, kind, *verify_snapshot(stack, state_after(stack, kind), tmp_path))


# The faults whose state lives in pods, events and logs (a Job that completes, a CUDA OOM in
# the previous container's log, image pulls that time out, GPUs held by running pods).
LIVE = ["arm64-image", "gpu-memory-oom", "egress-blocked", "gpu-quota-ineffective"]
LIVE_ROWS = [(fault, kind) for fault in LIVE for kind in ("untouched", "guide", "breaking")]


@pytest.mark.parametrize("fault,kind", LIVE_ROWS, ids=[f"{f}-{k}" for f, k in LIVE_ROWS])
def test_matrix_live_against_the_fake_api_server(stacks, tmp_path, fault, kind):
    stack = stacks(fault)
    verdict = check_row(stack, kind, *verify_live(stack, state_after(stack, kind), tmp_path))
    if fault == "gpu-memory-oom" and kind == "untouched":
        assert "CUDA out of memory" in verdict["evidence"]       # from the previous log
    if fault == "arm64-image" and kind == "guide":
        assert "Completed" in verdict["evidence"]


def test_every_fault_has_its_rows():
    from faults import FAULTS
    assert set(MATRIX) == set(FAULTS)
    assert all(set(fixes) == {"guide", "other", "breaking"} for fixes in MATRIX.values())


# -- the candidate's handout ----------------------------------------------------------------

@pytest.fixture(scope="module")
def handout_stack(stacks):
    return stacks("gpu-request-exceeds-node")


def handout_of(stack: Stack, directory: Path) -> Path:
    write_handout(stack.values, stack.name, directory)
    return directory


def edit_handout_config(directory: Path, stack: Stack, change: Callable[[dict], None]) -> None:
    path = directory / f"Pulumi.{stack.name}.yaml"
    document = yaml.safe_load(path.read_text())
    change(document["config"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def verify_handout(stack: Stack, directory: Path) -> tuple[int, dict, str]:
    result = runner.invoke(app, ["verify", "--config-file", str(stack.file), "--handout",
                                 str(directory), "--json"])
    return result.exit_code, (json.loads(result.output) if result.exit_code in (0, 1) else {}), \
        result.output


def test_handout_as_handed_out_is_present(handout_stack, tmp_path):
    check_row(handout_stack, "untouched",
              *verify_handout(handout_stack, handout_of(handout_stack, tmp_path / "h")))


def test_handout_with_the_guides_bigger_machine_type_is_fixed(handout_stack, tmp_path):
    """The guide's fix for gpu-request-exceeds-node, in the candidate's config: pool t4 on
    n1-standard-8 with two GPUs per node. The nodes come from their pools."""
    directory = handout_of(handout_stack, tmp_path / "h")
    edit_handout_config(directory, handout_stack, lambda c: set_(
        pool(c, "t4"), machineType="n1-standard-8", gpusPerNode=2))
    verdict = check_row(handout_stack, "other", *verify_handout(handout_stack, directory))
    assert "is Running" in verdict["evidence"]


def test_handout_that_drops_the_gpu_request_is_collateral(handout_stack, tmp_path):
    directory = handout_of(handout_stack, tmp_path / "h")
    edit_handout_config(directory, handout_stack,
                        lambda c: set_(workload(c, "tenant-a/summarize"), gpus=0))
    code, data, output = verify_handout(handout_stack, directory)
    assert code == 1, output
    assert [c["check"] for c in data["collateral"]] == ["workload-gpus"], data["collateral"]


def test_handout_whose_code_was_changed(stacks, tmp_path):
    """The candidate fixes tenant-observability-broken in the code instead of the config:
    the PodMonitor always scrapes the named port `metrics`, and infer.py's last --log-file
    (the one its parser keeps) is stdout."""
    stack = stacks("tenant-observability-broken")
    directory = handout_of(stack, tmp_path / "h")
    component = directory / "components" / "workload.py"
    code = component.read_text()
    port, args = '"port": endpoint.port', "*workload.args]"
    assert code.count(port) == 1 and code.count(args) == 1
    component.write_text(code.replace(port, '"port": "metrics"')
                         .replace(args, '*workload.args, "--log-file", "/dev/stdout"]'))
    check_row(stack, "guide", *verify_handout(stack, directory))


def test_a_handout_that_does_not_render_cannot_be_read(handout_stack, tmp_path):
    directory = handout_of(handout_stack, tmp_path / "h")
    (directory / "components" / "lab.py").write_text("this is not python\n")
    code, _, output = verify_handout(handout_stack, directory)
    assert code == 3 and "the handout does not render" in output
    code, _, output = verify_handout(handout_stack, tmp_path / "nothing-here")
    assert code == 3 and "not a handout" in output


def test_a_handout_config_error_says_every_problem(handout_stack, tmp_path):
    """The handout's model raises its own ConfigError (its copy of model/errors.py): the
    problems are printed whole, not only the header line."""
    directory = handout_of(handout_stack, tmp_path / "h")
    edit_handout_config(directory, handout_stack,
                        lambda c: set_(workload(c, "tenant-a/summarize"), batchSize=0))
    code, _, output = verify_handout(handout_stack, directory)
    assert code == 3, output
    assert "gpu-lab config has 1 problem:" in output and "batchSize: got 0" in output, output


def test_a_handout_made_for_another_stack_is_refused(handout_stack, tmp_path):
    """`lab verify dev --handout <the pairing stack's handout>` would judge the handout
    against dev's faults: exit 2, one line naming the stack the handout was made for."""
    directory = tmp_path / "h"
    write_handout(handout_stack.values, "pairing", directory)
    code, _, output = verify_handout(handout_stack, directory)
    assert code == 2, output
    assert output.strip().splitlines() == [
        f"--handout {directory}: the handout was made for stack pairing "
        f"(Pulumi.pairing.yaml), not {handout_stack.name}: judge it as STACK pairing, or give "
        f"{handout_stack.name}'s handout"]


# -- held out: candidates' fixes `lab verify --handout` once took for fixed -------------------
# Each row is a handout the candidate edited (config and code), judged as `lab verify
# --handout` judges it; none of them is the fix, so none may pass.

Edit = Callable[[Path, Stack], None]


def in_config(change: Callable[[dict], None]) -> Edit:
    return lambda directory, stack: edit_handout_config(directory, stack, change)


def in_code(path: str, old: str, new: str) -> Edit:
    def edit(directory: Path, stack: Stack) -> None:
        file = directory / path
        text = file.read_text()
        assert old in text, f"{path} no longer has {old!r}"
        file.write_text(text.replace(old, new, 1))
    return edit


MONITORING_END = '        self.grafana_admin_password = pulumi.Output.secret('


def a_monitor(kind: str, namespace: str, spec: dict) -> Edit:
    """The candidate adds a monitor to the Monitoring component of their handout."""
    return in_code("components/monitoring.py", MONITORING_END,
                   f"        CustomResource(f'{{name}}-dcgm-by-hand', api_version="
                   f"'monitoring.coreos.com/v1', kind={kind!r}, metadata={{'name': 'dcgm', "
                   f"'namespace': {namespace!r}}}, spec={spec!r}, opts=after_release)\n"
                   + MONITORING_END)


SIDECAR = ('        "securityContext": CONTAINER_SECURITY,\n    }\n',
           '        "securityContext": CONTAINER_SECURITY,\n    }\n'
           '    tail = {"name": "log-tail", "image": "busybox:1.36", "args": ["tail", "-F", '
           '"/tmp/infer.log"], "securityContext": CONTAINER_SECURITY}\n')
SIDECAR_IN_POD = ('"containers": [container],', '"containers": [container] + '
                  '([tail] if "--log-file" in workload.args else []),')
EXPORTER = {"matchLabels": {"app": "nvidia-dcgm-exporter"}}

HELD_OUT: dict[str, tuple[str, list[Edit], str, str]] = {
    # The leaked binding re-pointed to the role view aggregates: the same reads.
    "view-by-another-name": ("rbac-cross-tenant-read", [in_config(lambda c: set_(
        named(tenant(c, "tenant-b")["roleBindings"], name="dashboard-viewers"),
        role="system:aggregate-to-view", roleKind="ClusterRole"))],
        PRESENT, "system:aggregate-to-view"),
    # A custom role that cannot list pods, but can get and watch them and read their logs.
    "custom-role-get-watch": ("rbac-cross-tenant-read", [
        in_code("components/tenant_rbac.py", 'ROLES = {\n',
                'ROLES = {\n    "dashboard-viewer": [{"apiGroups": [""], "resources": '
                '["pods", "pods/log"], "verbs": ["get", "watch"]}],\n'),
        in_code("model/config.py", 'TENANT_ROLES = ("tenant-admin",',
                'TENANT_ROLES = ("dashboard-viewer", "tenant-admin",'),
        in_config(lambda c: set_(named(tenant(c, "tenant-b")["roleBindings"],
                                       name="dashboard-viewers"), role="dashboard-viewer",
                                 roleKind="Role"))],
        PRESENT, "get, watch pods, get pods/log in tenant-b"),
    # A sidecar tails the log file, but from its own filesystem: /tmp is not mounted there.
    "tail-sidecar-without-the-volume": ("tenant-observability-broken", [
        in_config(lambda c: workload(c, "tenant-a/rerank")["podMetricsEndpoint"].update(
            port="metrics")),
        in_code("components/workload.py", *SIDECAR),
        in_code("components/workload.py", *SIDECAR_IN_POD)],
        PRESENT, "log-tail tails a file of its own"),
    # --device cuda:0 is what torch calls the GPU; infer.py's parser refuses it (exit 2).
    "argument-infer-refuses": ("cpu-fallback", [
        in_config(lambda c: with_option(workload(c, "tenant-a/infer"), "--device", "cuda:0"))],
        UNKNOWN, "argument --device: invalid choice: 'cuda:0'"),
    # A tenant's ServiceMonitor for the exporter, looking in every namespace: Prometheus here
    # ignores namespace selectors.
    "dcgm-monitor-in-a-tenant": ("dcgm-metrics-missing", [a_monitor(
        "ServiceMonitor", "tenant-a", {"selector": EXPORTER, "namespaceSelector": {"any": True},
                                       "endpoints": [{"port": "gpu-metrics",
                                                      "honorLabels": True}]})],
        PRESENT, "ignoreNamespaceSelectors"),
    # A PodMonitor next to the exporter, on a port its pods do not have.
    "dcgm-podmonitor-wrong-port": ("dcgm-metrics-missing", [a_monitor(
        "PodMonitor", "gpu-operator", {"selector": EXPORTER, "podMetricsEndpoints": [
            {"port": "gpu-metrics", "honorLabels": True}]})],
        PRESENT, "the exporter's pods have no port gpu-metrics"),
    # The guide's fix, with the exporter's namespace and pod labels renamed exported_*.
    "dcgm-honor-labels-off": ("dcgm-metrics-missing", [
        in_config(lambda c: set_(c["gpu-lab:addons"]["gpuOperator"], serviceMonitor=True)),
        in_code("components/gpu_operator.py", '"honorLabels": True', '"honorLabels": False')],
        PRESENT, "exported_namespace and exported_pod"),
}


@pytest.mark.parametrize("case", sorted(HELD_OUT))
def test_held_out_handouts_are_not_fixed(stacks, tmp_path, case):
    fault, edits, status, evidence = HELD_OUT[case]
    stack = stacks(fault)
    directory = handout_of(stack, tmp_path / "h")
    for edit in edits:
        edit(directory, stack)
    code, data, output = verify_handout(stack, directory)
    assert code == 1, output
    [verdict] = [v for v in data["verdicts"] if v["fault"] == fault]
    assert verdict["status"] == status and evidence in verdict["evidence"], verdict


# -- snapshots -------------------------------------------------------------------------------

def test_snapshot_as_multi_document_yaml_and_kubectl_lists(stacks, tmp_path):
    """kubectl's own output: several `kind: List` documents (one per `kubectl get`), or one
    object per document; Events and Nodes among them."""
    stack = stacks("gpu-memory-oom")
    objects, logs = state_after(stack, "untouched").cluster()
    pods = [o for o in objects if o["kind"] in ("Pod", "Event")]
    rest = [o for o in objects if o["kind"] not in ("Pod", "Event")]
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": pods,
                           "metadata": {"resourceVersion": ""}}) + "---\n" + \
        yaml.safe_dump_all(rest)
    path = tmp_path / "kubectl.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["verify", "--config-file", str(stack.file), "--snapshot",
                                 str(path), "--json"])
    assert result.exit_code == 1, result.output
    [verdict] = [v for v in json.loads(result.output)["verdicts"]
                 if v["fault"] == "gpu-memory-oom"]
    # Without the logs, the status is all there is: the pods crash, but how?
    assert verdict["status"] == UNKNOWN and "CrashLoopBackOff" in verdict["evidence"]
    path.write_text(snapshot.dump(objects, logs))
    result = runner.invoke(app, ["verify", "--config-file", str(stack.file), "--snapshot",
                                 str(path), "--json"])
    [verdict] = [v for v in json.loads(result.output)["verdicts"]
                 if v["fault"] == "gpu-memory-oom"]
    assert verdict["status"] == PRESENT and "CUDA out of memory" in verdict["evidence"]


def test_a_snapshot_reads_the_same_as_yaml_and_as_json(stacks):
    """`kubectl get -o yaml` and `-o json` give the same objects, logs and time."""
    from datetime import datetime, timezone
    objects, logs = state_after(stacks("gpu-memory-oom"), "untouched").cluster()
    taken = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)
    as_yaml = snapshot.parse(snapshot.dump(objects, logs, taken))
    assert as_yaml == snapshot.parse(snapshot.dump(objects, logs, taken, as_json=True))
    assert as_yaml[1] and as_yaml[2] == taken


@pytest.mark.parametrize("text,why", [
    ("[1, 2", "not valid YAML"),
    ("kind: List\nitems:\n- {name: x}\n", "every item needs a kind and metadata"),
    ("", "holds no Kubernetes objects"),
])
def test_an_unreadable_snapshot_exits_3(stacks, tmp_path, text, why):
    stack = stacks("gpu-memory-oom")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["verify", "--config-file", str(stack.file), "--snapshot",
                                 str(path)])
    assert result.exit_code == 3 and why in result.output, result.output
    result = runner.invoke(app, ["verify", "--config-file", str(stack.file), "--snapshot",
                                 str(tmp_path / "missing.yaml")])
    assert result.exit_code == 3 and "cannot read" in result.output


def test_snapshot_and_handout_are_exclusive(stacks, tmp_path):
    stack = stacks("gpu-memory-oom")
    result = runner.invoke(app, ["verify", "--config-file", str(stack.file), "--snapshot",
                                 "a.yaml", "--handout", str(tmp_path)])
    assert result.exit_code == 2 and "at most one of" in result.output


def test_snapshot_without_nodes_cannot_tell_about_the_device_plugin(stacks, tmp_path):
    stack = stacks("gpu-device-plugin-missing")
    objects, logs = state_after(stack, "guide").cluster()
    path = snapshot.write(tmp_path / "s.yaml", [o for o in objects if o["kind"] != "Node"], logs)
    result = runner.invoke(app, ["verify", "--config-file", str(stack.file), "--snapshot",
                                 str(path), "--json"])
    [verdict] = [v for v in json.loads(result.output)["verdicts"]
                 if v["fault"] == "gpu-device-plugin-missing"]
    assert verdict["status"] == UNKNOWN


# -- watching, and the report -----------------------------------------------------------------

def test_watch_records_when_a_fault_turned_fixed_and_report_carries_it(stacks, tmp_path,
                                                                       monkeypatch):
    from tests.fake_kube_api import FakeKubeAPI

    stack = stacks("gpu-quota-ineffective")
    reports = tmp_path / "reports"

    def watch(state: State) -> str:
        objects, logs = state.cluster()
        with FakeKubeAPI(objects, logs) as api:
            kubeconfig = tmp_path / "kubeconfig"
            kubeconfig.write_text(yaml.safe_dump(api.kubeconfig()))
            result = runner.invoke(app, ["verify", "--config-file", str(stack.file),
                                         "--kubeconfig", str(kubeconfig), "--watch", "0",
                                         "--rounds", "2", "--output-dir", str(reports)])
        return result

    first = watch(state_after(stack, "untouched"))
    assert first.exit_code == 1 and "gpu-quota-ineffective: first seen -> present" in first.output
    record_path = grading.watch_path(reports, stack.name)
    record = json.loads(record_path.read_text())
    assert record["checks"] == 2
    assert record["faults"]["gpu-quota-ineffective"]["fixed_at"] is None

    second = watch(state_after(stack, "breaking"))   # fixed, and tenant-b/infer scaled to 0
    assert second.exit_code == 1 and "present -> fixed" in second.output
    record = json.loads(record_path.read_text())
    entry = record["faults"]["gpu-quota-ineffective"]
    assert entry["status"] == FIXED and entry["seconds_to_fix"] is not None
    assert record["collateral"] and record["collateral"][0]["check"] == "workload-removed"

    uploaded = []
    monkeypatch.setattr("lab.archive.upload",
                        lambda path, url, endpoint_url=None: uploaded.append(path) or
                        f"{url}/{path.name}")
    objects, logs = state_after(stack, "breaking").cluster()
    path = snapshot.write(tmp_path / "judged.yaml", objects, logs)
    result = runner.invoke(app, ["report", "--config-file", str(stack.file), "--snapshot",
                                 str(path), "--archive", "s3://interviews/x",
                                 "--output-dir", str(reports)])
    assert result.exit_code == 0, result.output
    [report_path, judged] = uploaded
    report = json.loads(report_path.read_text())
    assert report["time_to_fix"]["seconds"]["gpu-quota-ineffective"] == entry["seconds_to_fix"]
    assert report["collateral"][0]["check"] == "workload-removed"
    assert report["source"] == f"snapshot {path}"
    # The archived snapshot is the state that was judged: grading it again says the same.
    again = runner.invoke(app, ["verify", "--config-file", str(stack.file), "--snapshot",
                                str(judged), "--json"])
    assert json.loads(again.output)["collateral"] == report["collateral"]


def test_watch_needs_a_live_cluster(stacks, tmp_path):
    stack = stacks("gpu-quota-ineffective")
    result = runner.invoke(app, ["verify", "--config-file", str(stack.file), "--snapshot",
                                 str(tmp_path / "s.yaml"), "--watch", "5"])
    assert result.exit_code == 2 and "--watch" in result.output
