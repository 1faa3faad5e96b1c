"""Every scenario on the local platform (`existing`: a kind cluster with simulated GPUs):
the scenario's pools laid out on the nodes the stack lists and on the next workers kind
creates, what the twin shows there, the kind config that creates those nodes, and the
faults that need GCP left out and said so."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from faults import SCENARIOS, build_spec, left_out, outputs
from kube.nodes import kind_cluster, nodes_from_spec
from lab.cli import app
from lab.grading import baseline_values
from lab.render import render
from lab.simulate import simulate_rendering
from model import ConfigError, load_spec
from model.spec import POOL_LABEL
from tests.helpers import stack_values
from tests.test_twin import promised

FINE = ("Running", "Completed")
KIND_API = "kind.x-k8s.io/v1alpha4"


def local(scenario: str | None = None, **overrides) -> dict:
    values = stack_values("local", **overrides)
    if scenario:
        values.update({"gpu-lab:scenario": scenario, "gpu-lab:allowFaults": True})
    return values


def problems(values: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        build_spec(values, stack="local")
    return [str(p) for p in caught.value.problems]


def kind_creates(config: dict) -> list[tuple[str, str]]:
    """(node name, role) for each node kind creates from this config, named as kind names
    them (sigs.k8s.io/kind pkg/cluster/internal/providers/common/namer.go: per role, the
    first is <cluster>-<role>, the n-th <cluster>-<role><n>)."""
    counts: dict[str, int] = {}
    created = []
    for node in config["nodes"]:
        role = node.get("role", "control-plane")
        counts[role] = counts.get(role, 0) + 1
        suffix = "" if counts[role] == 1 else str(counts[role])
        created.append((f"{config['name']}-{role}{suffix}", role))
    return created


def workload_of(view) -> str:
    return f"{view.namespace}/{view.owner.split('/', 1)[1]}"




# -- every scenario, simulated on the nodes kind creates -----------------------------------

STACK_NODES = ["gpu-lab-worker", "gpu-lab-worker2"]      # what Pulumi.local.yaml lists


def layout(scenario: str) -> dict[str, list[str]]:
    """{pool: nodes} the scenario gets on the local stack: its pools in order, the stack's two
    workers playing the first, then kind's next workers (worker3, worker4, ...), each pool
    as many as its maxNodes."""
    found, following = {}, 3
    for i, pool in enumerate(SCENARIOS[scenario].config["gpuPools"]):
        nodes = list(STACK_NODES) if i == 0 else []
        while len(nodes) < pool.get("maxNodes", 1):
            nodes.append(f"gpu-lab-worker{following}")
            following += 1
        found[pool["name"]] = nodes
    return found


def test_the_layouts_kind_names():
    assert layout("pairing") == {"t4": ["gpu-lab-worker", "gpu-lab-worker2",
                                        "gpu-lab-worker3"]}
    assert layout("iac-challenges") == {"t4": ["gpu-lab-worker", "gpu-lab-worker2"],
                                        "t4-tenant-c": ["gpu-lab-worker3"]}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_scenario_runs_on_the_local_platform(scenario):
    """The twin on the laid-out nodes: each fault's targets show the status it promises,
    every other pod runs, and every pod that is placed is on a node kind creates."""
    values = local(scenario)
    spec = build_spec(values, stack="local")
    assert spec.platform == "existing" and spec.scenario == scenario
    assert {p.name: list(p.nodes) for p in spec.gpu_pools} == layout(scenario)
    # Every node is always there: the pool is its nodes.
    assert all(p.min_nodes == p.max_nodes == len(p.nodes) for p in spec.gpu_pools)
    rendering = render(values, stack="local")
    assert not [r for r in rendering.resources if r.type.startswith("gcp:")]
    views = simulate_rendering(spec, rendering)
    assert views, "the scenario runs workloads"
    targets = promised(spec)
    created = {name for name, _ in kind_creates(kind_cluster(spec))}
    for view in views:
        where = f"{view.namespace}/{view.pod} ({view.owner}): {view.status}: {view.message}"
        status, fault = targets.get(workload_of(view), ("", None))
        if status:
            assert view.status == status, f"{fault} promises {status}; {where}"
        else:
            assert view.status in FINE, f"not targeted by {fault or 'any fault'}: {where}"
        if view.node:
            assert view.node in created, where
    assert set(targets) <= {workload_of(v) for v in views}
    # The fake GPU operator labels exactly the laid-out nodes, each with its pool.
    patched = {p.inputs["metadata"]["name"]: p.inputs["metadata"]["labels"][POOL_LABEL]
               for p in rendering.of_type("kubernetes:core/v1:NodePatch")}
    assert patched == {node: pool for pool, nodes in layout(scenario).items()
                       for node in nodes}


def test_pairing_on_kind_gives_tenant_b_the_gpu_the_broken_quota_lets_it_take():
    """The pairing scenario's quota fault needs a third GPU node: on kind it is the third
    worker, and tenant-b's second replica runs there."""
    values = local("pairing")
    spec = build_spec(values, stack="local")
    views = simulate_rendering(spec, render(values, stack="local"))
    nodes = sorted(v.node for v in views if v.namespace == "tenant-b")
    assert len(nodes) == 2 and len(set(nodes)) == 2
    assert {v.node for v in views} == {"gpu-lab-worker", "gpu-lab-worker2", "gpu-lab-worker3"}


def test_workload_failures_fail_on_kind_as_on_gke():
    values = local("workload-failures")
    spec = build_spec(values, stack="local")
    views = {workload_of(v): v for v in simulate_rendering(spec, render(values, stack="local"))}
    assert "exec format error" in views["tenant-a/batch"].message
    assert "CUDA out of memory" in views["tenant-a/infer"].message
    assert "Insufficient nvidia.com/gpu" in views["tenant-b/infer"].message
    assert "didn't match Pod's node affinity/selector" in views["tenant-b/batch"].message


def test_unbalanced_scheduling_on_kind_leaves_an_identical_node_idle():
    values = local("performance-observability")
    spec = build_spec(values, stack="local")
    views = simulate_rendering(spec, render(values, stack="local"))
    [pinned] = {v.node for v in views if v.namespace == "tenant-b"}
    assert sum(v.namespace == "tenant-b" for v in views) == 2, "both replicas on one node"
    used = {node: sum(v.node == node for v in views) for node in spec.pool("t4x2").nodes}
    assert used[pinned] == 2, "its node is full"
    assert [node for node, gpus in used.items() if node != pinned and gpus < 2], \
        "while another node of the pool has a GPU free"


def test_scenario_layouts_are_the_same_without_the_faults():
    """lab verify compares with the healthy baseline: the scenario without its faults, laid
    out on the same nodes."""
    for scenario in SCENARIOS:
        values = local(scenario)
        broken = build_spec(values, stack="local")
        healthy = build_spec(baseline_values(values), stack="local")
        assert not healthy.faults
        assert [p.nodes for p in healthy.gpu_pools] == [p.nodes for p in broken.gpu_pools]


# -- the layout ---------------------------------------------------------------------------

def test_nodes_the_stack_lists_play_the_scenarios_pool_and_kind_names_the_rest():
    values = local("workload-failures", **{"gpu-lab:gpuPools": [
        {"name": "t4", "nodes": ["gpu-lab-worker3", "gpu-lab-worker"]}]})
    [pool] = build_spec(values, stack="local").gpu_pools
    assert pool.nodes == ("gpu-lab-worker3", "gpu-lab-worker", "gpu-lab-worker2",
                          "gpu-lab-worker4")


def test_the_stacks_pools_play_the_scenarios_pools_in_order():
    """performance-observability names its pool t4x2: the stack's first pool (t4) plays it,
    with the scenario's shape (2 GPUs per node)."""
    spec = build_spec(local("performance-observability"), stack="local")
    pool = spec.gpu_pools[0]
    assert (pool.name, pool.gpus_per_node, pool.nodes[:2]) == (
        "t4x2", 2, ("gpu-lab-worker", "gpu-lab-worker2"))


def test_a_stack_without_pools_gets_kinds_workers_for_its_context():
    values = local("iac-challenges", **{"gpu-lab:cluster": {"kubeContext": "kind-lab"}})
    del values["gpu-lab:gpuPools"]
    spec = build_spec(values, stack="local")
    assert [p.nodes for p in spec.gpu_pools] == [("lab-worker", "lab-worker2"),
                                                 ("lab-worker3",)]


def test_without_a_context_the_nodes_are_those_of_kinds_default_cluster():
    values = local("gpu-readiness", **{"gpu-lab:cluster": {}})
    del values["gpu-lab:gpuPools"]
    assert build_spec(values, stack="local").gpu_pools[0].nodes == ("kind-worker",
                                                                    "kind-worker2")


def test_engine_format_values_lay_out_the_same():
    from model.source import as_engine_values
    values = local("pairing")
    assert build_spec(as_engine_values(values), stack="local") == build_spec(values,
                                                                              stack="local")


def test_a_non_kind_context_needs_every_node_listed():
    values = local("pairing", **{"gpu-lab:cluster": {"kubeContext": "minikube"},
                                 "gpu-lab:gpuPools": [{"name": "t4", "nodes": ["minikube"]}]})
    assert problems(values) == [
        "gpu-lab:gpuPools[0].nodes: got ['minikube']; scenario pairing's pool t4 needs 3 "
        "nodes: list them (gpu-lab:cluster.kubeContext 'minikube' is not a kind cluster's, "
        "so gpu-lab cannot name them)"]
    values["gpu-lab:gpuPools"] = [{"name": "t4", "nodes": ["m1", "m2", "m3"]}]
    assert build_spec(values, stack="local").gpu_pools[0].nodes == ("m1", "m2", "m3")


def test_the_scenario_shapes_the_pools_the_stack_names_their_nodes():
    """A pool field the stack sets that differs from the scenario's is refused, naming it; the
    scenario's own value is accepted."""
    values = local("pairing", **{"gpu-lab:gpuPools": [
        {"name": "t4", "accelerator": "nvidia-tesla-t4", "maxNodes": 2,
         "nodes": ["gpu-lab-worker", "gpu-lab-worker2"]}]})
    assert problems(values) == [
        "gpu-lab:gpuPools[0].maxNodes: got 2; with gpu-lab:scenario pairing on platform "
        "existing the scenario shapes the GPU pools (t4); the stack's pools say only which "
        "nodes play them, in order: give name and nodes only"]


def test_a_pool_beyond_the_scenarios_is_refused():
    values = local("pairing", **{"gpu-lab:gpuPools": [
        {"name": "t4", "nodes": ["gpu-lab-worker"]},
        {"name": "l4", "nodes": ["gpu-lab-worker5"]}]})
    [message] = problems(values)
    assert message.startswith("gpu-lab:gpuPools[1]: got {'name': 'l4', 'nodes': "
                              "['gpu-lab-worker5']}; with gpu-lab:scenario pairing")
    assert message.endswith("this pool would play none: remove it, or list its nodes under a "
                            "pool above")


def test_gke_stacks_keep_their_own_pools():
    """The layout is the local platform's: on gke the stack's pools win as before."""
    values = {**stack_values("dev"), "gpu-lab:scenario": "pairing", "gpu-lab:allowFaults": True,
              "gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 3, "spot": True}]}
    [pool] = build_spec(values, stack="x").gpu_pools
    assert (pool.max_nodes, pool.min_nodes, pool.nodes) == (3, 0, ())


# -- the model: on an existing cluster a pool is its nodes ---------------------------------

def test_an_existing_pool_is_the_nodes_it_lists():
    spec = load_spec({"gpu-lab:platform": "existing",
                      "gpu-lab:gpuPools": [{"name": "t4", "nodes": ["a", "b", "c"]}]})
    assert (spec.gpu_pools[0].min_nodes, spec.gpu_pools[0].max_nodes) == (3, 3)
    assert [n["metadata"]["name"] for n in nodes_from_spec(spec)] == ["a", "b", "c"]


def test_an_existing_pool_cannot_promise_nodes_it_does_not_list():
    with pytest.raises(ConfigError) as caught:
        load_spec({"gpu-lab:platform": "existing",
                   "gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 3, "nodes": ["a", "b"]}]})
    assert [str(p) for p in caught.value.problems] == [
        "gpu-lab:gpuPools[0].maxNodes: got 3; on gpu-lab:platform existing nothing adds nodes "
        "to a pool: list 3 nodes under nodes (2 listed), or leave maxNodes out"]


def test_a_node_plays_one_pool():
    with pytest.raises(ConfigError) as caught:
        load_spec({"gpu-lab:platform": "existing", "gpu-lab:gpuPools": [
            {"name": "t4", "nodes": ["a", "b"]},
            {"name": "l4", "accelerator": "nvidia-l4", "nodes": ["b"]}]})
    assert [str(p) for p in caught.value.problems] == [
        "gpu-lab:gpuPools[1].nodes: got 'b'; is listed by gpu-lab:gpuPools[0] (t4) too; a node "
        "plays one pool"]


# -- faults that need GCP --------------------------------------------------------------------

def test_a_scenario_runs_locally_without_the_faults_that_need_gcp_and_says_so():
    values = local("iac-challenges")
    spec = build_spec(values, stack="local")
    assert [r.id for r in spec.faults] == ["job-submitter-forbidden", "rbac-cross-tenant-read"]
    [(fault_id, why)] = left_out(spec)
    assert fault_id == "egress-blocked"
    assert why.startswith("needs platform gke (a GCP firewall rule denies its nodes' egress")
    assert why.endswith("this stack is existing)")
    listed = render(values, stack="local").outputs["faults"]
    assert listed == outputs(spec)
    assert listed[-1] == {"id": "egress-blocked", "title": f"left out: {why}", "leftOut": True}
    # tenant-c still gets its own pool, and its workload runs: nothing cuts it off here.
    views = simulate_rendering(spec, render(values, stack="local"))
    [tenant_c] = [v for v in views if v.namespace == "tenant-c"]
    assert (tenant_c.status, tenant_c.node) == ("Running", "gpu-lab-worker3")


def test_the_same_scenario_on_gke_keeps_every_fault():
    spec = build_spec({"gcp:project": "p", "gpu-lab:scenario": "iac-challenges",
                       "gpu-lab:allowFaults": True}, stack="x")
    assert "egress-blocked" in [r.id for r in spec.faults] and not left_out(spec)


def test_a_fault_the_stack_asks_for_by_name_is_still_refused_locally():
    values = local("iac-challenges", **{"gpu-lab:faults": [{"id": "egress-blocked",
                                                            "tenant": "tenant-c"}]})
    assert problems(values) == ["gpu-lab:faults[2]: got 'egress-blocked'; needs platform gke "
                                "(this stack is existing)"]


# -- the kind config -----------------------------------------------------------------------

runner = CliRunner()


def kind_config(*args: str) -> tuple[dict, str]:
    result = runner.invoke(app, ["kind-config", *args])
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.stdout), result.stdout


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_kind_creates_the_nodes_the_scenarios_pools_list(scenario):
    config, _ = kind_config("--scenario", scenario)
    assert (config["kind"], config["apiVersion"], config["name"]) == ("Cluster", KIND_API,
                                                                      "gpu-lab")
    created = kind_creates(config)
    listed = [node for nodes in layout(scenario).values() for node in nodes]
    workers = [name for name, role in created if role == "worker"]
    assert sorted(workers) == sorted(listed), "one worker per node a pool lists, no more"
    assert [role for _, role in created].count("control-plane") == 1
    # The context gpu-lab's provider uses is the one kind writes for this cluster.
    spec = build_spec(local(scenario), stack="local")
    assert spec.cluster.kube_context == f"kind-{config['name']}"
    # The twin's nodes are nodes kind creates.
    assert {n["metadata"]["name"] for n in nodes_from_spec(spec)} <= {n for n, _ in created}


def test_kind_config_of_the_healthy_local_stack():
    config, text = kind_config("--stack", "local")
    assert kind_creates(config) == [("gpu-lab-control-plane", "control-plane"),
                                    ("gpu-lab-worker", "worker"), ("gpu-lab-worker2", "worker")]
    assert "# gpu-lab-worker2: plays GPU pool t4" in text
    # gpu-lab labels the nodes itself (NodePatch on pulumi up); kind sets no label, so the
    # kubelet owns none that the stack would change when it plays another scenario.
    assert all(set(node) == {"role"} for node in config["nodes"])


def test_kind_config_says_what_is_left_out():
    _, text = kind_config("--scenario", "iac-challenges")
    assert ("# left out on this platform: egress-blocked: needs platform gke (a GCP firewall "
            "rule denies") in text


def test_kind_config_counts_workers_up_to_the_last_one_listed(tmp_path):
    """kind names workers by their place: a pool on worker3 alone needs three workers."""
    stack = tmp_path / "Pulumi.gap.yaml"
    stack.write_text(yaml.safe_dump({"config": {
        "gpu-lab:platform": "existing", "gpu-lab:cluster": {"kubeContext": "kind-gap"},
        "gpu-lab:gpuPools": [{"name": "t4", "nodes": ["gap-worker3"]}]}}))
    config, _ = kind_config("--config-file", str(stack))
    assert [name for name, _ in kind_creates(config)] == [
        "gap-control-plane", "gap-worker", "gap-worker2", "gap-worker3"]


@pytest.mark.parametrize("args, message", [
    (["--stack", "dev"], "gpu-lab:platform: got 'gke'; a kind cluster plays the cluster of a "
                         "platform existing stack"),
    (["--scenario", "pairng"], "--scenario 'pairng': no such scenario (did you mean "
                               "'pairing'?)"),
])
def test_kind_config_refuses_what_kind_cannot_play(args, message):
    result = runner.invoke(app, ["kind-config", *args])
    assert result.exit_code == 2 and message in result.output


def test_kind_config_refuses_nodes_kind_would_not_create(tmp_path):
    stack = tmp_path / "Pulumi.mine.yaml"
    stack.write_text(yaml.safe_dump({"config": {
        "gpu-lab:platform": "existing", "gpu-lab:cluster": {"kubeContext": "kind-gpu-lab"},
        "gpu-lab:gpuPools": [{"name": "t4", "nodes": ["node-a"]}]}}))
    result = runner.invoke(app, ["kind-config", "--config-file", str(stack)])
    assert result.exit_code == 2
    assert ("gpu-lab:gpuPools[0].nodes: got 'node-a'; is not a node kind creates for cluster "
            "gpu-lab: its nodes are gpu-lab-control-plane, gpu-lab-worker, gpu-lab-worker2, "
            "...") in result.output


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_candidates_copy_of_a_local_scenario_reads_back_to_the_same_layout(scenario):
    """The handout writes the stack out as plain config (model/to_config.py): the laid-out
    nodes are ordinary `nodes` lists, and the copy reads back to the same spec."""
    from dataclasses import replace

    from model.to_config import to_config

    spec = build_spec(local(scenario), stack="local")
    plain = replace(spec, faults=(), allow_faults=False, scenario=None, dressing=())
    config = to_config(plain)
    assert "gpu-lab:scenario" not in config
    assert [p["nodes"] for p in config["gpu-lab:gpuPools"]] == list(layout(scenario).values())
    assert load_spec(config, stack="local") == plain


# -- the candidate's login on a cluster of your own --------------------------------------------

def test_login_writes_the_candidates_kubeconfig_from_your_context(tmp_path, monkeypatch):
    """`gpu-lab login STACK` on a local stack with the pairing scenario: the admin context is
    the stack's kubeContext, cut out of a kubeconfig with others; the token is the candidate
    ServiceAccount's; the kubeconfig starts in the stack's candidate tenant. The guide's
    handover names the command."""
    from lab import cli, stacks
    from lab.guide import interviewer_guide

    values = {**stack_values("local"), "gpu-lab:allowFaults": True,
              "gpu-lab:scenario": "pairing",
              "gpu-lab:candidate": {"login": True, "tenant": "tenant-a"}}
    stack_path = tmp_path / "Pulumi.loc-pairing.yaml"
    stack_path.write_text(yaml.safe_dump({"config": values}))
    monkeypatch.setattr(cli, "stack_file", lambda name: tmp_path / f"Pulumi.{name}.yaml")
    monkeypatch.setattr(stacks, "CANDIDATES_DIR", tmp_path / "candidates")
    asked = []

    def token(api_client, namespace, hours, account):
        asked.append((api_client.configuration.host, namespace, account, hours))
        return "t0ken"
    monkeypatch.setattr(stacks, "request_token", token)
    admin = tmp_path / "kubeconfig"
    admin.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gke-other",
        "clusters": [{"name": "kind-gpu-lab", "cluster": {"server": "https://127.0.0.1:6443"}},
                     {"name": "gke-other", "cluster": {"server": "https://203.0.113.9"}}],
        "users": [{"name": "kind-gpu-lab", "user": {"token": "kind-admin"}},
                  {"name": "gke-other", "user": {"token": "other"}}],
        "contexts": [{"name": "kind-gpu-lab", "context": {"cluster": "kind-gpu-lab",
                                                          "user": "kind-gpu-lab"}},
                     {"name": "gke-other", "context": {"cluster": "gke-other",
                                                       "user": "gke-other"}}]}))
    result = runner.invoke(app, ["login", "loc-pairing", "--kubeconfig", str(admin),
                                 "--hours", "3"])
    assert result.exit_code == 0, result.output
    assert asked == [("https://127.0.0.1:6443", "gpu-lab-candidate", "candidate", 3.0)]
    written = yaml.safe_load((tmp_path / "candidates" / "loc-pairing" /
                              "kubeconfig").read_text())
    assert written["clusters"] == [{"name": "kind-gpu-lab",
                                    "cluster": {"server": "https://127.0.0.1:6443"}}]
    assert written["users"][0]["user"] == {"token": "t0ken"}
    assert written["contexts"][0]["context"]["namespace"] == "tenant-a"
    # a context the kubeconfig does not have, and a stack without a login
    result = runner.invoke(app, ["login", "loc-pairing", "--kubeconfig", str(admin),
                                 "--context", "kind-other"])
    assert result.exit_code == 2 and "no complete context kind-other" in result.output
    assert "its contexts: kind-gpu-lab, gke-other" in result.output
    (tmp_path / "Pulumi.plain.yaml").write_text(yaml.safe_dump({"config":
                                                                stack_values("local")}))
    result = runner.invoke(app, ["login", "plain", "--kubeconfig", str(admin)])
    assert result.exit_code == 2 and "makes no candidate login" in result.output
    guide = interviewer_guide(build_spec(values, stack="loc-pairing"))
    assert "`venv/bin/gpu-lab login loc-pairing`" in guide
