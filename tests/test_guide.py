"""`lab scenarios` and `lab guide`: the interviewer's guide covers every fault; the candidate's
brief gives none away."""

import json

import pytest
from typer.testing import CliRunner

from faults import FAULTS, build_spec, enabled
from lab.cli import app
from lab.guide import candidate_brief, candidate_tasks, interviewer_guide
from tests.helpers import stack_values

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
    # the guide reads in the order a session runs: environment, faults, other tasks
    assert text.index("## Environment") < text.index("## Faults (4)") < \
        text.index("## Other tasks in this scenario")
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
    assert "## Faults (0)" in text and "None: this is a healthy stack." in text


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
