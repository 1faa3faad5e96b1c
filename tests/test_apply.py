"""`gpu-lab apply`: the candidate's handout reaches the interviewer's stack through a preview
and `pulumi up` with the interviewer's backend; offline, the preview from mocks. Handouts are
written by lab/handout.py and edited here as a candidate would."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lab import apply as applying
from lab import stacks
from lab.render import render
from lab.cli import app
from lab.handout import write_handout

runner = CliRunner()
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)
STACK = "alice"
GIT = ["git", "-c", "user.name=Candidate", "-c", "user.email=candidate@example.com"]


def interviewer_config() -> dict:
    """The config `lab new alice --scenario pairing` records."""
    return stacks.candidate_config(STACK, "pairing", "acme-interviews", 8, "tenant-a", NOW)


def committed_handout(directory: Path, values: dict, stack: str = STACK) -> Path:
    """A handout as the candidate gets it: a git repository with one commit."""
    write_handout(values, stack, directory)
    if not (directory / ".git").exists():
        subprocess.run(["git", "init", "-q", str(directory)], check=True)
        subprocess.run(["git", "-C", str(directory), "add", "-A"], check=True)
        subprocess.run([*GIT, "-C", str(directory), "commit", "-qm", "handout"], check=True)
    return directory


def edit_config(directory: Path, change, stack: str = STACK, commit: str = "") -> None:
    """Change the handout's stack file as the candidate would (keeping its header)."""
    path = directory / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    document = yaml.safe_load(text)
    change(document["config"])
    path.write_text(header + yaml.safe_dump(document, sort_keys=False, width=100))
    if commit:
        subprocess.run([*GIT, "-C", str(directory), "commit", "-qam", commit], check=True)


def offline(directory: Path, values: dict, stack: str = STACK) -> applying.Preview:
    source = applying.read_handout(directory, stack)
    applying.check_keys(source, values)
    return applying.offline_preview(values, stack, applying.render_handout(source))


def by_name(preview: applying.Preview) -> dict[str, applying.Change]:
    return {change.name: change for change in preview.changes}


@pytest.fixture
def candidates(tmp_path, monkeypatch):
    """The interviewer's candidates/ (alice's recorded config) and reports/ in tmp_path."""
    monkeypatch.setattr(stacks, "CANDIDATES_DIR", tmp_path / "candidates")
    monkeypatch.setattr(applying, "APPLIES_DIR", tmp_path / "reports")
    stacks.record_config(STACK, interviewer_config())
    return tmp_path / "candidates" / STACK


# -- the offline preview ----------------------------------------------------------------------

def test_untouched_handout_previews_no_changes_offline(tmp_path, candidates, monkeypatch):
    """(a) The handout as given, through the command without the Pulumi CLI: no changes, said
    to be an offline preview, nothing applied (exit 1), the apply recorded."""
    def no_cli():
        raise stacks.LabError(stacks.INSTALL_HINT)
    monkeypatch.setattr(stacks, "require_cli", no_cli)
    handout = committed_handout(tmp_path / "handout", interviewer_config())
    result = runner.invoke(app, ["apply", STACK, "--handout", str(handout), "--yes"])
    assert result.exit_code == 1, result.output
    assert "0 files changed since first commit" in result.output
    total = len(render(interviewer_config(), stack=STACK).resources)
    assert f"Offline preview of stack {STACK}: no changes ({total} resources unchanged)" in \
        result.output
    assert "computed offline" in result.output and "Nothing was applied" in result.output
    assert "`pulumi up` needs the Pulumi CLI" in result.output and "get.pulumi.com" in \
        result.output
    [entry] = applying.recorded(STACK)
    assert applying.applies_path(STACK) == candidates / "applies.jsonl"
    assert entry["result"] == "not applied: no Pulumi CLI (offline preview)"
    assert entry["preview"]["mode"] == "offline" and entry["preview"]["changes"] == []
    assert entry["handout_diff"]["diff"] == "" and entry["handout_diff"]["files"] == []
    assert "faults" not in result.output.lower()


def test_workload_and_pool_edits_are_updates_and_replaces(tmp_path):
    """(b) A workload's config: an update of its Deployment, with the changed inputs. (c) Node
    pools: a machine type is changed in place (terraform-provider-google updates
    node_config.machine_type since v5.10.0; GKE re-creates the nodes), a ForceNew field
    (node_config.spot) replaces the pool. Nothing else changes."""
    values = interviewer_config()
    handout = committed_handout(tmp_path / "handout", values)

    before = {}

    def change(config):
        workload = next(w for w in config["gpu-lab:workloads"]
                        if (w["tenant"], w["name"]) == ("tenant-a", "infer"))
        before.update(batch=workload["batchSize"], memory=workload["memory"])
        workload["batchSize"] = 7
        workload["memory"] = "6Gi"
        config["gpu-lab:gpuPools"][0]["machineType"] = "n1-standard-8"
        config["gpu-lab:systemPool"]["spot"] = True
    edit_config(handout, change, commit="smaller batches, bigger GPU nodes, a Spot system pool")
    preview = offline(handout, values)
    changes = by_name(preview)
    assert sorted(changes) == ["lab-gke-system", "lab-gpu-t4", "lab-tenant-a-infer-deployment"]
    deployment = changes["lab-tenant-a-infer-deployment"]
    assert (deployment.op, deployment.type) == ("update", "kubernetes:apps/v1:Deployment")
    assert deployment.keys == [
        f"spec.template.spec.containers[0].args[3]: {before['batch']} -> 7",
        f"spec.template.spec.containers[0].resources.limits.memory: {before['memory']} -> 6Gi",
        f"spec.template.spec.containers[0].resources.requests.memory: {before['memory']} -> 6Gi"]
    gpu_pool = changes["lab-gpu-t4"]
    assert (gpu_pool.op, gpu_pool.type) == ("update", "gcp:container/nodePool:NodePool")
    assert gpu_pool.keys == ["nodeConfig.machineType: n1-standard-4 -> n1-standard-8"]
    assert gpu_pool.notes == ["in place: GKE re-creates the pool's nodes with the new machine "
                              "type"]
    system = changes["lab-gke-system"]
    assert system.op == "replace" and system.replace_keys == ["nodeConfig.spot"]
    assert system.keys == ["nodeConfig.spot: false -> true (forces replacement)"]
    total = len(render(values, stack=STACK).resources)
    assert preview.summary() == {"create": 0, "update": 2, "replace": 1, "delete": 0,
                                 "same": total - 3}
    assert preview.outputs == ["nodePools"]
    text = "\n".join(preview.lines())
    assert "+- replace gcp:container/nodePool:NodePool lab-gke-system: nodeConfig.spot" in text


def test_removed_tenant_is_deleted(tmp_path):
    """(d) tenant-b and its workload gone from the config: everything of theirs is deleted
    (namespace, quotas, RBAC, policies, the workload, the candidate's binding there), nothing
    else changes."""
    values = interviewer_config()
    handout = committed_handout(tmp_path / "handout", values)

    def change(config):
        config["gpu-lab:tenants"] = [t for t in config["gpu-lab:tenants"]
                                     if t["name"] != "tenant-b"]
        config["gpu-lab:workloads"] = [w for w in config["gpu-lab:workloads"]
                                       if w["tenant"] != "tenant-b"]
    edit_config(handout, change)          # not committed: the working tree is what applies
    preview = offline(handout, values)
    assert {c.op for c in preview.changes} == {"delete"}
    deleted = {(c.type, c.name) for c in preview.changes}
    for expected in [("kubernetes:core/v1:Namespace", "lab-tenant-b-namespace"),
                     ("kubernetes:core/v1:ResourceQuota", "lab-tenant-b-quota"),
                     ("kubernetes:apps/v1:Deployment", "lab-tenant-b-infer-deployment"),
                     ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
                      "lab-candidate-tenant-b"),
                     ("gpu-lab:tenant:Tenant", "lab-tenant-b")]:
        assert expected in deleted
    assert all("tenant-b" in name for _, name in deleted)
    rendered = render(values, stack=STACK).resources
    of_b = [r for r in rendered if "tenant-b" in r.name]
    assert preview.count("delete") == len(of_b) and \
        preview.unchanged == len(rendered) - len(of_b)
    assert preview.outputs == ["tenants", "workloads"]
    diff = applying.handout_diff(handout, lambda path: None)
    assert diff.uncommitted and diff.files == (f"M Pulumi.{STACK}.yaml",)
    assert "-  - name: tenant-b" in diff.text


def test_replacement_rules_follow_the_providers():
    """The rules, on inputs alone: Kubernetes replaces on metadata.name and namespace, a
    Deployment's spec.selector, a Job's spec.template, a ConfigMap's data (unless the provider
    makes ConfigMaps mutable); GCP on ForceNew fields, a subnetwork's range only when it
    shrinks; a kubeconfig pointing at another cluster replaces the provider."""
    rules = applying.replacement_keys
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "infer", "namespace": "tenant-a"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "infer"}},
                           "template": {"spec": {"containers": [{"image": "a"}]}}}}
    moved = json.loads(json.dumps(deployment))
    moved["spec"]["selector"]["matchLabels"]["app"] = "infer2"
    moved["spec"]["template"]["spec"]["containers"][0]["image"] = "b"
    assert rules("kubernetes:apps/v1:Deployment", deployment, moved, {}, []) == \
        ["spec.selector"]
    renamed = {**deployment, "metadata": {"name": "infer", "namespace": "tenant-b"}}
    assert rules("kubernetes:apps/v1:Deployment", deployment, renamed, {}, []) == \
        ["metadata.namespace"]
    job = {**deployment, "apiVersion": "batch/v1", "kind": "Job"}
    job_changed = {**moved, "apiVersion": "batch/v1", "kind": "Job"}
    assert "spec.template" in rules("kubernetes:batch/v1:Job", job, job_changed, {}, [])
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"},
                  "data": {"infer.py": "print(1)"}}
    edited = {**config_map, "data": {"infer.py": "print(2)"}}
    assert rules("kubernetes:core/v1:ConfigMap", config_map, edited, {}, []) == ["data"]
    assert rules("kubernetes:core/v1:ConfigMap", config_map, edited,
                 {"enableConfigMapMutable": "true"}, []) == []
    subnet = {"name": "nodes", "ipCidrRange": "10.10.0.0/20"}
    assert applying.replacement_keys("gcp:compute/subnetwork:Subnetwork", subnet,
                                     {**subnet, "ipCidrRange": "10.10.0.0/19"}, {}, []) == []
    assert applying.replacement_keys("gcp:compute/subnetwork:Subnetwork", subnet,
                                     {**subnet, "ipCidrRange": "10.10.0.0/21"}, {}, []) == \
        ["ipCidrRange"]
    kubeconfig = ("apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: https://%s}\n"
                  "contexts:\n- name: c\n  context: {cluster: c, user: u}\n"
                  "current-context: c\nusers:\n- name: u\n  user: {token: %s}\n")
    before = {"kubeconfig": {"$secret": kubeconfig % ("203.0.113.10", "a")}}
    assert rules("pulumi:providers:kubernetes", before,
                 {"kubeconfig": {"$secret": kubeconfig % ("203.0.113.10", "b")}}, {}, []) == []
    assert rules("pulumi:providers:kubernetes", before,
                 {"kubeconfig": {"$secret": kubeconfig % ("203.0.113.99", "a")}}, {}, []) == \
        ["kubeconfig"]


def test_faults_output_is_hidden_from_the_engines_output():
    seen = []
    hide = applying.hide_output(seen.append)
    for line in ["Outputs:\n", "    clusterName: \"gpu-lab-alice\"\n", "  - faults     : [\n",
                 "  -     [0]: {\n", "  -         id    : \"rbac-cross-tenant-read\"\n",
                 "  -     }\n", "  - ]\n", "    kubeconfig : [secret]\n", "\n",
                 "Resources:\n"]:
        hide(line)
    assert "".join(seen) == ("Outputs:\n    clusterName: \"gpu-lab-alice\"\n"
                             "    kubeconfig : [secret]\n\nResources:\n")


# -- refusals -------------------------------------------------------------------------------

def test_handout_of_another_stack_is_refused(tmp_path, candidates):
    handout = committed_handout(tmp_path / "bob", interviewer_config(), stack="bob")
    result = runner.invoke(app, ["apply", STACK, "--handout", str(handout), "--yes"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"--handout {handout}: the handout was made for stack bob (Pulumi.bob.yaml), not "
        f"{STACK}: judge it as STACK bob, or give {STACK}'s handout")
    assert applying.recorded(STACK) == []


def test_broken_handout_prints_its_config_error_whole(tmp_path, candidates):
    handout = committed_handout(tmp_path / "handout", interviewer_config())

    def change(config):
        config["gpu-lab:gpuPools"][0]["machineType"] = "n1-standard-3"
        config["gpu-lab:tenants"][0]["gpus"] = -1
    edit_config(handout, change, commit="broken")
    result = runner.invoke(app, ["apply", STACK, "--handout", str(handout), "--yes"])
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "the handout's config does not load: gpu-lab config has 2 problems:"
    assert len(lines) == 3 and all(line.startswith("  - gpu-lab:") for line in lines[1:])
    assert "Traceback" not in result.output
    [entry] = applying.recorded(STACK)
    assert entry["result"].startswith("refused: the handout's config does not load")


def test_interviewer_keys_and_another_project_are_refused(tmp_path, candidates):
    handout = committed_handout(tmp_path / "handout", interviewer_config())
    edit_config(handout, lambda config: config.update({"gpu-lab:faults": []}))
    result = runner.invoke(app, ["apply", STACK, "--handout", str(handout), "--yes"])
    assert result.exit_code == 2 and "sets gpu-lab:faults: only the interviewer's stack" in \
        result.stderr
    edit_config(handout, lambda config: (config.pop("gpu-lab:faults"),
                                         config.update({"gcp:project": "elsewhere"})))
    result = runner.invoke(app, ["apply", STACK, "--handout", str(handout), "--yes"])
    assert result.exit_code == 2 and "gcp:project is 'elsewhere', the stack's is " \
        "'acme-interviews'" in result.stderr


# -- applying, against the Automation API's boundary -------------------------------------------

DEPLOYMENT_URN = ("urn:pulumi:alice::gpu-lab::gpu-lab:lab:Lab$gpu-lab:workload:"
                  "InferenceWorkload$kubernetes:apps/v1:Deployment::lab-tenant-a-infer-"
                  "deployment")


class FakeStack:
    """The slice of automation.Stack that `lab apply` uses, recording what it was given."""

    def __init__(self, name):
        self.name = name
        self.calls = []

    def preview(self, on_event=None, config_file=None):
        from pulumi.automation import events
        self.calls.append(("preview", yaml.safe_load(Path(config_file).read_text())))
        for op, urn, diffs in (("same", DEPLOYMENT_URN.replace("infer-deployment", "quota"),
                                []),
                               ("update", DEPLOYMENT_URN, ["spec"])):
            on_event(events.EngineEvent.from_json({
                "sequence": 1, "timestamp": 0, "resourcePreEvent": {"metadata": {
                    "op": op, "urn": urn, "type": urn.split("$")[-1].split("::")[0],
                    "provider": "", "diffs": diffs, "detailedDiff": {
                        "spec.template.spec.containers[0].args[5]": {
                            "diffKind": "update", "inputDiff": True}} if diffs else None}}}))

    def up(self, on_output=None, config_file=None):
        self.calls.append(("up", Path(config_file).read_text()))
        for line in ["Updating (alice):\n", "  ~ kubernetes:apps/v1:Deployment updated\n",
                     "Outputs:\n", "  - faults: [\n", "  -     [0]: \"cpu-fallback\"\n",
                     "  - ]\n", "    clusterName: \"gpu-lab-alice\"\n"]:
            on_output(line)
        return type("UpResult", (), {"outputs": {}})()


def test_yes_runs_up_on_the_interviewers_stack_and_records_it(tmp_path, candidates,
                                                              monkeypatch):
    from pulumi import automation as auto

    selected = []
    alice = FakeStack(STACK)

    def select_stack(stack_name, work_dir, opts):
        selected.append((stack_name, work_dir, opts))
        return alice

    monkeypatch.setattr(stacks, "require_cli", lambda: "/usr/local/bin/pulumi")
    monkeypatch.setattr(auto, "select_stack", select_stack)
    monkeypatch.setenv("PULUMI_BACKEND_URL", "gs://acme-pulumi-state")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "interviewer-passphrase")
    # the interviewer's workspace keeps the stack's secrets settings in its stack file
    monkeypatch.setattr(applying, "STACK_FILES_DIR", tmp_path)
    (tmp_path / f"Pulumi.{STACK}.yaml").write_text(
        "encryptionsalt: v1:salt:abc\nconfig:\n  gpu-lab:allowFaults: 'true'\n")
    handout = committed_handout(tmp_path / "handout", interviewer_config())
    edit_config(handout, lambda config: config["gpu-lab:workloads"][0].update(batchSize=16),
                commit="smaller batches")
    before = {p: p.read_bytes() for p in handout.rglob("*") if p.is_file() and
              ".git" not in p.parts}

    result = runner.invoke(app, ["apply", STACK, "--handout", str(handout), "--yes"])
    assert result.exit_code == 0, result.output
    # the interviewer's stack, the handout as work_dir, the interviewer's backend
    [(name, work_dir, opts)] = selected
    assert (name, Path(work_dir), Path(opts.work_dir)) == (STACK, handout, handout)
    assert opts.env_vars == {"PULUMI_BACKEND_URL": "gs://acme-pulumi-state",
                             "PULUMI_CONFIG_PASSPHRASE": "interviewer-passphrase"}
    (_, previewed), (_, applied) = alice.calls
    # the handout's config with the stack's project and secrets settings, no interviewer key
    assert previewed["encryptionsalt"] == "v1:salt:abc"
    assert previewed["config"]["gcp:project"] == "acme-interviews"
    assert previewed["config"]["gpu-lab:workloads"][0]["batchSize"] == 16
    assert not set(applying.INTERVIEWER_KEYS) & set(previewed["config"])
    assert yaml.safe_load(applied) == previewed
    # the engine's preview, then its output streamed without the faults output
    assert "Preview of stack alice: 1 to update, 1 unchanged" in result.output
    assert "~  update  kubernetes:apps/v1:Deployment lab-tenant-a-infer-deployment: " \
           "spec.template.spec.containers[0].args[5]" in result.output
    assert "kubernetes:apps/v1:Deployment updated" in result.output
    assert "faults" not in result.output and "cpu-fallback" not in result.output
    assert "clusterName" in result.output
    # nothing of the handout was written
    assert before == {p: p.read_bytes() for p in handout.rglob("*") if p.is_file() and
                      ".git" not in p.parts}
    [entry] = applying.recorded(STACK)
    assert entry["result"] == "applied" and entry["preview"]["mode"] == "engine"
    assert entry["preview"]["summary"] == {"create": 0, "update": 1, "replace": 0,
                                           "delete": 0, "same": 1}
    assert entry["handout_diff"]["files"] == [f"M Pulumi.{STACK}.yaml"]
    assert "+    batchSize: 16" in entry["handout_diff"]["diff"]
    assert not entry["handout_diff"]["uncommitted"]

    # without --yes and without a terminal: the preview, nothing applied (the handout's
    # rendering, checked above, is reused: these runs are about asking)
    rendering = applying.render_handout(applying.read_handout(handout, STACK))
    monkeypatch.setattr(applying, "render_handout", lambda source: rendering)
    alice.calls.clear()
    result = runner.invoke(app, ["apply", STACK, "--handout", str(handout)])
    assert result.exit_code == 1 and [c[0] for c in alice.calls] == ["preview"]
    assert "give --yes" in result.stderr
    # declined at the prompt
    monkeypatch.setattr(applying, "interactive", lambda: True)
    result = runner.invoke(app, ["apply", STACK, "--handout", str(handout)], input="n\n")
    assert result.exit_code == 1 and [c[0] for c in alice.calls] == ["preview", "preview"]
    assert [e["result"] for e in applying.recorded(STACK)] == [
        "applied", "not applied: not confirmed (no --yes, stdin is not a terminal)",
        "not applied: declined"]

    # the report carries the applies
    report = _report(tmp_path, handout)
    assert [a["result"] for a in report["applies"]] == [e["result"] for e in
                                                        applying.recorded(STACK)]


def _report(tmp_path: Path, handout: Path) -> dict:
    """`gpu-lab report` of alice (its recorded config as a stack file) on the handout."""
    config = tmp_path / f"Pulumi.{STACK}.yaml"
    config.write_text(yaml.safe_dump({"config": interviewer_config()}))
    result = runner.invoke(app, ["report", "--config-file", str(config), "--handout",
                                 str(handout), "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    [path] = (tmp_path / "out").glob(f"{STACK}-*[0-9].json")
    return json.loads(path.read_text())


# -- what the interviewer is shown before anything runs ----------------------------------------

def test_a_change_that_widens_the_login_is_refused_with_its_diff_shown(tmp_path, candidates,
                                                                       monkeypatch):
    """A binding that hands the candidate's own login tenant-b's admin role: the diff is
    printed, the rights it grants are named as verify names them, and it is refused (exit 2,
    recorded) even with --yes."""
    monkeypatch.setattr(stacks, "require_cli", lambda: "/usr/local/bin/pulumi")
    handout = committed_handout(tmp_path / "handout", interviewer_config())

    def bind_the_login(config):
        tenant_b = next(t for t in config["gpu-lab:tenants"] if t["name"] == "tenant-b")
        tenant_b["roleBindings"].append({"name": "ops", "roleKind": "ClusterRole",
                                         "role": "admin",
                                         "serviceAccounts": ["gpu-lab-candidate/candidate"]})
    edit_config(handout, bind_the_login, commit="ops access")
    result = runner.invoke(app, ["apply", STACK, "--handout", str(handout), "--yes"])
    assert result.exit_code == 2, result.output
    assert "+      - gpu-lab-candidate/candidate" in result.output
    assert "Rights the change grants that the stack does not:" in result.output
    assert "system:serviceaccount:gpu-lab-candidate:candidate" in result.output
    assert "get secrets in tenant-b" in result.output
    assert "refused: the change gives the candidate's login rights" in result.stderr
    assert [e["result"] for e in applying.recorded(STACK)] == [
        "refused: the change widens the candidate's login"]


def test_the_candidates_code_reaches_neither_the_catalog_nor_the_credentials(
        tmp_path, candidates, monkeypatch):
    """Code in the handout runs in the interviewer's process for the offline checks: while it
    runs, this project's fault catalog cannot be imported and secrets are out of the
    environment; both are back afterwards. The command names the changed code files."""
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "interviewer-passphrase")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/home/interviewer/key.json")
    handout = committed_handout(tmp_path / "handout", interviewer_config())
    program = handout / "__main__.py"
    program.write_text(program.read_text() + (
        "\nimport os as _os\n"
        "try:\n"
        "    import faults as _catalog\n"
        "    _reached = 'catalog'\n"
        "except ModuleNotFoundError:\n"
        "    _reached = 'nothing'\n"
        "pulumi.export('probe', [_reached, _os.environ.get('PULUMI_CONFIG_PASSPHRASE'),\n"
        "                        _os.environ.get('GOOGLE_APPLICATION_CREDENTIALS')])\n"))
    rendering = applying.render_handout(applying.read_handout(handout, STACK))
    assert rendering.outputs["probe"] == ["nothing", None, None]
    import os

    import faults
    assert os.environ["PULUMI_CONFIG_PASSPHRASE"] == "interviewer-passphrase"
    assert faults.FAULTS                     # the catalog is back for the interviewer

    def no_cli():
        raise stacks.LabError(stacks.INSTALL_HINT)
    monkeypatch.setattr(stacks, "require_cli", no_cli)
    result = runner.invoke(app, ["apply", STACK, "--handout", str(handout)])
    assert "The change touches the program's code (__main__.py)" in result.output
    assert "+pulumi.export('probe'" in result.output
