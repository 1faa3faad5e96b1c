"""Part 2 of the pairing exercise is judged (lab/grading.py, judge_part2): the new tenant
tenant-c with its namespace, an enforced GPU quota, RBAC naming only its own groups and
service accounts, network isolation, and every tenant limited to one GPU. The pairing
stack's four faults are fixed in every state below (the guide's fixes), so what decides the
exit code is Part 2 alone. Judged through the candidate's handout (`lab verify --handout`),
and through the config rendered by the project's program (lab.grading.grade) where the
source does not matter."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Callable

import pytest
import yaml

from faults import SCENARIOS, build_spec, parts
from lab import grading
from lab.cli import app
from lab.handout import stack_config, write_handout
from lab.render import render
from lab.verify import FIXED
from kube.nodes import nodes_from_spec
from kube.objects import ObjectSet
from kube.symptoms import Context
from kube.twin import simulate
from tests.helpers import stack_values
from tests.test_grading import runner, set_, tenant, without_option, workload

NAME = "pairing"


class Pairing:
    """The pairing stack: its stack file, references and plain config."""

    def __init__(self, directory: Path):
        self.values = stack_values(NAME)
        self.file = directory / f"Pulumi.{NAME}.yaml"
        self.file.write_text(yaml.safe_dump({"config": self.values}, sort_keys=False))
        self.reference = grading.reference(self.values, NAME)
        self.spec = self.reference.untouched.spec

    def config(self, *changes: Callable[[dict], None]) -> dict:
        config = copy.deepcopy(stack_config(self.spec))
        for change in changes:
            change(config)
        return config

    def grade(self, *changes: Callable[[dict], None],
              objects: Callable[[list[dict]], list[dict]] = lambda o: o) -> grading.Grade:
        """The config rendered by the project's program (then `objects` changed, as kubectl
        would), judged as `lab verify --handout` judges a handout."""
        config = self.config(*changes)
        spec = build_spec(config, stack=NAME)
        judged = ObjectSet(objects(render(config, stack=NAME).check_objects()))
        nodes = nodes_from_spec(spec, judged)
        ctx = Context(spec=self.spec, objects=judged, nodes=nodes,
                      _twin=simulate(spec, judged, nodes))
        return grading.grade(self.spec, ctx, self.reference)

    def verify_handout(self, directory: Path,
                       *changes: Callable[[dict], None]) -> tuple[int, dict, str]:
        write_handout(self.values, NAME, directory)
        path = directory / f"Pulumi.{NAME}.yaml"
        document = yaml.safe_load(path.read_text())
        for change in changes:
            change(document["config"])
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        result = runner.invoke(app, ["verify", "--config-file", str(self.file), "--handout",
                                     str(directory), "--json"])
        data = json.loads(result.output) if result.exit_code in (0, 1) else {}
        return result.exit_code, data, result.output


@pytest.fixture(scope="module")
def pairing(tmp_path_factory) -> Pairing:
    return Pairing(tmp_path_factory.mktemp("pairing"))


def guide_fixes(config: dict) -> None:
    """The guide's fix for each of the pairing stack's faults."""
    b = tenant(config, "tenant-b")
    b["roleBindings"] = [r for r in b["roleBindings"] if r["name"] != "dashboard-viewers"]
    b["quota"]["hard"] = {"requests.nvidia.com/gpu" if key == "limits.nvidia.com/gpu" else key:
                          value for key, value in b["quota"]["hard"].items()}
    set_(workload(config, "tenant-b/infer"), replicas=1)
    obs = workload(config, "tenant-a/infer")
    obs["podMetricsEndpoint"]["port"] = "metrics"
    without_option(obs, "--log-file")
    config["gpu-lab:addons"]["gpuOperator"]["serviceMonitor"] = True


def tenant_c(**fields) -> Callable[[dict], None]:
    return lambda config: config["gpu-lab:tenants"].append({"name": "tenant-c", "gpus": 1,
                                                            **fields})


def statuses(part2: dict) -> dict[str, str]:
    return {r["requirement"]: r["status"] for r in part2["requirements"]}


def test_part2_names_what_the_pairing_task_asks():
    """The constants the judge uses are the task's own words."""
    [task] = [t for part, t, _ in SCENARIOS["pairing"].tasks if part == parts.PAIRING_2]
    assert f"Add a new tenant, {grading.PART2_NEW_TENANT}," in task
    assert f"limit GPUs to {grading.PART2_GPU_LIMIT} per tenant" in task


def test_untouched_handout_has_no_tenant_c(pairing, tmp_path):
    code, data, output = pairing.verify_handout(tmp_path / "h")
    assert code == 1, output
    part2 = data["part2"]
    assert part2["part"] == parts.PAIRING_2 and part2["status"] == grading.NOT_MET
    assert statuses(part2)["tenant-c-namespace"] == grading.NOT_MET
    assert "no Namespace tenant-c" in part2["requirements"][0]["evidence"]
    # tenant-b's quota is the unenforced one the faults put there.
    [limit] = [r for r in part2["requirements"] if r["requirement"] == "gpu-limit"]
    assert limit["status"] == grading.NOT_MET and "tenant-b's quota admits 2" in limit["evidence"]


def test_every_fault_fixed_and_tenant_c_added_passes(pairing, tmp_path):
    code, data, output = pairing.verify_handout(tmp_path / "h", guide_fixes, tenant_c())
    assert code == 0, output
    assert {v["status"] for v in data["verdicts"]} == {FIXED} and data["collateral"] == []
    assert data["part2"]["status"] == grading.MET, data["part2"]
    assert set(statuses(data["part2"])) == {"tenant-c-namespace", "tenant-c-gpu-quota",
                                            "tenant-c-rbac", "tenant-c-network",
                                            "tenant-c-pod-security", "gpu-limit"}
    # The text: the faults' table, then Part 2's own section.
    lines = pairing.grade(guide_fixes, tenant_c()).table().splitlines()
    start = lines.index(f"PART 2: {data['part2']['task']}")
    assert lines[start - 2] == "4/4 fixed"
    assert lines[start + 1].split()[:3] == ["REQUIREMENT", "STATUS", "EVIDENCE"]
    assert lines[start + 8] == "6/6 met"


def test_tenant_c_bound_to_another_tenants_group_does_not_pass(pairing, tmp_path):
    """tenant-c's developers are tenant-a's: its bindings name tenant-a's group, which can
    then read tenant-c's pods."""
    code, data, output = pairing.verify_handout(
        tmp_path / "h", guide_fixes,
        tenant_c(developerGroups=["tenant-a-developers@example.com"]))
    assert code == 1, output
    [rbac] = [r for r in data["part2"]["requirements"] if r["requirement"] == "tenant-c-rbac"]
    assert rbac["status"] == grading.NOT_MET
    assert "names group tenant-a-developers@example.com, which is tenant-a's" in \
        rbac["evidence"]
    assert "group tenant-a-developers@example.com can get, list, watch pods" in rbac["evidence"]
    # Every tenant the state has is probed: the reach into tenant-c is collateral too.
    assert "cross-tenant-access" in {c["check"] for c in data["collateral"]}


def without_policies(namespace: str) -> Callable[[list[dict]], list[dict]]:
    return lambda objects: [o for o in objects if not (
        o["kind"] == "NetworkPolicy" and o["metadata"].get("namespace") == namespace)]


def everyone_views(namespace: str) -> Callable[[list[dict]], list[dict]]:
    return lambda objects: objects + [{
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "everyone-views", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "view"},
        "subjects": [{"kind": "Group", "name": "system:authenticated"}]}]


@pytest.mark.parametrize("change,objects,failing", [
    # tenant-c's GPU line on the key Kubernetes ignores.
    (lambda c: c["gpu-lab:tenants"].append({"name": "tenant-c", "quota": {"hard": {
        "limits.nvidia.com/gpu": "1"}}}), None, {"tenant-c-gpu-quota", "gpu-limit"}),
    # "1 GPU per tenant" is every tenant's: tenant-a kept 2.
    (lambda c: (tenant_c()(c), tenant(c, "tenant-a")["quota"]["hard"].update(
        {"requests.nvidia.com/gpu": "2"})), None, {"gpu-limit"}),
    # tenant-c without its NetworkPolicies: the other tenants reach its pods.
    (tenant_c(), without_policies("tenant-c"), {"tenant-c-network"}),
    # Everyone may read tenant-c's pods.
    (tenant_c(), everyone_views("tenant-c"), {"tenant-c-rbac"}),
    # tenant-c's namespace lets privileged pods in (pod-security-admission, policy/check_
    # privileged.go: baseline and restricted refuse securityContext.privileged).
    (tenant_c(podSecurity="privileged"), None, {"tenant-c-pod-security"}),
    (tenant_c(podSecurity="baseline"), None, set()),
], ids=["quota-unenforced", "tenant-a-keeps-2", "no-network-policies", "everyone-reads",
        "privileged-pods", "baseline-is-enough"])
def test_part2_requirements_decide_the_exit_code(pairing, change, objects, failing):
    result = pairing.grade(guide_fixes, change, objects=objects or (lambda o: o))
    assert all(v.status == FIXED for v in result.verdicts), result.table()
    got = {r.id for r in result.part2.requirements if r.status != grading.MET}
    assert got == failing, result.part2.table()
    assert (result.exit_code == 1 and not result.passed) if failing else result.passed
