"""Operating interviews: per-candidate stacks up to where the Pulumi CLI is needed, and the
report archive against moto's standalone S3 server over real HTTP on a loopback port."""

from dataclasses import replace
import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest
import yaml
from typer.testing import CliRunner

from faults import build_spec
from lab import stacks
from lab.archive import ArchiveError, build_report, parse_s3_url, save_local, upload
from lab.cli import app
from lab.verify import Verdict
from model import load_spec

runner = CliRunner()
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)


# -- per-candidate stacks -------------------------------------------------------------------

@pytest.mark.parametrize("command", [["new", "alice", "--project", "p"], ["destroy", "alice",
                                                                            "--yes"], ["list"],
                                     ["reset", "alice", "--yes"]])
def test_missing_cli_is_one_line_with_the_install_hint(command, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    assert result.output.strip() == stacks.INSTALL_HINT
    assert "get.pulumi.com" in result.output


@pytest.mark.parametrize("args, line", [
    (["new", "alice", "--scenario", "paring"],
     "--scenario 'paring': no such scenario (did you mean 'pairing'?); scenarios: pairing, "),
    (["new", "Alice"], "CANDIDATE 'Alice': use 2-24 lowercase letters, digits and '-'"),
    (["new", "alice", "--authorized-cidr", "10.0.0/8"],
     "--authorized-cidr '10.0.0/8': must be an IPv4 network with its prefix length, such as "
     "10.10.0.0/20"),
    (["new", "alice", "--authorized-cidr", "203.0.113.7/24"],
     "--authorized-cidr '203.0.113.7/24': has host bits set: the network is 203.0.113.0/24"),
    (["new", "alice", "--hours", "0"], "--hours 0: must be between 10 minutes (0.167) and a "
                                       "year (8760)"),
    (["new", "alice", "--hours", "inf"], "--hours inf: must be between 10 minutes"),
    (["new", "alice", "--hours", "nan"], "--hours nan: must be between 10 minutes"),
    (["new", "alice", "--tenant", "tenant-x"],
     "  - gpu-lab:candidate.tenant: got 'tenant-x'; must be one of the stack's tenants"),
])
def test_new_checks_its_arguments_before_looking_for_the_cli(args, line, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-interviews")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert line in result.stderr and "get.pulumi.com" not in result.output
    assert "Traceback" not in result.output


def test_new_without_a_project_names_the_option(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    for name in ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(app, ["new", "alice"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("--project: not given, and neither GOOGLE_CLOUD_PROJECT "
                                     "nor CLOUDSDK_CORE_PROJECT is set")


def test_candidate_stack_config_is_a_valid_interview_stack():
    config = stacks.candidate_config("alice", "pairing", "acme-interviews", 8, "tenant-a", NOW)
    assert config["gpu-lab:scenario"] == "pairing"
    assert config["gpu-lab:allowFaults"] is True
    assert config["gcp:project"] == "acme-interviews"
    assert config["gpu-lab:expiresAt"] == "2026-11-24T02:00:00Z"
    assert config["gpu-lab:cluster"]["name"] == "gpu-lab-alice"
    spec = build_spec(config, stack="alice")
    assert spec.expires_at == "2026-11-24T02:00:00Z"
    assert [f.id for f in spec.faults][0] == "rbac-cross-tenant-read"
    # the candidate's login is said in config, and its kubeconfig starts in tenant-a
    assert config["gpu-lab:candidate"] == {"login": True, "tenant": "tenant-a"}
    assert (spec.candidate_login, spec.candidate_tenant) == (True, "tenant-a")
    assert all("candidate" not in t.extra_service_accounts for t in spec.tenants)


def test_candidate_login_renders_and_reads_cluster_wide():
    """ServiceAccount gpu-lab-candidate/candidate (tests/test_candidate_access.py has the
    whole exercise): reads everywhere, deploys into tenants, no secrets, no RBAC writes."""
    from kube import ObjectSet, Subject, can_i
    from lab.render import render
    config = stacks.candidate_config("alice", "pairing", "p", 8, "tenant-b", NOW)
    rendering = render(config, stack="alice")
    objects = ObjectSet(rendering.kubernetes_objects())
    assert objects.get("ServiceAccount", "candidate", "gpu-lab-candidate") is not None
    assert objects.get("ServiceAccount", "candidate", "tenant-b") is None
    me = Subject.service_account("gpu-lab-candidate", "candidate")
    assert can_i(objects, me, "list", "nodes")
    assert can_i(objects, me, "list", "pods", "tenant-a")
    assert can_i(objects, me, "create", "jobs", "tenant-b")
    assert not can_i(objects, me, "create", "rolebindings", "tenant-b")
    assert not can_i(objects, me, "get", "secrets", "tenant-b")
    labels = [r for r in rendering.resources if r.type == "gcp:container/cluster:Cluster"][0] \
        .inputs["resourceLabels"]
    assert labels["expires-at"] == "2026-11-24t020000z"


@pytest.mark.parametrize("name", ["Alice", "a", "bob_smith", "x" * 25, "9lives"])
def test_candidate_names_are_checked(name):
    with pytest.raises(stacks.LabError):
        stacks.check_candidate(name)


def test_unknown_scenario_for_a_candidate():
    with pytest.raises(stacks.BadArgument, match="--scenario 'paring': no such scenario "
                                                 r"\(did you mean 'pairing'\?\)"):
        stacks.candidate_config("alice", "paring", "p", 8, "tenant-a", NOW)


def test_list_rows_flag_expired_stacks():
    row = stacks.stack_row("alice", {"gpu-lab:scenario": "pairing",
                                     "gpu-lab:expiresAt": "2026-11-23T17:00:00Z",
                                     "gpu-lab:createdAt": "2026-11-23T09:00:00Z"},
                           None, 112, NOW)
    assert (row.scenario, row.age, row.expired, row.resources) == ("pairing", "9.0h", True, 112)
    fresh = stacks.stack_row("bob", {"gpu-lab:expiresAt": "2026-11-24T01:00:00Z"},
                             NOW - timedelta(hours=2), 0, NOW)
    assert (fresh.expired, fresh.age, fresh.scenario) == (False, "2.0h", "-")


def test_backend_defaults_to_a_local_file_backend(monkeypatch):
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    assert stacks.backend_url().startswith("file://") and \
        stacks.backend_url().endswith(".pulumi-state")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "gs://acme-pulumi-state")
    assert stacks.backend_url() == "gs://acme-pulumi-state"


def test_candidate_kubeconfig_uses_the_token_and_the_namespace():
    admin = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [
        {"name": "gke_p_gpu-lab-alice", "cluster": {"server": "https://203.0.113.10",
                                                    "certificate-authority-data": "Q0E="}}],
        "users": [{"name": "admin", "user": {"exec": {"command": "gke-gcloud-auth-plugin"}}}]})
    config = yaml.safe_load(stacks.candidate_kubeconfig(admin, "tenant-a", "tok3n"))
    assert config["users"][0]["user"] == {"token": "tok3n"}
    assert config["contexts"][0]["context"]["namespace"] == "tenant-a"
    assert config["clusters"][0]["cluster"]["server"] == "https://203.0.113.10"
    assert "gke-gcloud-auth-plugin" not in json.dumps(config)


def test_token_request_is_bounded():
    captured = {}

    class FakeCore:
        def create_namespaced_service_account_token(self, name, namespace, body):
            captured.update(name=name, namespace=namespace, body=body)
            return type("R", (), {"status": type("S", (), {"token": "abc"})})

    from kubernetes import client
    original = client.CoreV1Api
    client.CoreV1Api = lambda api_client: FakeCore()
    try:
        assert stacks.request_token(None, "gpu-lab-candidate", 8) == "abc"
    finally:
        client.CoreV1Api = original
    assert (captured["name"], captured["namespace"]) == ("candidate", "gpu-lab-candidate")
    assert captured["body"].spec.expiration_seconds == 8 * 3600


ADMIN_KUBECONFIG = yaml.safe_dump({
    "apiVersion": "v1", "kind": "Config", "current-context": "admin",
    "clusters": [{"name": "gke_p_gpu-lab-alice", "cluster": {"server": "https://203.0.113.10"}}],
    "users": [{"name": "admin", "user": {"token": "admin-token"}}],
    "contexts": [{"name": "admin", "context": {"cluster": "gke_p_gpu-lab-alice",
                                               "user": "admin"}}]})


def test_candidate_access_is_the_candidate_service_account(tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(stacks, "CANDIDATES_DIR", tmp_path)
    monkeypatch.setattr(stacks, "request_token",
                        lambda api, namespace, hours, account: asked.append(
                            (namespace, account, hours)) or "t0ken")
    path = stacks.write_candidate_access("alice", ADMIN_KUBECONFIG, "tenant-b", 4)
    assert asked == [("gpu-lab-candidate", "candidate", 4)]
    config = yaml.safe_load(path.read_text())
    assert config["users"][0]["user"] == {"token": "t0ken"}
    assert config["contexts"][0]["context"]["namespace"] == "tenant-b"
    assert path == tmp_path / "alice" / "kubeconfig" and oct(path.stat().st_mode)[-3:] == "600"


# -- reset: against the Automation API's boundary ----------------------------------------------

LOGIN_URN = ("urn:pulumi:alice::gpu-lab::gpu-lab:lab:Lab$gpu-lab:access:CandidateAccess$"
             "kubernetes:core/v1:ServiceAccount::lab-candidate-account")


class FakeStack:
    """The slice of automation.Stack that `lab new` and `lab reset` use, recording calls."""

    def __init__(self, config=None):
        self.calls = []
        self.config = dict(config or {})

    def get_all_config(self):
        from pulumi import automation as auto
        return {k: auto.ConfigValue(value=v) for k, v in self.config.items()}

    def remove_all_config(self, keys, path=False):
        self.calls.append(("remove_all_config", list(keys)))
        for key in keys:
            self.config.pop(key)

    def set_all_config(self, config, path=False):
        values = {k: v.value for k, v in config.items()}
        self.calls.append(("set_all_config", values))
        self.config.update(values)

    def refresh(self, on_output=None):
        on_output("refreshing...\n")
        self.calls.append(("refresh",))

    def export_stack(self):
        from pulumi import automation as auto
        return auto.Deployment(version=3, deployment={"resources": [
            {"urn": "urn:pulumi:alice::gpu-lab::pulumi:pulumi:Stack::gpu-lab-alice",
             "type": "pulumi:pulumi:Stack"},
            {"urn": LOGIN_URN, "type": "kubernetes:core/v1:ServiceAccount",
             "outputs": {"metadata": {"name": "candidate", "namespace": "gpu-lab-candidate"}}},
            {"urn": LOGIN_URN.replace("lab-candidate-account", "lab-tenant-a-sa-workload"),
             "type": "kubernetes:core/v1:ServiceAccount",
             "outputs": {"metadata": {"name": "workload", "namespace": "tenant-a"}}}]})

    def up(self, on_output=None, replace=None):
        from pulumi import automation as auto
        on_output("updating...\n")
        self.calls.append(("up", replace))
        return type("UpResult", (), {"outputs": {
            "kubeconfig": auto.OutputValue(ADMIN_KUBECONFIG, secret=True)}})()


@pytest.fixture
def automation(tmp_path, monkeypatch):
    """`lab new` and `lab reset` against fake stacks: (stacks by name, kubeconfigs written)."""
    from pulumi import automation as auto

    existing: dict[str, FakeStack] = {}
    written = []

    def select_stack(stack_name, work_dir, opts):
        if stack_name not in existing:
            raise auto.StackNotFoundError(auto.CommandResult(
                "", f"error: no stack named '{stack_name}' found", 255))
        return existing[stack_name]

    def create_or_select_stack(stack_name, work_dir, opts):
        return existing.setdefault(stack_name, FakeStack())

    monkeypatch.setattr(stacks, "require_cli", lambda: "/usr/local/bin/pulumi")
    monkeypatch.setattr(stacks, "CANDIDATES_DIR", tmp_path / "candidates")
    monkeypatch.setattr(stacks, "LOCAL_STATE", tmp_path / ".pulumi-state")
    monkeypatch.setattr(auto, "select_stack", select_stack)
    monkeypatch.setattr(auto, "create_or_select_stack", create_or_select_stack)
    monkeypatch.setattr(stacks, "write_candidate_access",
                        lambda *args: written.append(args) or tmp_path / "kubeconfig")
    return existing, written


def test_new_records_the_interviewers_config_and_reset_restores_it(automation):
    existing, written = automation
    config = stacks.candidate_config("alice", "pairing", "p", 8, "tenant-b", NOW)
    stacks.new_stack("alice", config, lambda line: None)
    alice = existing["alice"]
    as_set = alice.calls[0][1]
    assert alice.calls == [("set_all_config", as_set), ("up", None)]
    assert json.loads(as_set["gpu-lab:candidate"]) == {"login": True, "tenant": "tenant-b"}
    assert stacks.recorded_config("alice") == config

    # the candidate's (or anyone's) changes to the stack's config
    alice.config["gpu-lab:faults"] = "[]"
    alice.config["gpu-lab:allowFaults"] = "false"
    alice.calls.clear()
    result = runner.invoke(app, ["reset", "alice", "--yes", "--hours", "3"])
    assert result.exit_code == 0, result.output
    assert alice.calls == [("remove_all_config", ["gpu-lab:faults"]),
                           ("set_all_config", as_set), ("refresh",), ("up", [LOGIN_URN])]
    assert alice.config == as_set
    # a new login: the old ServiceAccount (and every token of it) is gone
    assert written == [("alice", ADMIN_KUBECONFIG, "tenant-b", 3.0)]
    # progress, with the engine's own output streamed in between, in order
    steps = [f"Restoring the interviewer's config of stack alice ({len(config)} keys)",
             "Refreshing: reading what changed in the cloud and the cluster", "refreshing...",
             "Updating the stack back to the interviewer's configuration (and replacing the "
             "candidate's ServiceAccount)", "updating...",
             "Stack alice is back to the interviewer's configuration.",
             "Removed from the tenant namespaces (",
             "New candidate login (the old one no longer works), valid 3h"]
    where = [result.output.find(step) for step in steps]
    assert -1 not in where and where == sorted(where), result.output


def test_new_says_how_to_restrict_an_open_control_plane(automation):
    existing, written = automation
    result = runner.invoke(app, ["new", "alice", "--project", "p", "--skip-preflight"])
    assert result.exit_code == 0, result.output
    assert written == [("alice", ADMIN_KUBECONFIG, "tenant-a", 8.0)]
    hint = stacks.control_plane_hint("alice", stacks.recorded_config("alice"))
    assert hint and result.output.rstrip().endswith(hint)
    assert "gpu-lab:cluster.masterAuthorizedCidrs is empty" in hint
    # the whole gpu-lab:cluster value again, as `lab new` set it, with the ranges added
    [command] = [line for line in hint.splitlines() if "pulumi config set" in line]
    value = json.loads(command.split("gpu-lab:cluster ", 1)[1].split("' &&")[0].strip("'"))
    assert value == {**json.loads(existing["alice"].config["gpu-lab:cluster"]),
                     "masterAuthorizedCidrs": ["<CIDR>"]}
    assert value["name"] == "gpu-lab-alice"
    assert command.strip().startswith("pulumi config set --stack alice gpu-lab:cluster ")
    assert command.endswith("&& pulumi up --stack alice")
    assert f"PULUMI_BACKEND_URL={stacks.backend_url()}" in hint


def test_new_with_authorized_cidrs_records_them_and_gives_no_hint(automation):
    existing, _ = automation
    result = runner.invoke(app, ["new", "alice", "--project", "p", "--skip-preflight",
                                 "--authorized-cidr", "203.0.113.0/24",
                                 "--authorized-cidr", "198.51.100.7/32"])
    assert result.exit_code == 0, result.output
    cidrs = ["203.0.113.0/24", "198.51.100.7/32"]
    assert stacks.recorded_config("alice")["gpu-lab:cluster"]["masterAuthorizedCidrs"] == cidrs
    assert json.loads(existing["alice"].config["gpu-lab:cluster"])["masterAuthorizedCidrs"] \
        == cidrs
    assert "masterAuthorizedCidrs" not in result.output


def test_no_hint_without_a_gke_control_plane():
    config = stacks.candidate_config("alice", "pairing", "p", 8, "tenant-a", NOW)
    assert stacks.control_plane_hint("alice", config) is not None
    assert stacks.control_plane_hint("alice", {**config, "gpu-lab:platform": "existing"}) is None


def test_new_stops_in_one_line_when_candidates_cannot_be_written(automation, tmp_path,
                                                                   monkeypatch):
    existing, _ = automation
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(stacks, "CANDIDATES_DIR", blocker / "candidates")
    result = runner.invoke(app, ["new", "alice", "--project", "p", "--skip-preflight"])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(
        f"cannot write {blocker / 'candidates' / 'alice'}: Not a directory")
    assert "Traceback" not in result.output
    assert existing == {}                     # no stack was made


def test_reset_can_keep_the_login(automation):
    existing, written = automation
    stacks.new_stack("alice", stacks.candidate_config("alice", "pairing", "p", 8, "tenant-a",
                                                      NOW), lambda line: None)
    existing["alice"].calls.clear()
    result = runner.invoke(app, ["reset", "alice", "--yes", "--keep-login"])
    assert result.exit_code == 0, result.output
    assert [c[0] for c in existing["alice"].calls] == ["set_all_config", "refresh", "up"]
    assert existing["alice"].calls[-1] == ("up", None) and written == []
    assert "New candidate login" not in result.output


def test_reset_of_a_missing_stack_is_one_line(automation):
    result = runner.invoke(app, ["reset", "bob", "--yes"])
    assert result.exit_code == 1
    assert result.output.strip() == f"no stack 'bob' in {stacks.backend_url()} " \
                                    "(`venv/bin/gpu-lab list` shows the stacks)"


def test_reset_needs_the_record_lab_new_keeps(automation):
    existing, _ = automation
    existing["carol"] = FakeStack({"gcp:project": "p"})
    result = runner.invoke(app, ["reset", "carol", "--yes"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "stack carol has no recorded interviewer config" in result.output
    assert existing["carol"].calls == []       # nothing touched


def test_reset_asks_first(automation):
    existing, _ = automation
    stacks.new_stack("alice", stacks.candidate_config("alice", "pairing", "p", 8, "tenant-a",
                                                      NOW), lambda line: None)
    existing["alice"].calls.clear()
    result = runner.invoke(app, ["reset", "alice"], input="n\n")
    assert result.exit_code == 1 and existing["alice"].calls == []


# -- the archive ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server in its own process. The first four requests set up a user without
    authentication; after that every request must carry valid credentials."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4"}
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                "-p", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    setup = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup",
                 aws_secret_access_key="setup")
    iam = boto3.client("iam", **setup)
    iam.create_user(UserName="interviewer")
    key = iam.create_access_key(UserName="interviewer")["AccessKey"]
    iam.put_user_policy(UserName="interviewer", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    credentials = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                   "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
                   "AWS_DEFAULT_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                 aws_access_key_id=key["AccessKeyId"],
                 aws_secret_access_key=key["SecretAccessKey"]).create_bucket(Bucket="interviews")
    yield url, credentials
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def report_file(tmp_path):
    spec = replace(load_spec({"gcp:project": "p"}, stack="alice"), scenario="pairing")
    verdicts = [Verdict("rbac-cross-tenant-read", "tenant-a can read tenant-b's pods", "fixed",
                        "no tenant member can list another tenant's pods", "q")]
    report = build_report(spec, verdicts, NOW, NOW + timedelta(seconds=2.5))
    return save_local(report, tmp_path / "reports")


def test_report_contents(report_file):
    report = json.loads(report_file.read_text())
    assert report["stack"] == "alice" and report["scenario"] == "pairing"
    assert report["fixed"] == 1 and report["total"] == 1
    assert report["timings"]["verify_seconds"] == 2.5
    assert report["verify"][0]["status"] == "fixed"


def test_upload_over_http(s3_server, report_file, monkeypatch):
    url, credentials = s3_server
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)
    where = upload(report_file, "s3://interviews/2026/alice", endpoint_url=url)
    assert where == f"s3://interviews/2026/alice/{report_file.name}"
    s3 = boto3.client("s3", endpoint_url=url)
    body = s3.get_object(Bucket="interviews", Key=f"2026/alice/{report_file.name}")["Body"]
    assert json.loads(body.read()) == json.loads(report_file.read_text())


def test_missing_bucket_is_explained_and_the_report_kept(s3_server, report_file, monkeypatch):
    url, credentials = s3_server
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ArchiveError, match="bucket 'no-such-bucket' does not exist at http://"):
        upload(report_file, "s3://no-such-bucket/x", endpoint_url=url)
    assert report_file.exists()


def test_wrong_credentials_are_explained_and_the_report_kept(s3_server, report_file,
                                                              monkeypatch):
    url, _ = s3_server
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with pytest.raises(ArchiveError, match="rejected the credentials"):
        upload(report_file, "s3://interviews/x", endpoint_url=url)
    assert report_file.exists()


def test_s3_addresses():
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b")
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    with pytest.raises(ArchiveError):
        parse_s3_url("https://bucket/a")


def test_report_command_rejects_a_bad_address():
    result = runner.invoke(app, ["report", "pairing", "--archive", "bucket/prefix"])
    assert result.exit_code == 2 and "not an s3://BUCKET/PREFIX address" in result.output


def test_report_command_end_to_end(s3_server, tmp_path, monkeypatch):
    """verify against a (fake) API server, the report on disk, the upload to S3."""
    from lab.render import render
    from kube.symptoms import offline_context
    from tests.fake_kube_api import FakeKubeAPI
    from tests.helpers import stack_values

    url, credentials = s3_server
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)
    values = stack_values("pairing")
    ctx = offline_context(build_spec(values, stack="pairing"), render(values, stack="pairing"))
    objects = [o for o in ctx.objects.objects if o["kind"] not in ("HelmRelease", "GcpFirewall")]
    with FakeKubeAPI(objects + ctx.nodes, {}) as api:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(api.kubeconfig()))
        result = runner.invoke(app, ["report", "pairing", "--kubeconfig", str(kubeconfig),
                                     "--archive", "s3://interviews/e2e", "--endpoint-url", url,
                                     "--output-dir", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    [local] = list((tmp_path / "reports").glob("pairing-*.json"))
    report = json.loads(local.read_text())
    assert report["scenario"] == "pairing" and report["total"] == 4 and report["fixed"] == 0
    s3 = boto3.session.Session().client("s3", endpoint_url=url)
    stored = s3.get_object(Bucket="interviews", Key=f"e2e/{local.name}")["Body"].read()
    assert json.loads(stored) == report
    assert f"uploaded to s3://interviews/e2e/{local.name}" in result.output


def test_report_command_keeps_the_local_copy_when_the_upload_fails(s3_server, tmp_path,
                                                                    monkeypatch):
    from tests.fake_kube_api import FakeKubeAPI

    url, credentials = s3_server
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)
    with FakeKubeAPI([], {}) as api:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(api.kubeconfig()))
        result = runner.invoke(app, ["report", "pairing", "--kubeconfig", str(kubeconfig),
                                     "--archive", "s3://missing-bucket/x", "--endpoint-url", url,
                                     "--output-dir", str(tmp_path / "reports")])
    assert result.exit_code == 4
    [local] = list((tmp_path / "reports").glob("pairing-*.json"))
    assert "bucket 'missing-bucket' does not exist" in result.output
    assert f"the report stays at {local}" in result.output


class FailingStack(FakeStack):
    """A stack whose engine command fails the way the Automation API reports it."""

    def __init__(self, failing: str):
        super().__init__()
        self.failing = failing

    def _fail(self, name):
        from pulumi import automation as auto
        if name == self.failing:
            raise auto.CommandError(auto.CommandResult(
                "Updating (alice)\n", "error: update failed\nerror: googleapi: Error 403: "
                "Required 'container.clusters.create' permission", 255))

    def up(self, on_output=None, replace=None):
        self._fail("up")
        return super().up(on_output, replace)

    def refresh(self, on_output=None):
        self._fail("refresh")
        return super().refresh(on_output)

    def destroy(self, on_output=None):
        self._fail("destroy")

    @property
    def workspace(self):
        return type("Workspace", (), {"remove_stack": lambda self, name: None})()


@pytest.mark.parametrize("command, failing", [
    (["new", "alice", "--project", "p", "--skip-preflight"], "up"),
    (["reset", "alice", "--yes"], "refresh"),
    (["reset", "alice", "--yes"], "up"),
    (["destroy", "alice", "--yes"], "destroy"),
])
def test_a_failing_pulumi_command_is_one_line(automation, command, failing):
    existing, _ = automation
    existing["alice"] = FailingStack(failing)
    if command[0] == "reset":
        stacks.record_config("alice", stacks.candidate_config("alice", "pairing", "p", 8,
                                                              "tenant-a", NOW))
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == [
        f"pulumi {failing} of stack alice failed: error: googleapi: Error 403: Required "
        "'container.clusters.create' permission"]
    assert "Traceback" not in result.output


def test_destroy_of_a_missing_stack_is_one_line(automation):
    result = runner.invoke(app, ["destroy", "nobody", "--yes"])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"no stack 'nobody' in {stacks.backend_url()}"


@pytest.mark.parametrize("region, location", [
    ("europe-west4", "europe-west4-a"),     # the first zone of the region with T4s
    ("europe-west1", "europe-west1-b"),     # which has no zone a
    ("us-central1", "us-central1-a"),       # the scenario file's own zone
])
def test_new_puts_the_stack_in_its_region(region, location):
    config = stacks.candidate_config("alice", "pairing", "p", 8, "tenant-a", NOW, region)
    assert config["gcp:region"] == region
    assert config["gpu-lab:cluster"]["location"] == location
    spec = build_spec(config, stack="alice")
    assert (spec.gcp.region, spec.cluster.location) == (region, location)
    assert all(zone.startswith(region) for pool in spec.gpu_pools for zone in pool.zones)


def test_a_token_the_cluster_refuses_is_one_line(monkeypatch):
    """The stack is up but the API server gives no token (here: TokenRequest's 422): one line,
    exit 3, and what to do."""
    from kubernetes.client.exceptions import ApiException

    def refuse(*args):
        raise ApiException(status=422, reason="Unprocessable Entity")

    monkeypatch.setattr(stacks, "request_token", refuse)
    with pytest.raises(stacks.ClusterUnreadable) as err:
        stacks.write_candidate_access("alice", ADMIN_KUBECONFIG, "tenant-a", 8)
    assert err.value.exit_code == 3
    assert str(err.value) == ("stack alice is up, but the cluster gave no token for the "
                              "candidate's login (ApiException: (422)); `venv/bin/gpu-lab reset "
                              "alice` writes a new one")
