"""`lab scenarios` and `lab guide`: the interviewer's guide covers every fault; the candidate's
brief gives none away."""

import json
import re

import pytest
from typer.testing import CliRunner

from faults import FAULTS, build_spec, enabled
from lab.cli import app
from lab.guide import candidate_brief, candidate_tasks, interviewer_guide
from lab.render import render
from model.source import PROJECT_DIR
from tests.helpers import stack_values

SHIPPED = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                 for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
# `pulumi stack output [flags] NAME [flags]`: the output a command names.
STACK_OUTPUT = re.compile(r"pulumi stack output((?:\s+-\S+)*)\s+([A-Za-z_]\w*)")

runner = CliRunner()


@pytest.fixture(scope="module")
def pairing():
    return build_spec(stack_values("pairing"), stack="pairing")


def test_guide_covers_every_enabled_fault(pairing):
    text = interviewer_guide(pairing)
    faults = enabled(pairing)
    assert len(faults) == 4
    for fault, params in faults:
        info = fault.describe(params, pairing)
        assert f"(`{fault.id}`)" in text
        for field in ("title", "part", "task", "symptom", "fix", "look_for"):
            assert info[field] in text, (fault.id, field)
        for hint in info["hints"]:
            assert hint in text
    # the guide reads in the order a session runs: the run sheet, the environment, the
    # parts with their tasks and faults (tests/test_run_sheet.py), the scorecard
    assert text.index("## Run sheet") < text.index("## Environment") < \
        text.index("## Pairing exercise, Part 1") < text.index("## Scorecard")
    assert "Faults (4): " in text
    assert "Add a new tenant, tenant-c" in text


def test_candidate_brief_gives_nothing_away(pairing):
    brief = candidate_brief(pairing, candidate_tasks(pairing))
    assert "## Tasks" in brief
    for fault_id in FAULTS:
        assert fault_id not in brief
    for fault, params in enabled(pairing):
        info = fault.describe(params, pairing)
        assert info["task"] in brief
        assert info["fix"] not in brief and info["title"] not in brief
        assert info["symptom"] not in brief
        for hint in info["hints"]:
            assert hint not in brief
    assert "dashboard-viewers" not in brief and "limits.nvidia.com/gpu" not in brief


def test_healthy_stack_guide_says_so():
    text = interviewer_guide(build_spec(stack_values("dev"), stack="dev"))
    assert "Faults (0): none." in text and "None: this is a healthy stack" in text


def test_guide_command_writes_markdown(tmp_path):
    out = tmp_path / "guide.md"
    result = runner.invoke(app, ["guide", "--stack", "pairing", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# gpu-lab interviewer guide: stack `pairing`")
    brief = runner.invoke(app, ["guide", "--stack", "pairing", "--candidate"])
    assert brief.exit_code == 0 and brief.output.startswith("# Your GPU platform exercise")


def test_guide_command_rejects_bad_config(tmp_path):
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text("config:\n  gcp:project: p\n  gpu-lab:faults: [cpu-fallback]\n")
    result = runner.invoke(app, ["guide", "--config-file", str(stack)])
    assert result.exit_code == 2
    assert "gpu-lab:allowFaults" in result.output


def test_scenarios_lists_the_catalog():
    result = runner.invoke(app, ["scenarios"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "PART", "LAYER", "TITLE"]
    for fault in FAULTS.values():
        [row] = [line for line in lines if line.startswith(fault.id + " ")]
        assert fault.layer in row
    assert "pairing" in result.output and "iac-challenges" in result.output


def test_scenarios_json_has_every_metadata_field():
    result = runner.invoke(app, ["scenarios", "--json"])
    catalog = json.loads(result.output)
    assert [entry["id"] for entry in catalog] == list(FAULTS)
    for entry in catalog:
        assert set(entry) == {"id", "title", "part", "layer", "params", "task", "symptom",
                              "hints", "fix", "look_for", "check", "platforms"}
        assert len(entry["hints"]) == 3
        for param in entry["params"]:
            assert set(param) == {"name", "kind", "default", "help"}


def named_outputs(text: str) -> set[str]:
    return {m.group(2) for m in STACK_OUTPUT.finditer(text)}


def test_stack_output_pattern_reads_the_name():
    assert named_outputs("pulumi stack output kubeconfig --show-secrets > k; "
                         "x $(pulumi stack output --show-secrets kubeContext)") == \
        {"kubeconfig", "kubeContext"}


@pytest.mark.parametrize("stack", SHIPPED)
def test_guide_names_only_outputs_the_stack_exports(stack):
    """Every `pulumi stack output X` the guide and the brief name is an output the stack's
    program exports (a GKE stack exports kubeconfig, an existing cluster kubeContext)."""
    values = stack_values(stack)
    outputs = set(render(values, stack=stack).outputs)
    spec = build_spec(values, stack=stack)
    for text in (interviewer_guide(spec), candidate_brief(spec, candidate_tasks(spec))):
        assert named_outputs(text) <= outputs, (stack, named_outputs(text) - outputs)
    # the interviewer is told how to reach the cluster from what the stack exports
    guide = interviewer_guide(spec)
    if spec.platform == "gke":
        assert "pulumi stack output kubeconfig --show-secrets" in guide
    else:
        assert "pulumi stack output kubeconfig" not in guide
        assert 'kubectl config use-context "$(pulumi stack output kubeContext)"' in guide


def test_guide_for_the_current_context_names_no_output():
    """An existing cluster without kubeContext is the current context: nothing to select."""
    values = stack_values("local")
    values["gpu-lab:cluster"] = {k: v for k, v in values["gpu-lab:cluster"].items()
                                 if k != "kubeContext"}
    outputs = set(render(values, stack="local").outputs)
    guide = interviewer_guide(build_spec(values, stack="local"))
    assert named_outputs(guide) <= outputs
    assert "use-context" not in guide and "kubectl config current-context" in guide
