"""gpu-lab within reach: the `gpu-lab` command from any directory (an editable install of the
checkout, pyproject.toml), a scenario looked at without a stack file (--scenario), render's
JSON on stdout (--json -), a local report without an archive, and commands that leave no
directory behind in the checkout."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import lab.cli
from lab.cli import app
from model.source import PROJECT_DIR
from tests.test_cli_io import invoke, only_line

GPU_LAB = Path(sys.executable).parent / "gpu-lab"     # the venv's console script




# -- the gpu-lab command ----------------------------------------------------------------------

def elsewhere(tmp_path, *command: str) -> subprocess.CompletedProcess:
    """A command run from a directory outside the checkout, without PYTHONPATH (what pytest
    adds does not reach a subprocess: pytest.ini's pythonpath is sys.path, not the
    environment)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(list(command), cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def test_pyproject_installs_every_package_of_the_checkout_and_the_command():
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"gpu-lab": "lab.cli:run"}
    installed = set(project["tool"]["setuptools"]["packages"]["find"]["include"])
    code = {p.parent.name for p in PROJECT_DIR.glob("*/*.py")
            if p.parent.name not in ("tests", "bench", "venv")}
    assert code == installed == {"model", "faults", "components", "lab", "kube", "tenants",
                                 "workload"}
    # The dependencies are requirements.txt's pins, not a second list.
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"] == \
        {"file": ["requirements.txt"]}


def test_make_install_installs_the_command_when_pyproject_changes():
    dry = subprocess.run(["make", "-n", "-B", "install"], cwd=PROJECT_DIR, capture_output=True,
                         text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "--no-build-isolation --no-deps -e ." in dry.stdout
    makefile = (PROJECT_DIR / "Makefile").read_text()
    assert "$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml" in makefile


def test_gpu_lab_runs_from_any_directory(tmp_path):
    assert GPU_LAB.is_file(), f"no {GPU_LAB}: `make install` installs the gpu-lab command"
    result = elsewhere(tmp_path, str(GPU_LAB), "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: gpu-lab [OPTIONS] COMMAND" in " ".join(result.stdout.split())
    # The stack files, the program and its data files (the provider keys, infer.py, the
    # dashboards) are found from elsewhere: the JSON on stdout is the whole stack.
    result = elsewhere(tmp_path, str(GPU_LAB), "render", "--stack", "pairing", "--json", "-")
    assert result.returncode == 0, result.stderr
    configmaps = [r["inputs"] for r in json.loads(result.stdout)
                  if r["type"] == "kubernetes:core/v1:ConfigMap"]
    assert any("infer.py" in (c.get("data") or {}) for c in configmaps)
    assert "1 gcp:container/cluster:Cluster" in result.stderr
    result = elsewhere(tmp_path, str(GPU_LAB), "guide", "--scenario", "pairing")
    assert result.returncode == 0, result.stderr
    assert "rbac-cross-tenant-read" in result.stdout
    assert list(tmp_path.iterdir()) == []         # and wrote nothing where it ran


def test_python_m_lab_still_runs_and_names_itself(tmp_path):
    result = elsewhere(tmp_path, sys.executable, "-m", "lab", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: python -m lab [OPTIONS] COMMAND" in " ".join(result.stdout.split())


def test_gpu_lab_refuses_to_run_from_a_copy_without_the_checkout(tmp_path, monkeypatch,
                                                                 capsys):
    monkeypatch.setattr(lab.cli, "PROJECT_DIR", tmp_path)
    with pytest.raises(SystemExit) as exit_:
        lab.cli.run()
    assert exit_.value.code == 2
    assert only_line(capsys.readouterr().err) == \
        f"gpu-lab: {tmp_path} is not a gpu-lab checkout (no Pulumi.yaml): install it " \
        "editable, `pip install -e CHECKOUT` (as `make install` does)"


# -- --scenario NAME --------------------------------------------------------------------------

SCENARIO_COMMANDS = (["render"], ["guide"], ["simulate"], ["handout", "-o", "unused"])


def scenario_file(directory: Path, name: str) -> Path:
    """The stack file one had to write to look at a scenario."""
    path = directory / f"Pulumi.{name}.yaml"
    path.write_text(f"config:\n  gpu-lab:allowFaults: true\n  gpu-lab:scenario: {name}\n")
    return path


def test_guide_of_every_scenario_without_a_stack_file(tmp_path):
    from faults import SCENARIOS

    for name in SCENARIOS:
        result = invoke("guide", "--scenario", name)
        assert result.exit_code == 0, result.output
        assert f"stack `{name}`" in result.stdout.splitlines()[0]     # named after it
        from_file = invoke("guide", "--config-file", str(scenario_file(tmp_path, name)))
        assert result.stdout == from_file.stdout, name
        brief = invoke("guide", "--scenario", name, "--candidate")
        assert brief.exit_code == 0 and brief.stdout != result.stdout


def test_render_and_simulate_a_scenario_as_its_stack_file_would(tmp_path):
    path = scenario_file(tmp_path, "workload-failures")
    result = invoke("render", "--scenario", "workload-failures", "--json", "-")
    assert result.exit_code == 0, result.output
    written = tmp_path / "out.json"
    assert invoke("render", "--config-file", str(path), "--json", str(written)).exit_code == 0
    assert json.loads(result.stdout) == json.loads(written.read_text())
    result = invoke("simulate", "--scenario", "workload-failures", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout == invoke("simulate", "--config-file", str(path), "--json").stdout
    assert "exec format error" in result.stdout         # the scenario's arm64 image


def test_handout_of_a_scenario_is_a_stack_of_its_name(tmp_path):
    result = invoke("handout", "--scenario", "gpu-readiness", "-o", str(tmp_path / "h"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "h" / "Pulumi.gpu-readiness.yaml").is_file()


@pytest.mark.parametrize("command", SCENARIO_COMMANDS, ids=lambda c: c[0])
def test_scenario_is_exclusive_with_stack_and_config_file(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for other in (["--stack", "dev"], ["--config-file", str(tmp_path / "Pulumi.x.yaml")]):
        result = invoke(*command, "--scenario", "pairing", *other)
        assert result.exit_code == 2
        assert only_line(result.stderr) == \
            f"{other[0]} and --scenario together: give exactly one of --stack NAME, " \
            "--config-file PATH or --scenario NAME"
    result = invoke(*command)
    assert result.exit_code == 2
    assert only_line(result.stderr) == \
        "give exactly one of --stack NAME, --config-file PATH or --scenario NAME"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", SCENARIO_COMMANDS, ids=lambda c: c[0])
def test_an_unknown_scenario_lists_them_with_a_did_you_mean(command):
    from faults import SCENARIOS

    result = invoke(*command, "--scenario", "paring")
    assert result.exit_code == 2
    assert only_line(result.stderr) == \
        f"--scenario 'paring': no such scenario (did you mean 'pairing'?); scenarios: " \
        f"{', '.join(SCENARIOS)}"


# -- render --json - --------------------------------------------------------------------------

def test_render_json_to_stdout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("render", "--stack", "dev", "--json", "-")
    assert result.exit_code == 0, result.output
    resources = json.loads(result.stdout)           # stdout is the JSON and nothing else
    assert {"type", "name", "parent", "inputs", "options"} == set(resources[0])
    assert "gpu-lab:lab:Lab  lab" in result.stderr  # the tree and the summary: on stderr
    assert result.stderr.splitlines()[-1].startswith(f"{len(resources)} resources:")
    assert list(tmp_path.iterdir()) == []          # no file named "-"
    quiet = invoke("render", "--stack", "dev", "--json", "-", "--quiet")
    assert json.loads(quiet.stdout) == resources
    assert only_line(quiet.stderr).startswith(f"{len(resources)} resources:")


# -- lab report without --archive ---------------------------------------------------------------

def pairing_snapshot(path: Path) -> Path:
    from faults import build_spec
    from kube.symptoms import offline_context
    from lab import snapshot
    from lab.render import render
    from tests.helpers import stack_values

    values = stack_values("pairing")
    ctx = offline_context(build_spec(values, stack="pairing"), render(values, stack="pairing"))
    objects = [o for o in ctx.objects.objects if o["kind"] not in ("HelmRelease", "GcpFirewall")]
    return snapshot.write(path, objects + ctx.nodes, {})


def test_report_without_archive_writes_the_report_locally(tmp_path, monkeypatch):
    judged = pairing_snapshot(tmp_path / "cluster.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("lab.archive.upload", lambda *a, **k: pytest.fail("uploaded"))
    result = invoke("report", "pairing", "--snapshot", str(judged))
    assert result.exit_code == 0, result.output
    [report_path] = (tmp_path / "reports").glob("pairing-*.json")
    [copy] = (tmp_path / "reports").glob("pairing-*.snapshot.yaml")
    assert only_line(result.stdout) == \
        f"report written to {report_path.relative_to(tmp_path)}, the snapshot it judged to " \
        f"{copy.relative_to(tmp_path)}"
    report = json.loads(report_path.read_text())
    assert report["stack"] == "pairing" and report["scenario"] == "pairing"
    assert report["total"] == 4 and report["source"] == f"snapshot {judged}"
    # --output-dir puts it elsewhere, made with its parents.
    result = invoke("report", "pairing", "--snapshot", str(judged), "--output-dir",
                    str(tmp_path / "a" / "b"))
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "a" / "b").glob("pairing-*.json"))) == 1


def test_endpoint_url_only_with_archive():
    result = invoke("report", "pairing", "--snapshot", "x", "--endpoint-url", "http://minio")
    assert result.exit_code == 2
    assert only_line(result.stderr) == "--endpoint-url: only with --archive s3://BUCKET/PREFIX"


# -- no directory left behind ------------------------------------------------------------------

def test_a_refused_command_leaves_no_output_directory(tmp_path, monkeypatch):
    """`make test` left an empty reports/ in the checkout: verify --watch and report made their
    --output-dir (default reports/, in the working directory) before finding that the stack
    was missing."""
    monkeypatch.chdir(tmp_path)
    assert invoke("report", "--archive", "s3://b/x").exit_code == 2
    assert invoke("report").exit_code == 2
    assert invoke("verify", "--watch", "5").exit_code == 2
    deeper = tmp_path / "new" / "deeper"
    result = invoke("report", "pairing", "--snapshot", str(tmp_path / "missing.yaml"),
                    "--output-dir", str(deeper))
    assert result.exit_code == 3, result.output
    assert list(tmp_path.iterdir()) == []
