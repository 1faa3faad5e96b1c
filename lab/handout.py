"""The candidate's handout: a self-contained Pulumi project for one stack, without the catalog.

`python -m lab handout --stack S -o DIR` writes:

- `Pulumi.yaml` (the same project name, so the stack's URNs are the same) and
  `Pulumi.<S>.yaml`: the stack's settings with every baked-in problem already applied, as
  ordinary configuration (model/to_config.py), so nothing says what was changed or why;
- `__main__.py`: the same program as the interviewer's, without faults/: it loads the config
  with `model.load_spec` and builds `components.lab.Lab`, with the same outputs (minus the
  list of baked-in problems);
- the packages that program imports or reads: components/, model/, tenants/, workload/;
- `requirements.txt`: what the program needs at run time, pinned like the project's;
- `README.md`: the candidate's brief (lab/guide.py).

The directory is a git repository with those files as its one commit, so the candidate's
change is `git diff` and what `lab apply` previews.

It registers exactly the resources the interviewer's stack registers (tests/test_handout.py
renders both), so an apply of the untouched handout changes nothing. No faults/, lab/,
tests/ or bench/ go into it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from faults import build_spec
from lab.guide import candidate_brief, candidate_tasks
from lab.render import PLACEHOLDER_PROJECT
from model.source import PROJECT_DIR
from model.spec import LabSpec
from model.to_config import to_config

# What the program imports (components -> model, tenants) and reads (workload/infer.py goes
# into a ConfigMap).
PACKAGES = ("components", "model", "tenants", "workload")
# Distributions the program needs at run time (the rest of requirements.txt is the
# interviewer's tooling: live checks, reports, preflight).
RUNTIME_REQUIREMENTS = ("pulumi", "pulumi-gcp", "pulumi-kubernetes", "pulumi-random", "PyYAML")
DESCRIPTION = "A multi-tenant GPU Kubernetes platform on GKE: GPU node pools, the NVIDIA GPU " \
              "Operator, Prometheus and Grafana, and tenants with quotas, RBAC and network " \
              "policies."

PROGRAM = '''"""gpu-lab: a multi-tenant GPU Kubernetes platform.

stack config -> LabSpec (model/) -> resources (components/).
"""

import pulumi
import pulumi.runtime.config

import model
from components.lab import Lab
from model.source import engine_config

try:
    spec = model.load_spec(engine_config(pulumi.runtime.config.CONFIG.get()),
                           stack=pulumi.get_stack())
except model.ConfigError as err:
    # `pulumi up` shows a RunError as its message alone, without the program's traceback.
    raise pulumi.RunError(str(err)) from None
lab = Lab("lab", spec)

for key, value in lab.outputs.items():
    pulumi.export(key, value)
'''


@dataclass(frozen=True)
class Handout:
    directory: Path
    stack: str
    spec: LabSpec                  # the spec the handout's config loads into
    files: tuple[Path, ...]        # every file written, relative to directory


def materialized(spec: LabSpec) -> LabSpec:
    """The spec as plain settings: what it renders, without the list of what was baked in."""
    return replace(spec, faults=(), allow_faults=False, scenario=None, dressing=())


def stack_config(spec: LabSpec) -> dict[str, Any]:
    """The handout's config for a (fault-injected) spec."""
    return to_config(materialized(spec))


def write_handout(values: Mapping[str, Any], stack: str, directory: Path) -> Handout:
    """Write the handout of the stack with these config values into `directory` (created;
    it must be empty if it exists). Raises ConfigError on bad config, before writing.
    Without gcp:project in the values, the config is checked with a placeholder project and
    written without one (the candidate's stack sets its own)."""
    project = values.get("gcp:project")
    spec = build_spec({**values, "gcp:project": project or PLACEHOLDER_PROJECT}, stack=stack)
    config = stack_config(spec)
    if not project:
        config.pop("gcp:project", None)
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty")
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, text: str) -> None:
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(Path(name))

    write("Pulumi.yaml", _project_file())
    write(f"Pulumi.{stack}.yaml", _stack_file(stack, config))
    write("__main__.py", PROGRAM)
    write("requirements.txt", _requirements())
    # The brief names the project only where the config does.
    brief_spec = materialized(spec) if project else \
        replace(materialized(spec), gcp=replace(spec.gcp, project=""))
    write("README.md", candidate_brief(brief_spec, candidate_tasks(spec)))
    write(".gitignore", "venv/\n__pycache__/\n*.pyc\n")
    for package in PACKAGES:
        for source in sorted((PROJECT_DIR / package).rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts \
                    and source.suffix != ".pyc":
                name = source.relative_to(PROJECT_DIR)
                (directory / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, directory / name)
                if source.suffix == ".py" and INTERVIEWER_ONLY in (text := source.read_text()):
                    (directory / name).write_text(candidate_copy(text))
                written.append(name)
    _commit(directory, stack)
    return Handout(directory=directory, stack=stack, spec=materialized(spec),
                   files=tuple(written))


# Lines of the code between these markers (the spec's fault fields) are the interviewer's:
# the candidate's copy has neither them nor the markers.
INTERVIEWER_ONLY, INTERVIEWER_ONLY_END = "# interviewer-only: begin", "# interviewer-only: end"


def candidate_copy(text: str) -> str:
    """The source without its interviewer-only blocks."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        marker = line.strip()
        if marker.startswith(INTERVIEWER_ONLY):
            inside = True
        elif marker == INTERVIEWER_ONLY_END:
            inside = False
        elif not inside:
            kept.append(line)
    return re.sub(r"\n{4,}", "\n\n\n", "".join(kept))   # two blank lines at most, as before


def _commit(directory: Path, stack: str) -> None:
    """The handout as a repository of one commit, by an author that is gpu-lab (not whoever
    writes it), on a branch named main whatever git's default."""
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(directory), "-c", "user.name=gpu-lab",
                        "-c", "user.email=gpu-lab@localhost", "-c", "commit.gpgsign=false",
                        *args], check=True, capture_output=True, text=True)
    git("init", "--quiet", "--initial-branch=main")
    git("add", "--all")
    git("commit", "--quiet", "--no-verify", "-m", f"Stack {stack} of the gpu-lab platform")


def _project_file() -> str:
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    project["description"] = DESCRIPTION
    return yaml.safe_dump(project, sort_keys=False, width=100)


def _stack_file(stack: str, config: dict[str, Any]) -> str:
    header = (f"# Stack {stack} of the gpu-lab platform: GCP project and region, the cluster, "
              "its node pools,\n# add-ons, tenants and workloads. Change it (or the code), "
              "commit, and ask for an apply.\n")
    if "gcp:project" not in config and config.get("gpu-lab:platform") == "gke":
        header += "#   pulumi config set gcp:project <your-project>\n"
    return header + yaml.safe_dump({"config": config}, sort_keys=False, width=100)


def _requirements() -> str:
    wanted = {name.lower() for name in RUNTIME_REQUIREMENTS}
    pinned = []
    for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines():
        name = re.split(r"[=<>!~\[ ;]", line.strip(), maxsplit=1)[0]
        if name and not line.lstrip().startswith("#") and name.lower() in wanted:
            pinned.append(line.strip())
    missing = wanted - {re.split(r"[=<>!~\[ ;]", p, maxsplit=1)[0].lower() for p in pinned}
    if missing:
        raise RuntimeError(f"requirements.txt pins none of {sorted(missing)}")
    return "# What the Pulumi program needs (pip install -r requirements.txt).\n" \
        + "\n".join(pinned) + "\n"
