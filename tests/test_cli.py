"""`python -m lab render`: the tree, the JSON contract, and config errors."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from lab.cli import app
from model.source import PROJECT_DIR

runner = CliRunner()


def lab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=120)


def test_render_json_contract(tmp_path):
    out = tmp_path / "out.json"
    result = lab("render", "--stack", "dev", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "gpu-lab:lab:Lab  lab" in result.stdout
    resources = json.loads(out.read_text())
    assert isinstance(resources, list) and resources
    keys = {f"{r['type']}::{r['name']}" for r in resources}
    for resource in resources:
        assert set(resource) == {"type", "name", "parent", "inputs", "options"}
        assert resource["parent"] is None or resource["parent"] in keys
    cluster = [r for r in resources if r["type"] == "gcp:container/cluster:Cluster"]
    assert cluster[0]["inputs"]["deletionProtection"] is False
    assert f"{len(resources)} resources:" in result.stdout


def test_render_bad_config_file_fails_and_writes_no_json(tmp_path):
    stack = tmp_path / "Pulumi.broken.yaml"
    stack.write_text("config:\n  gcp:project: p\n  gpu-lab:gpuPools:\n"
                     "    - name: t4\n      maxNodes: '2'\n")
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["render", "--config-file", str(stack), "--json", str(out)])
    assert result.exit_code == 2
    assert "gpu-lab:gpuPools[0].maxNodes: got '2'; must be an integer" in result.output
    assert not out.exists()


def test_render_unreadable_stack_file(tmp_path):
    result = runner.invoke(app, ["render", "--config-file", str(tmp_path / "Pulumi.none.yaml")])
    assert result.exit_code == 2
    assert "no such stack file" in result.output


def test_render_needs_exactly_one_source():
    result = runner.invoke(app, ["render"])
    assert result.exit_code == 2
    assert "exactly one of --stack NAME, --config-file PATH or --scenario NAME" in result.output


def test_every_command_has_help():
    for command in [[], ["render"]]:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_render_summary_only(tmp_path):
    result = runner.invoke(app, ["render", "--stack", "dev", "--quiet"])
    assert result.exit_code == 0
    assert result.output.count("\n") == 1
    assert "1 gcp:container/cluster:Cluster" in result.output
