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
from typer.testing import CliRunner

import lab.cli
from lab.cli import app
from model.source import PROJECT_DIR

runner = CliRunner()
GPU_LAB = Path(sys.executable).parent / "gpu-lab"     # the venv's console script


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
    # dashboards) are found from elsewhere.
    result = elsewhere(tmp_path, str(GPU_LAB), "render", "--stack", "pairing", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "1 gcp:container/cluster:Cluster" in result.stdout
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
