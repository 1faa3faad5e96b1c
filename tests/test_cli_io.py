"""`python -m lab` at its edges: files it cannot write, stacks that do not exist, the help of
every command, and the outputs `lab render` prints."""

import os

import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from lab.cli import app, stack_names
from model.source import PROJECT_DIR

runner = CliRunner()
ROOT = get_command(app)


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result


def only_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# -- help -------------------------------------------------------------------------------------

def test_every_command_has_help_and_no_flag_shows_a_type():
    """Typer's rich help printed `--quiet <bool>` and `--help <bool>`: flags take no value."""
    for command in [[], *([name] for name in ROOT.commands)]:
        result = invoke(*command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output, command
        assert "<bool>" not in result.output, (command, result.output)
        assert "--help" in result.output


def test_every_option_and_argument_has_help():
    """So a new option without help fails here."""
    missing = [f"{name} {param.name}" for name, command in ROOT.commands.items()
               for param in command.params if not (param.help or "").strip()]
    missing += [f"(main) {param.name}" for param in ROOT.params if not (param.help or "").strip()]
    assert missing == []


def test_main_help_lists_the_exit_codes():
    text = " ".join(invoke("--help").output.split())
    for code in ("0 done", "1 not yet", "2 bad config, arguments or paths",
                 "3 the cluster, snapshot, handout or GCP project cannot be read",
                 "4 the report upload failed"):
        assert code in text, code


# -- files that cannot be written ----------------------------------------------------------------

@pytest.fixture
def a_file(tmp_path):
    """A regular file: nothing can be created under it, whoever runs the tests."""
    path = tmp_path / "plain-file"
    path.write_text("x")
    return path


def test_render_json_into_a_missing_directory(tmp_path):
    target = tmp_path / "no-such-dir" / "out.json"
    result = invoke("render", "--stack", "dev", "--quiet", "--json", str(target))
    assert result.exit_code == 2
    assert only_line(result.stderr) == f"--json {target}: cannot write: No such file or directory"
    assert not target.parent.exists()
    assert result.stdout == ""          # checked before anything is rendered


def test_render_json_onto_a_directory(tmp_path):
    result = invoke("render", "--stack", "dev", "--quiet", "--json", str(tmp_path))
    assert result.exit_code == 2
    assert only_line(result.stderr) == f"--json {tmp_path}: cannot write: Is a directory"
    assert result.stdout == ""


@pytest.mark.parametrize("candidate", [[], ["--candidate"]])
def test_guide_output_that_cannot_be_written(tmp_path, candidate):
    target = tmp_path / "missing" / "guide.md"
    result = invoke("guide", "--stack", "pairing", *candidate, "-o", str(target))
    assert result.exit_code == 2
    assert only_line(result.stderr) == f"--output {target}: cannot write: No such file or " \
                                       "directory"


def test_handout_output_under_a_file(a_file):
    for target in (a_file, a_file / "handout"):
        result = invoke("handout", "--stack", "dev", "-o", str(target))
        assert result.exit_code == 2
        assert only_line(result.stderr) == f"--output {target}: cannot write: Not a directory"


def test_handout_output_that_is_not_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = invoke("handout", "--stack", "dev", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert only_line(result.stderr) == f"--output {tmp_path}: not empty; give a new or empty " \
                                       "directory"


@pytest.fixture
def kubeconfig(tmp_path):
    """A kubeconfig whose cluster is never reached: the commands stop before."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}]}))
    return path


def test_verify_watch_record_directory_that_cannot_be_made(a_file, kubeconfig):
    target = a_file / "reports"
    result = invoke("verify", "pairing", "--kubeconfig", str(kubeconfig), "--watch", "1",
                    "--output-dir", str(target))
    assert result.exit_code == 2
    assert only_line(result.stderr) == f"--output-dir {target}: cannot write: Not a directory"


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_report_output_dir_that_cannot_be_used(a_file, where):
    target = a_file if where == "a file" else a_file / "reports"
    result = invoke("report", "pairing", "--archive", "s3://interviews/x",
                    "--snapshot", str(a_file), "--output-dir", str(target))
    assert result.exit_code == 2
    reason = "not a directory" if where == "a file" else "cannot write: Not a directory"
    assert only_line(result.stderr) == f"--output-dir {target}: {reason}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directories(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = invoke("guide", "--stack", "dev", "-o", str(locked / "guide.md"))
        assert result.exit_code == 2
        assert only_line(result.stderr) == f"--output {locked / 'guide.md'}: cannot write: " \
                                           "Permission denied"
        result = invoke("report", "dev", "--archive", "s3://b/x", "--snapshot", "x",
                        "--output-dir", str(locked))
        assert result.exit_code == 2
        assert only_line(result.stderr) == f"--output-dir {locked}: cannot write: " \
                                           "Permission denied"
    finally:
        locked.chmod(0o700)


# -- which stack ------------------------------------------------------------------------------

def test_a_missing_stack_lists_the_stacks_with_a_did_you_mean():
    result = invoke("render", "--stack", "paring")
    assert result.exit_code == 2
    line = only_line(result.stderr)
    assert line.startswith(f"--stack 'paring': no such stack file Pulumi.paring.yaml in "
                           f"{PROJECT_DIR} (did you mean 'pairing'?); stacks: ")
    assert {"all-faults", "dev", "local", "pairing"} <= set(stack_names())
    assert ", ".join(stack_names()) in line


def test_verify_and_report_speak_of_their_positional_stack(tmp_path):
    for command in (["verify"], ["report", "--archive", "s3://b/x"]):
        result = invoke(*command)
        assert result.exit_code == 2
        assert only_line(result.stderr) == "give exactly one of STACK or --config-file PATH"
        result = invoke(*command, "pairing", "--config-file", str(tmp_path / "Pulumi.x.yaml"))
        assert only_line(result.stderr) == "give exactly one of STACK or --config-file PATH"
        result = invoke(*command, "paring")
        assert result.exit_code == 2
        line = only_line(result.stderr)
        assert line.startswith("STACK 'paring': no such stack file") and "--stack" not in line
        assert "(did you mean 'pairing'?)" in line


def test_a_config_file_error_names_the_option(tmp_path):
    result = invoke("render", "--config-file", str(tmp_path / "Pulumi.none.yaml"))
    assert result.exit_code == 2
    assert only_line(result.stderr) == f"--config-file {tmp_path / 'Pulumi.none.yaml'}: no such " \
                                       "stack file"


# -- render's outputs -------------------------------------------------------------------------

def test_render_prints_the_outputs_with_the_faults_of_the_stack():
    pairing = invoke("render", "--stack", "pairing").output.splitlines()
    outputs = pairing[pairing.index("Outputs:"):]
    at = outputs.index("  faults:")
    assert outputs[at + 1:at + 5] == [
        "    - rbac-cross-tenant-read: tenant-a can read tenant-b's pods",
        "    - gpu-quota-ineffective: tenant-b's GPU quota is not enforced",
        "    - tenant-observability-broken: tenant-a/infer is invisible to Prometheus and "
        "kubectl logs",
        "    - dcgm-metrics-missing: DCGM GPU metrics are not collected"]
    assert "  clusterName: gpu-lab-pairing" in outputs
    assert "  kubeconfig: [secret]" in outputs and "  grafanaAdminPassword: [secret]" in outputs
    assert " resources: " in outputs[-1]          # the summary line stays last

    dev = invoke("render", "--stack", "dev").output.splitlines()
    assert "  faults: []" in dev[dev.index("Outputs:"):]
    assert "  clusterName: gpu-lab-dev" in dev
