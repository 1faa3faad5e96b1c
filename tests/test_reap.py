"""`lab reap` (and `lab list`, which it reads) against fakes of the Automation API: a
workspace that lists the stacks with their config, and stacks that destroy themselves or
fail the way the Automation API reports it."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from lab import stacks
from lab.cli import app

runner = CliRunner()


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeStack:
    def __init__(self, backend, name, config, resources, failure=None):
        self.backend, self.name, self.config = backend, name, config
        self.resources, self.failure = resources, failure
        self.destroyed = False

    def destroy(self, on_output=None):
        from pulumi import automation as auto

        on_output("Destroying (%s)\n" % self.name)
        if self.failure:
            raise auto.CommandError(auto.CommandResult("Destroying\n", self.failure, 255))
        self.destroyed = True

    @property
    def workspace(self):
        backend = self.backend
        return type("Workspace", (), {"remove_stack": lambda _, name: backend.pop(name)})()


@pytest.fixture
def backend(tmp_path, monkeypatch):
    """Stacks by name in a fake backend; `lab list`, `lab destroy` and `lab reap` see them."""
    from pulumi import automation as auto

    existing: dict[str, FakeStack] = {}
    now = datetime.now(timezone.utc)

    class Workspace:
        def __init__(self, work_dir=None, env_vars=None, **kwargs):
            pass

        def list_stacks(self):
            return [auto.StackSummary(name, current=False, last_update=now - timedelta(hours=1),
                                      resource_count=stack.resources)
                    for name, stack in existing.items()]

        def get_all_config(self, name):
            return {key: auto.ConfigValue(value=value)
                    for key, value in existing[name].config.items()}

    def select_stack(stack_name, work_dir, opts):
        if stack_name not in existing:
            raise auto.StackNotFoundError(auto.CommandResult(
                "", f"error: no stack named '{stack_name}' found", 255))
        return existing[stack_name]

    def add(name, expires_in_hours=None, resources=112, failure=None, age_hours=9):
        config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in
                  stacks.candidate_config(name, "pairing", "acme", 8, "tenant-a",
                                          now - timedelta(hours=age_hours)).items()}
        if expires_in_hours is None:
            del config["gpu-lab:expiresAt"]
        else:
            config["gpu-lab:expiresAt"] = stamp(now + timedelta(hours=expires_in_hours))
        existing[name] = FakeStack(existing, name, config, resources, failure)
        return existing[name]

    monkeypatch.setattr(stacks, "require_cli", lambda: "/usr/local/bin/pulumi")
    monkeypatch.setattr(stacks, "PROJECT_DIR", tmp_path)      # destroy removes Pulumi.<name>.yaml
    monkeypatch.setattr(auto, "LocalWorkspace", Workspace)
    monkeypatch.setattr(auto, "select_stack", select_stack)
    return type("Backend", (), {"stacks": existing, "add": staticmethod(add), "now": now})


def test_nothing_expired_is_quiet(backend):
    backend.add("alice", expires_in_hours=2)
    backend.add("shared")                          # no expires-at: never reaped
    result = runner.invoke(app, ["reap"])
    assert result.exit_code == 0
    assert (result.stdout, result.stderr) == ("", "")
    assert set(backend.stacks) == {"alice", "shared"}


def test_expired_stacks_are_destroyed_and_removed_one_line_each(backend, tmp_path):
    alice = backend.add("alice", expires_in_hours=-1)
    backend.add("bob", expires_in_hours=3)
    carol = backend.add("carol", expires_in_hours=-30, resources=0)   # an up that never made it
    (tmp_path / "Pulumi.alice.yaml").write_text("config: {}\n")
    result = runner.invoke(app, ["reap"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"destroyed alice (expired {alice.config['gpu-lab:expiresAt']})",
        f"destroyed carol (expired {carol.config['gpu-lab:expiresAt']})"]
    assert result.stderr == ""                      # the engine's output is not streamed
    assert alice.destroyed and carol.destroyed
    assert set(backend.stacks) == {"bob"}
    assert not (tmp_path / "Pulumi.alice.yaml").exists()


def test_one_failure_does_not_stop_the_others_and_exits_1(backend):
    backend.add("alice", expires_in_hours=-2,
                failure="error: googleapi: Error 400: The node pool is being updated")
    bob = backend.add("bob", expires_in_hours=-1)
    result = runner.invoke(app, ["reap"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"FAILED alice (expired {backend.stacks['alice'].config['gpu-lab:expiresAt']}): pulumi "
        "destroy of stack alice failed: error: googleapi: Error 400: The node pool is being "
        "updated"]
    assert result.stdout.splitlines() == [
        f"destroyed bob (expired {bob.config['gpu-lab:expiresAt']})"]
    assert set(backend.stacks) == {"alice"}         # kept, for the next run or a look


def test_dry_run_lists_and_changes_nothing(backend):
    alice = backend.add("alice", expires_in_hours=-1)
    backend.add("bob", expires_in_hours=1)
    result = runner.invoke(app, ["reap", "--dry-run"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"would destroy alice (expired {alice.config['gpu-lab:expiresAt']})"]
    assert not alice.destroyed and set(backend.stacks) == {"alice", "bob"}


def test_reap_without_the_cli_is_one_line(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = runner.invoke(app, ["reap"])
    assert result.exit_code == 1
    assert result.output.strip() == stacks.INSTALL_HINT


def test_a_backend_that_cannot_be_listed_is_one_line(backend, monkeypatch):
    from pulumi import automation as auto

    def unreachable(self):
        raise auto.CommandError(auto.CommandResult(
            "", "error: could not list stacks: read gs://acme-state: 403 Forbidden", 255))

    monkeypatch.setattr(auto.LocalWorkspace, "list_stacks", unreachable)
    for command in (["reap"], ["list"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1
        assert result.stderr == ("pulumi stack ls failed: error: could not list stacks: read "
                                 "gs://acme-state: 403 Forbidden\n")


def test_list_shows_the_cost_so_far_with_its_assumption(backend):
    backend.add("alice", expires_in_hours=-1, age_hours=10)
    backend.add("bob", expires_in_hours=5, resources=0)
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    header, alice, bob, *footnote = result.stdout.splitlines()
    assert header.split() == ["STACK", "SCENARIO", "AGE", "EXPIRES", "COST*", "RESOURCES"]
    # pairing at idle: 1 system node, 1 T4 node (its Spot price at the on-demand ceiling), the
    # GKE fee: $0.6716/h x 10 h
    assert alice.split()[:5] == ["alice", "pairing", "10.0h",
                                 backend.stacks["alice"].config["gpu-lab:expiresAt"], "<=$6.72"]
    assert alice.endswith("112  EXPIRED: destroy it")
    assert bob.split()[4:6] == ["-", "0"]
    text = " ".join(" ".join(footnote).split())
    assert text.startswith("* so far, at the stack's idle rate (every pool at its minNodes; "
                           "us-central1 prices of 2026-07-30")
    rows = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    assert rows[0]["cost_usd"] == pytest.approx(6.7158, abs=1e-3)
    assert (rows[0]["cost_since"], rows[0]["cost_upper_bound"]) == ("created", True)
