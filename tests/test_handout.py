"""The candidate's handout: renders exactly what the interviewer's stack renders, and names no
fault, for every shipped stack and scenario."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from faults import config as fault_config
from faults import FAULTS, SCENARIOS, build_spec, enabled, expand
from lab.cli import app
from lab.guide import candidate_brief, candidate_tasks, interviewer_guide
from lab.grading import baseline_values
from lab.handout import PACKAGES, PROGRAM, materialized, write_handout
from lab.render import render
from model import load_spec
from model.source import PROJECT_DIR, read_stack_file
from tests.helpers import stack_values

STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
CASES = [f"stack:{s}" for s in STACKS] + [f"scenario:{s}" for s in sorted(SCENARIOS)]
FAULT_WORD = re.compile(r"\bfaults?\b", re.IGNORECASE)
runner = CliRunner()


def case_values(case: str) -> tuple[dict, str]:
    kind, _, name = case.partition(":")
    if kind == "stack":
        return stack_values(name), name
    return ({"gcp:project": "gpu-lab-test", "gpu-lab:allowFaults": True,
             "gpu-lab:scenario": name}, "interview")


class Case:
    """One stack's handout, written and rendered once for every test that looks at it."""

    def __init__(self, case: str, directory: Path):
        self.values, self.stack = case_values(case)
        self.spec = build_spec(self.values, stack=self.stack)
        self.handout = write_handout(self.values, self.stack, directory)
        self.dir = directory
        self.config = read_stack_file(directory / f"Pulumi.{self.stack}.yaml")
        self._renders = None

    @property
    def renders(self):
        if self._renders is None:
            self._renders = (render(self.values, stack=self.stack),
                             render(self.config, stack=self.stack,
                                    program=self.dir / "__main__.py"))
        return self._renders

    def files(self) -> dict[str, str]:
        return {str(p.relative_to(self.dir)): p.read_text() for p in sorted(self.dir.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts and ".git" not in p.parts}


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    made: dict[str, Case] = {}

    def get(case: str) -> Case:
        if case not in made:
            made[case] = Case(case, tmp_path_factory.mktemp("handout"))
        return made[case]
    return get


def records(rendering):
    return [(r.type, r.name, r.parent, r.provider, r.inputs, r.options)
            for r in rendering.resources]


# -- identical to what runs ------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_the_handout_registers_exactly_what_the_stack_registers(cases, case):
    c = cases(case)
    theirs, ours = c.renders
    assert len(ours.resources) == len(theirs.resources) > 50
    for mine, interviewer in zip(records(ours), records(theirs)):
        assert mine == interviewer, interviewer[:2]
    # Same types, names and parents (hence URNs; explicit providers by URN), inputs, options.
    assert records(ours) == records(theirs)
    assert "faults" in theirs.outputs and "faults" not in ours.outputs
    assert ours.outputs == {k: v for k, v in theirs.outputs.items() if k != "faults"}


def test_the_render_runs_the_handouts_own_code(cases, tmp_path):
    """Not vacuous: the handout's program imports its own copies of the packages."""
    c = cases("stack:dev")
    other = tmp_path / "edited"
    shutil.copytree(c.dir, other)
    defaults = other / "tenants" / "defaults.py"
    defaults.write_text(defaults.read_text().replace("waits for free GPUs", "waits, politely"))
    before = sys.modules["tenants.defaults"]
    edited = render(c.config, stack=c.stack, program=other / "__main__.py")
    assert sys.modules["tenants.defaults"] is before       # this project's modules are back
    theirs, ours = c.renders
    changed = [r for r, o in zip(records(edited), records(ours)) if r != o]
    assert [r[1] for r in changed] == ["lab-priorities-experiment-low"]
    assert records(render(c.values, stack=c.stack)) == records(theirs)


# -- what the handout contains -----------------------------------------------------------------

def test_the_handout_is_a_project_without_the_catalog(cases):
    c = cases("stack:pairing")
    top = {p.name for p in c.dir.iterdir()}
    assert top == {"Pulumi.yaml", "Pulumi.pairing.yaml", "__main__.py", "requirements.txt",
                   "README.md", ".gitignore", ".git", *PACKAGES}
    for package in ("components", "model", "tenants"):
        assert (c.dir / package / "__init__.py").is_file()
    assert (c.dir / "workload" / "infer.py").read_text() == \
        (PROJECT_DIR / "workload" / "infer.py").read_text()
    assert (c.dir / "Pulumi.yaml").read_text().startswith("name: gpu-lab\n")
    assert (c.dir / "__main__.py").read_text() == PROGRAM
    program = ast.parse(PROGRAM)
    imported = {alias.name.partition(".")[0] for node in ast.walk(program)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.partition(".")[0] for node in ast.walk(program)
                 if isinstance(node, ast.ImportFrom)}
    assert imported == {"pulumi", "model", "components"}
    assert set(c.handout.files) == {Path(f) for f in c.files()}


def test_the_handout_is_a_repository_of_one_commit(cases, tmp_path):
    """The candidate's change is `git diff`: every file written is in the one commit and the
    tree is clean; an edit shows up as a diff."""
    c = cases("stack:pairing")

    def git(*args: str, cwd: Path = c.dir) -> str:
        return subprocess.run(["git", "-C", str(cwd), *args], check=True,
                              capture_output=True, text=True).stdout
    assert git("rev-list", "--count", "HEAD").strip() == "1"
    assert git("status", "--porcelain") == ""
    assert set(git("ls-files").split()) == {str(f) for f in c.handout.files}
    assert "fault" not in git("log", "--format=%an %ae %s").lower()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(c.dir), str(clone)], check=True)
    stack_file = clone / "Pulumi.pairing.yaml"
    stack_file.write_text(stack_file.read_text().replace("replicas: 2", "replicas: 1", 1))
    diff = git("diff", cwd=clone).splitlines()
    assert "-    replicas: 2" in diff and "+    replicas: 1" in diff


def test_requirements_cover_the_program_and_nothing_else(cases):
    c = cases("stack:pairing")
    pinned = {re.split(r"[=<>~\[]", line)[0].lower() for line in
              (c.dir / "requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    assert not pinned & {"pytest", "moto", "torch", "boto3", "kubernetes", "typer", "numpy"}
    distributions = {"pulumi": "pulumi", "pulumi_gcp": "pulumi-gcp",
                     "pulumi_kubernetes": "pulumi-kubernetes", "pulumi_random": "pulumi-random",
                     "yaml": "pyyaml"}
    local = set(PACKAGES)
    needed = set()
    sources = [c.dir / "__main__.py", *(source for package in ("components", "model", "tenants")
                                        for source in sorted((c.dir / package).rglob("*.py")))]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            needed |= {name.partition(".")[0] for name in names} - local \
                - set(sys.stdlib_module_names)
    assert needed <= set(distributions), needed
    assert {distributions[n] for n in needed} <= pinned


# -- nothing gives a fault away ----------------------------------------------------------------

def sentences(text: str) -> set[str]:
    """The text and each sentence, clause or line of it long enough to be telling (a few
    words, not a bare name that the cluster's own objects carry too)."""
    parts = re.split(r"(?<=[^.][.;!?])\s+|\n", text)
    return {text.strip()} | {p.strip() for p in parts
                             if len(p.strip()) >= 30 and len(p.split()) >= 4}


def forbidden(spec) -> set[str]:
    """Every fault id, each of the stack's faults' title, symptom, hints, fix and rubric (as the
    guide fills them in), every scenario's name, title, description and good answers, and
    the switch that allows faults."""
    texts = set(FAULTS) | {"allowFaults"}
    for fault, params in enabled(spec):
        info = fault.describe(params, spec)
        for text in (info["title"], info["symptom"], info["fix"], info["look_for"],
                     *info["hints"]):
            texts |= sentences(text)
    for scenario in SCENARIOS.values():
        texts |= {scenario.name, scenario.title} | sentences(scenario.description)
        for _, _, good in scenario.tasks:
            texts |= sentences(good)
    return texts


@pytest.mark.parametrize("case", CASES)
def test_nothing_in_the_handout_names_a_fault(cases, case):
    c = cases(case)
    _, ours = c.renders
    # The stack's own name is the interviewer's choice (`lab new` names it after the
    # candidate) and is part of every URN: it is the one word left as it is.
    hide = lambda text: text.replace(c.stack, "<stack>")  # noqa: E731
    generated = {name: hide(text) for name, text in c.files().items()
                 if name.partition("/")[0] not in PACKAGES}
    copied = {name: hide(text) for name, text in c.files().items()
              if name.partition("/")[0] in PACKAGES}
    outputs = hide(json.dumps(ours.outputs))
    assert {"README.md", "Pulumi.<stack>.yaml", "__main__.py"} <= {
        hide(name) for name in c.files()}
    texts = forbidden(c.spec)
    assert len(texts) > 40
    if c.spec.faults:       # the same scan finds the faults in what the interviewer reads
        guide = interviewer_guide(c.spec)
        assert sum(t in guide for t in texts) > 3 * len(c.spec.faults)
        assert FAULT_WORD.search(json.dumps(c.renders[0].outputs))
    for name, text in [*generated.items(), *copied.items(), ("stack outputs", outputs)]:
        found = sorted(t for t in texts if t in text)
        assert found == [], name
    for name, text in [*generated.items(), ("stack outputs", outputs)]:
        assert not FAULT_WORD.search(text), (name, FAULT_WORD.search(text))
    # The catalog's config keys are gone from the config, and the packages do not name them:
    # the interviewer's keys are read by faults/, which the handout leaves out.
    assert not {"gpu-lab:faults", "gpu-lab:scenario", "gpu-lab:allowFaults"} & set(c.config)
    assert [n for n, t in copied.items() if "allowFaults" in t or "gpu-lab:scenario" in t] == []
    # The copied code does not speak of faults at all, nor of the interviewer's fields.
    assert [n for n, t in copied.items()
            if re.search(r"(?<!de)fault|interviewer-only|dressing", t, re.IGNORECASE)] == []


@pytest.mark.parametrize("case", CASES)
def test_the_brief_comes_from_the_settings_alone(cases, case):
    c = cases(case)
    handout_spec = load_spec(c.config, stack=c.stack)
    assert candidate_brief(c.spec) == candidate_brief(handout_spec)
    tasks = candidate_tasks(c.spec)
    assert (c.dir / "README.md").read_text() == candidate_brief(handout_spec, tasks)
    # No figure a fault changes: the brief of the stack before its faults are injected is
    # the same.
    before = materialized(build_spec(baseline_values(c.values), stack=c.stack))
    assert candidate_brief(before) == candidate_brief(c.spec)
    if c.spec.faults:
        assert before != handout_spec


def test_the_brief_of_each_fault_alone_shows_nothing_it_changes():
    values = stack_values("all-faults")
    baseline = {k: v for k, v in values.items() if k != "gpu-lab:faults"}
    healthy = candidate_brief(build_spec(baseline, stack="t"))
    for ref in values["gpu-lab:faults"]:
        spec = build_spec({**baseline, "gpu-lab:faults": [ref]}, stack="t")
        assert candidate_brief(spec) == healthy, ref


# -- the command -------------------------------------------------------------------------------

def test_handout_command_writes_the_project(tmp_path):
    out = tmp_path / "alice"
    result = runner.invoke(app, ["handout", "--stack", "pairing", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "Pulumi.pairing.yaml").is_file() and (out / "README.md").is_file()
    # No gcp:project in the stack file: the candidate's stack sets its own.
    config = read_stack_file(out / "Pulumi.pairing.yaml")
    assert "gcp:project" not in config
    assert "pulumi config set gcp:project" in (out / "Pulumi.pairing.yaml").read_text()
    assert "project `" not in (out / "README.md").read_text()
    again = runner.invoke(app, ["handout", "--stack", "pairing", "-o", str(out)])
    assert again.exit_code == 2 and "not empty" in again.output


def test_handout_command_takes_a_config_file_and_refuses_bad_config(tmp_path):
    good = tmp_path / "Pulumi.bob.yaml"
    good.write_text("config:\n  gcp:project: acme\n  gpu-lab:allowFaults: true\n"
                    "  gpu-lab:scenario: gpu-readiness\n")
    result = runner.invoke(app, ["handout", "--config-file", str(good), "-o",
                                 str(tmp_path / "bob")])
    assert result.exit_code == 0, result.output
    config = read_stack_file(tmp_path / "bob" / "Pulumi.bob.yaml")
    assert config["gcp:project"] == "acme"
    assert [p.get("labels", {}).get("nvidia.com/gpu.deploy.device-plugin")
            for p in config["gpu-lab:gpuPools"]] == ["false"]
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  gcp:project: p\n  gpu-lab:faults: [cpu-fallback]\n")
    refused = runner.invoke(app, ["handout", "--config-file", str(bad), "-o",
                                  str(tmp_path / "bad")])
    assert refused.exit_code == 2 and "gpu-lab:allowFaults" in refused.output
    assert not (tmp_path / "bad").exists()
