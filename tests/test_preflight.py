"""`lab preflight`: a stack's quota and API needs at its pools' maximum sizes, offline and
against a fake of Google's REST endpoints on loopback (the real client libraries, no
network), and `lab new` refusing a project that cannot hold the stack."""

import json
import re

import google.auth
import pytest
from google.auth.exceptions import DefaultCredentialsError
from typer.testing import CliRunner

from lab import preflight, stacks
from lab.cli import app
from tests.fake_google_api import FakeGoogleAPI, StaticToken

runner = CliRunner()
PROJECT = "acme-interviews"
ALL_APIS = set(preflight.REQUIRED_APIS)
# What a project with room for the dev stack has left (limit, usage).
ROOMY_GLOBAL = {"GPUS_ALL_REGIONS": (8, 0), "CPUS_ALL_REGIONS": (64, 4), "NETWORKS": (5, 1)}
ROOMY_REGION = {"CPUS": (24, 0), "E2_CPUS": (24, 4), "PREEMPTIBLE_CPUS": (32, 0),
                "NVIDIA_T4_GPUS": (4, 0), "PREEMPTIBLE_NVIDIA_T4_GPUS": (8, 0),
                "SSD_TOTAL_GB": (2048, 100), "DISKS_TOTAL_GB": (4096, 0),
                "IN_USE_ADDRESSES": (8, 1)}


def rows(payload: dict) -> dict[tuple[str, str], dict]:
    return {(r["metric"], r["scope"]): r for r in payload["requirements"]}


# -- offline: what a stack needs --------------------------------------------------------

def test_all_faults_needs_by_hand():
    result = runner.invoke(app, ["preflight", "--stack", "all-faults", "--offline", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    region = "region:us-central1"
    # Pulumi.all-faults.yaml, every pool at maxNodes, all GPU pools spot:
    #   t4          10 x n1-standard-4, 1 T4 each
    #   t4x2        2 x n1-standard-8, 2 T4 each
    #   t4-tenant-c 1 x n1-standard-4, 1 T4
    #   t4-spare    1 x n1-standard-4, 1 T4
    # plus the system pool from the model's defaults: 3 x e2-standard-4, 50 GB, not spot.
    gpus = 10 * 1 + 2 * 2 + 1 * 1 + 1 * 1               # = 16
    spot_vcpus = 10 * 4 + 2 * 8 + 1 * 4 + 1 * 4          # = 64
    system_vcpus = 3 * 4                                 # = 12
    disks = (10 + 2 + 1 + 1) * 100 + 3 * 50              # pd-balanced boot disks = 1550 GB
    assert {key: r["required"] for key, r in rows(payload).items()} == {
        ("PREEMPTIBLE_NVIDIA_T4_GPUS", region): gpus,
        ("GPUS_ALL_REGIONS", "global"): gpus,
        ("PREEMPTIBLE_CPUS", region): spot_vcpus,
        ("CPUS", region): system_vcpus,                  # E2 draws on CPUS
        ("CPUS_ALL_REGIONS", "global"): spot_vcpus + system_vcpus,
        ("SSD_TOTAL_GB", region): disks,
        ("IN_USE_ADDRESSES", region): 1,                 # Cloud NAT's address; nodes are private
        ("NETWORKS", "global"): 1,                       # the lab's VPC
    }
    assert gpus == 16 and spot_vcpus + system_vcpus == 76 and disks == 1550
    assert all(r["available"] is None for r in payload["requirements"])
    assert {a["name"]: a["enabled"] for a in payload["apis"]} == dict.fromkeys(
        ["cloudresourcemanager.googleapis.com", "compute.googleapis.com",
         "container.googleapis.com", "dns.googleapis.com", "iam.googleapis.com",
         "logging.googleapis.com", "monitoring.googleapis.com"])


def test_offline_table_is_readable_and_reads_nothing(monkeypatch):
    monkeypatch.setattr(preflight, "read_project", lambda *a: pytest.fail("read the project"))
    result = runner.invoke(app, ["preflight", "--stack", "dev", "--offline"])
    assert result.exit_code == 0
    assert "PREEMPTIBLE_NVIDIA_T4_GPUS" in result.stdout and "container.googleapis.com" in \
        result.stdout
    assert "offline: nothing read from GCP" in result.stdout


def test_on_demand_gpus_and_families_pick_their_own_quotas():
    spec = preflight_spec({"gpu-lab:gpuPools": [
        {"name": "l4", "accelerator": "nvidia-l4", "machineType": "g2-standard-24", "maxNodes": 2},
        {"name": "a100", "accelerator": "nvidia-tesla-a100", "machineType": "a2-highgpu-2g",
         "maxNodes": 1, "spot": True}]})
    needs = {(r.metric, r.scope): r.required for r in preflight.check(spec).requirements}
    region = "region:us-central1"
    assert needs[("NVIDIA_L4_GPUS", region)] == 2 * 2
    assert needs[("PREEMPTIBLE_NVIDIA_A100_GPUS", region)] == 2
    assert needs[("GPUS_ALL_REGIONS", "global")] == 4 + 2
    # G2 has no vCPU quota of its own, and E2 (the system pool) draws on CPUS too.
    assert needs[("CPUS", region)] == 2 * 24 + 3 * 4
    assert needs[("PREEMPTIBLE_CPUS", region)] == 24         # a2-highgpu-2g: 24 vCPUs
    assert ("E2_CPUS", region) not in needs                  # offline: not listed anywhere


def test_machine_type_of_unknown_size_is_one_line(tmp_path):
    stack = tmp_path / "Pulumi.odd.yaml"
    stack.write_text("config:\n  gpu-lab:systemPool: {machineType: e2-weird}\n")
    result = runner.invoke(app, ["preflight", "--config-file", str(stack), "--offline"])
    assert result.exit_code == 2
    # The model refuses a machine type Compute Engine does not sell, before any arithmetic.
    assert "gpu-lab:systemPool.machineType: got 'e2-weird'" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    with pytest.raises(preflight.PreflightError, match="cannot tell the vCPUs"):
        preflight.vcpus("e2-weird")


def test_existing_platform_needs_nothing_from_gcp():
    result = runner.invoke(app, ["preflight", "--stack", "local", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert (payload["requirements"], payload["apis"]) == ([], [])
    # and costs nothing in GCP (lab/cost.py)
    assert (payload["cost"]["pools"], payload["cost"]["full_per_hour"]["usd"]) == ([], 0)


def preflight_spec(overrides: dict):
    from faults import build_spec

    return build_spec({"gcp:project": PROJECT, **overrides}, stack="test")


# -- live, against the fake Google APIs ---------------------------------------------------

@pytest.fixture
def fake_google(monkeypatch):
    """Run a FakeGoogleAPI for PROJECT; the clients reach it through the endpoint variables
    and authenticate with a static token standing in for application-default credentials."""
    servers = []

    def serve(global_quotas=ROOMY_GLOBAL, regional=ROOMY_REGION, enabled=ALL_APIS,
              token=StaticToken()):
        api = FakeGoogleAPI(PROJECT, dict(global_quotas), {"us-central1": dict(regional)},
                            set(enabled)).__enter__()
        servers.append(api)
        monkeypatch.setenv(preflight.COMPUTE_ENDPOINT_ENV, api.url)
        monkeypatch.setenv(preflight.SERVICEUSAGE_ENDPOINT_ENV, api.url)
        monkeypatch.setattr(google.auth, "default", lambda scopes=None, **kw: (token, None))
        return api

    yield serve
    for api in servers:
        api.__exit__(None, None, None)


def live(*args):
    return runner.invoke(app, ["preflight", "--stack", "dev", "--project", PROJECT, *args])


def test_quota_met(fake_google):
    api = fake_google()
    result = live("--json")
    assert result.exit_code == 0, result.output
    payload = rows(json.loads(result.stdout))
    # dev: t4 (max 2 spot n1-standard-4, 1 T4) + the system pool (3 x e2-standard-4)
    assert payload[("PREEMPTIBLE_NVIDIA_T4_GPUS", "region:us-central1")]["available"] == 8
    assert payload[("CPUS", "region:us-central1")] == {
        "metric": "CPUS", "scope": "region:us-central1", "required": 12, "available": 24}
    # This project also gives E2_CPUS a limit: the system pool must fit there as well.
    assert payload[("E2_CPUS", "region:us-central1")] == {
        "metric": "E2_CPUS", "scope": "region:us-central1", "required": 12, "available": 20}
    assert payload[("GPUS_ALL_REGIONS", "global")]["available"] == 8
    assert all(a["enabled"] for a in json.loads(result.stdout)["apis"])
    assert api.requests == [f"/compute/v1/projects/{PROJECT}",
                            f"/compute/v1/projects/{PROJECT}/regions/us-central1",
                            f"/v1/projects/{PROJECT}/services:batchGet"]
    assert api.quota_projects == {PROJECT}       # user ADC carry no quota project of their own
    text = live()
    assert text.exit_code == 0
    assert f"project {PROJECT} has what the stack needs at its largest" in text.stdout


def test_quota_short_names_the_shortfall(fake_google):
    # A fresh project: no global GPU quota, 1 preemptible T4 in the region.
    fake_google(global_quotas={**ROOMY_GLOBAL, "GPUS_ALL_REGIONS": (0, 0)},
           regional={**ROOMY_REGION, "PREEMPTIBLE_NVIDIA_T4_GPUS": (1, 0)})
    result = live()
    assert result.exit_code == 1
    assert "GPUS_ALL_REGIONS (global): needs 2, 0 available" in result.stdout
    assert "PREEMPTIBLE_NVIDIA_T4_GPUS (region:us-central1): needs 2, 1 available" in \
        result.stdout
    short = [r for r in json.loads(live("--json").stdout)["requirements"]
             if r["available"] is not None and r["required"] > r["available"]]
    assert [(r["metric"], r["required"], r["available"]) for r in short] == [
        ("GPUS_ALL_REGIONS", 2, 0), ("PREEMPTIBLE_NVIDIA_T4_GPUS", 2, 1)]


def test_live_preflight_says_what_the_stack_costs_whatever_the_verdict(fake_google):
    """The cost is arithmetic on the stack (lab/cost.py), not read from the project: the same
    figures after "it fits" and after a shortfall, and the exit code stays the verdict's."""
    fake_google()
    fits = live()
    fake_google(global_quotas={**ROOMY_GLOBAL, "GPUS_ALL_REGIONS": (0, 0)})
    short = live()
    assert (fits.exit_code, short.exit_code) == (0, 1)
    for result in (fits, short):
        assert "total: idle $0.24/h, full at most $1.38/h" in result.stdout
        assert result.stdout.index("Cost per hour") > result.stdout.index(f"project {PROJECT}")


def test_spot_uses_standard_quota_without_preemptible_quota(fake_google):
    # PREEMPTIBLE_CPUS 0 (as new projects have it): Spot vCPUs count against CPUS.
    fake_google(regional={**ROOMY_REGION, "PREEMPTIBLE_CPUS": (0, 0), "CPUS": (4, 0)})
    result = live("--json")
    assert result.exit_code == 1
    payload = rows(json.loads(result.stdout))
    cpus = payload[("CPUS", "region:us-central1")]
    # the t4 pool's Spot n1-standard-4s, and the system pool's e2-standard-4s
    assert (cpus["required"], cpus["available"]) == (2 * 4 + 3 * 4, 4)
    assert "no PREEMPTIBLE_CPUS quota" in cpus["note"]
    assert ("PREEMPTIBLE_CPUS", "region:us-central1") not in payload


def test_disabled_apis_are_listed_with_the_enable_command(fake_google):
    fake_google(enabled=ALL_APIS - {"container.googleapis.com", "dns.googleapis.com"})
    result = live()
    assert result.exit_code == 1
    assert (f"gcloud services enable container.googleapis.com dns.googleapis.com "
            f"--project {PROJECT}") in result.stdout


def test_compute_api_disabled_is_one_line(fake_google):
    fake_google(enabled=ALL_APIS - {"compute.googleapis.com"})
    result = live()
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (f"preflight: the compute.googleapis.com API is disabled in project "
                             f"{PROJECT}: gcloud services enable compute.googleapis.com "
                             f"--project {PROJECT}\n")


def test_bad_credentials_are_one_line(fake_google):
    fake_google(token=StaticToken("expired-token"))
    result = live()
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("preflight: the credentials were rejected (Request had "
                                    "invalid authentication credentials.")
    assert "gcloud auth application-default login" in result.stderr


def test_no_credentials_at_all(monkeypatch):
    def no_adc(scopes=None, **kw):
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_adc)
    result = live()
    assert result.exit_code == 3
    assert result.stderr == ("preflight: no application-default credentials: run `gcloud auth "
                             "application-default login` (or use --offline)\n")


def test_no_such_project(fake_google):
    fake_google()
    result = runner.invoke(app, ["preflight", "--stack", "dev", "--project", "no-such-project"])
    assert result.exit_code == 3
    assert result.stderr == ("preflight: no such project no-such-project (or these credentials "
                             "cannot see it)\n")


# -- lab new runs preflight first ---------------------------------------------------------

@pytest.fixture
def pulumi_cli(monkeypatch):
    """`lab new` up to `pulumi up`: the CLI is there, and reaching new_stack says so."""
    monkeypatch.setattr(stacks, "require_cli", lambda: "/usr/bin/pulumi")

    def new_stack(candidate, config, on_output):
        raise stacks.LabError("new_stack reached")

    monkeypatch.setattr(stacks, "new_stack", new_stack)


def test_new_refuses_a_project_that_is_short(pulumi_cli, monkeypatch):
    asked = []

    def read_project(project, regions, apis):
        asked.append((project, list(regions)))
        return preflight.ProjectState(
            project=project,
            quotas={"global": {"GPUS_ALL_REGIONS": (0.0, 0.0)},
                    "region:us-central1": {"PREEMPTIBLE_NVIDIA_T4_GPUS": (4.0, 0.0)}},
            services=dict.fromkeys(ALL_APIS, True))

    monkeypatch.setattr(preflight, "read_project", read_project)
    result = runner.invoke(app, ["new", "alice", "--project", PROJECT])
    assert result.exit_code == 1
    assert asked == [(PROJECT, ["us-central1"])]
    assert "new_stack reached" not in result.output
    assert f"project {PROJECT} cannot hold stack alice at its largest" in result.stderr
    assert re.search(r"^  - GPUS_ALL_REGIONS \(global\): needs \d+, 0 available$",
                     result.stderr, re.M)
    assert "--skip-preflight" in result.stderr


def test_new_goes_on_when_the_project_fits_or_preflight_is_skipped(pulumi_cli, monkeypatch):
    def roomy(project, regions, apis):
        return preflight.ProjectState(project, {"global": {"GPUS_ALL_REGIONS": (8.0, 0.0)}},
                                      dict.fromkeys(ALL_APIS, True))

    monkeypatch.setattr(preflight, "read_project", roomy)
    assert "new_stack reached" in runner.invoke(app, ["new", "alice", "--project",
                                                      PROJECT]).output
    monkeypatch.setattr(preflight, "read_project", lambda *a: pytest.fail("preflight ran"))
    result = runner.invoke(app, ["new", "alice", "--project", PROJECT, "--skip-preflight"])
    assert "new_stack reached" in result.output


def test_new_stops_when_the_project_cannot_be_read(pulumi_cli, monkeypatch):
    def unreadable(project, regions, apis):
        raise preflight.Unreadable("no application-default credentials")

    monkeypatch.setattr(preflight, "read_project", unreadable)
    result = runner.invoke(app, ["new", "alice", "--project", PROJECT])
    assert result.exit_code == 3
    assert result.stderr == ("preflight: no application-default credentials "
                             "(or pass --skip-preflight)\n")


def test_e2_vcpus_count_against_cpus(fake_google):
    """Compute Engine, "Allocation quotas" (https://cloud.google.com/compute/resource-usage),
    CPU quota: E2 and N1 VMs draw on the regional CPUS quota; N2, N2D, C2 and the others
    have quotas of their own. A project that lists no E2_CPUS limit (most: their E2 nodes
    show in CPUS' usage) is checked against CPUS alone; one that lists it, against both."""
    assert preflight.cpu_quota_metric("e2-standard-4") == "CPUS"
    assert preflight.cpu_quota_metric("n1-standard-4") == "CPUS"
    assert preflight.cpu_quota_metric("n2-standard-4") == "N2_CPUS"
    regional = {k: v for k, v in ROOMY_REGION.items() if k != "E2_CPUS"}
    fake_google(regional={**regional, "CPUS": (24, 10)})
    result = live("--json")
    payload = rows(json.loads(result.stdout))
    assert ("E2_CPUS", "region:us-central1") not in payload
    cpus = payload[("CPUS", "region:us-central1")]
    assert (cpus["required"], cpus["available"]) == (12, 14) and result.exit_code == 0
    # Room in E2_CPUS does not hide a full CPUS, nor the other way round.
    fake_google(regional={**regional, "CPUS": (24, 20), "E2_CPUS": (24, 0)})
    short = live()
    assert short.exit_code == 1
    assert "CPUS (region:us-central1): needs 12, 4 available" in short.stdout
    fake_google(regional={**regional, "CPUS": (24, 0), "E2_CPUS": (8, 0)})
    short = live()
    assert short.exit_code == 1
    assert "E2_CPUS (region:us-central1): needs 12, 8 available" in short.stdout
