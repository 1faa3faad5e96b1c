"""What a stack costs: the price table's arithmetic checked by hand on the shipped stacks,
prices the table lacks named rather than guessed, and the figures `lab preflight`, `lab new`
and `lab list` print."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from faults import build_spec
from lab import cost, stacks
from lab.cli import app
from model import machines
from model.gpu_catalog import CATALOG
from tests.helpers import stack_values

runner = CliRunner()
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)

# us-central1, lab/cost.py (Cloud Billing Catalog prices of 2026-07-30), USD an hour:
E2_STANDARD_4 = 0.13402284           # on-demand: the system pool is not Spot
N1_STANDARD_4_SPOT = 0.06701
T4_ON_DEMAND = 0.35                  # the T4's Spot price is not in the table: this, a ceiling
PD_BALANCED_GB_HOUR = 0.10 / 730     # $0.10 per GB-month, 730 hours a month
FEE = 0.10                           # GKE cluster management fee
SYSTEM_NODE = E2_STANDARD_4 + 50 * PD_BALANCED_GB_HOUR                      # 0.14087216
T4_NODE = N1_STANDARD_4_SPOT + T4_ON_DEMAND + 100 * PD_BALANCED_GB_HOUR     # 0.43070863


def estimate_of(stack: str, **overrides) -> cost.Estimate:
    return cost.estimate(build_spec(stack_values(stack, **overrides), stack=stack))


def test_dev_stack_by_hand():
    """Pulumi.dev.yaml: the system pool (model defaults: 1-3 x e2-standard-4, on-demand, 50 GB)
    and one Spot pool of 0-2 x n1-standard-4 with a T4 and a 100 GB disk each."""
    est = estimate_of("dev")
    system, t4 = est.pools
    assert (system.name, system.min_nodes, system.max_nodes, system.spot) == ("system", 1, 3,
                                                                              False)
    assert (t4.name, t4.min_nodes, t4.max_nodes, t4.spot) == ("t4", 0, 2, True)
    assert system.node.usd == pytest.approx(SYSTEM_NODE) and system.node.exact
    assert t4.node.usd == pytest.approx(T4_NODE)
    assert t4.node.ceilings == ("nvidia-tesla-t4 Spot at its on-demand $0.35/h per GPU",)
    # idle: 1 system node, no GPU node, the fee = $0.2409/h, exact
    assert est.idle.usd == pytest.approx(SYSTEM_NODE + FEE) == pytest.approx(0.24087216)
    assert est.idle.exact
    # full: 3 system nodes, 2 GPU nodes, the fee = $1.3840/h, the T4s at their ceiling
    assert est.full.usd == pytest.approx(3 * SYSTEM_NODE + 2 * T4_NODE + FEE) == \
        pytest.approx(1.38403373)
    assert est.full.ceilings and not est.full.missing
    assert (est.idle.text(), est.full.text()) == ("$0.24/h", "at most $1.38/h")


def test_pairing_stack_by_hand():
    """Pulumi.pairing.yaml is the pairing scenario, whose GPU pool keeps one node: 1-3."""
    est = estimate_of("pairing")
    system, t4 = est.pools
    assert (t4.min_nodes, t4.max_nodes, t4.machine_type, t4.gpus) == (1, 3, "n1-standard-4",
                                                                       "1 x nvidia-tesla-t4")
    assert est.idle.usd == pytest.approx(SYSTEM_NODE + T4_NODE + FEE) == \
        pytest.approx(0.67158079)
    assert est.full.usd == pytest.approx(3 * SYSTEM_NODE + 3 * T4_NODE + FEE) == \
        pytest.approx(1.81474236)
    assert est.idle.text() == "at most $0.67/h"


def test_on_demand_pools_and_accelerator_optimized_machines():
    """A pool that is not Spot pays on-demand prices; a G2 or A2 machine type's price includes
    its GPUs, so nothing is added for them."""
    est = estimate_of("dev", **{"gpu-lab:gpuPools": [
        {"name": "t4", "accelerator": "nvidia-tesla-t4", "machineType": "n1-standard-4",
         "minNodes": 1, "maxNodes": 1},
        {"name": "l4", "accelerator": "nvidia-l4", "machineType": "g2-standard-24",
         "maxNodes": 1, "spot": True}]})
    _, t4, l4 = est.pools
    assert t4.node.usd == pytest.approx(0.189999 + 0.35 + 100 * PD_BALANCED_GB_HOUR)
    assert t4.node.exact
    assert l4.gpus == "2 x nvidia-l4 (in the machine type)"
    assert l4.node.usd == pytest.approx(1.124816 + 100 * PD_BALANCED_GB_HOUR) and l4.node.exact
    assert est.full.exact


def test_every_machine_type_and_attachable_gpu_of_the_model_has_a_us_central1_price():
    """So a machine type added to model/machines.py without a price fails here."""
    known = [f"{family}-{size}" for family, sizes in machines.SIZES.items() for size in sizes]
    known += list(machines.FIXED)
    prices = cost.PRICE_TABLE["us-central1"]
    assert [name for name in known if name not in prices.machines] == []
    attached = [acc.type for acc in CATALOG.values() if acc.machine_prefixes]
    assert [name for name in attached if prices.attached_gpus.get(name, (None,))[0] is None] \
        == []


def test_a_price_the_table_lacks_is_named_not_guessed():
    table = {"us-central1": cost.RegionPrices(
        "us-central1", machines={"e2-standard-4": (E2_STANDARD_4, 0.08)}, attached_gpus={},
        disk_gb_month={"pd-balanced": 0.10}, cluster_fee_hour=FEE)}
    est = cost.estimate(build_spec(stack_values("dev"), stack="dev"), table)
    t4 = est.pools[1]
    assert t4.node.missing == ("machine type n1-standard-4 in us-central1",
                               "GPU nvidia-tesla-t4 in us-central1")
    assert t4.node.usd == pytest.approx(100 * PD_BALANCED_GB_HOUR)   # the disk, known
    assert est.idle.exact                  # no GPU node runs at idle: nothing is missing
    assert est.full.text() == f"${3 * SYSTEM_NODE + 2 * t4.node.usd + FEE:.2f}/h + prices " \
                              "not in the table"
    assert t4.full.short() == f"${2 * t4.node.usd:.4f}+?"
    assert any(line.startswith("+? leaves out a price the table lacks: machine type "
                               "n1-standard-4") for line in cost.lines(est))


def test_another_region_is_said_to_be_missing_with_us_central1_for_scale():
    est = estimate_of("pairing", **{"gcp:region": "europe-west4",
                                    "gpu-lab:cluster": {"location": "europe-west4-a"}})
    assert not est.in_table and est.priced_as == "us-central1"
    assert est.idle.usd == pytest.approx(estimate_of("pairing").idle.usd)
    text = "\n".join(cost.lines(est))
    assert "region europe-west4 is not in the price table (lab/cost.py has us-central1); at " \
           "us-central1 prices, for scale only" in " ".join(text.split())
    assert "total at us-central1 prices: idle at most $0.67/h" in text
    assert est.to_json()["region_in_table"] is False


def test_a_stack_outside_gcp_costs_nothing_in_gcp():
    est = estimate_of("local")
    assert est.pools == () and est.idle.usd == 0 == est.full.usd
    assert cost.lines(est) == ["Cost: gpu-lab:platform existing creates nothing in GCP: no "
                               "cloud cost"]


def test_accrued_cost_is_the_idle_rate_times_the_hours():
    est = estimate_of("dev")
    assert cost.accrued(est, NOW - timedelta(hours=8), NOW).usd == pytest.approx(
        8 * (SYSTEM_NODE + FEE))
    assert cost.accrued(est, NOW + timedelta(hours=1), NOW).usd == 0     # a clock ahead


# -- what the commands print ----------------------------------------------------------------

def test_preflight_prints_the_cost_offline():
    result = runner.invoke(app, ["preflight", "--stack", "dev", "--offline"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Cost per hour (us-central1 list prices of 2026-07-30, lab/cost.py):" in out
    assert "total: idle $0.24/h, full at most $1.38/h" in out
    assert out.index("offline: nothing read from GCP") < out.index("Cost per hour")


def test_preflight_json_carries_the_breakdown():
    result = runner.invoke(app, ["preflight", "--stack", "pairing", "--offline", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"requirements", "apis", "cost"}
    breakdown = payload["cost"]
    assert [p["pool"] for p in breakdown["pools"]] == ["system", "t4"]
    assert breakdown["idle_per_hour"]["usd"] == pytest.approx(0.671581, abs=1e-6)
    assert breakdown["full_per_hour"]["at_on_demand_price"] == [
        "nvidia-tesla-t4 Spot at its on-demand $0.35/h per GPU"]
    assert breakdown["prices_as_of"] == cost.PRICES_AS_OF


def test_new_prints_the_cost_before_pulumi_up(monkeypatch):
    def new_stack(candidate, config, on_output):
        raise stacks.LabError("new_stack reached")

    monkeypatch.setattr(stacks, "require_cli", lambda: "/usr/bin/pulumi")
    monkeypatch.setattr(stacks, "new_stack", new_stack)
    result = runner.invoke(app, ["new", "alice", "--project", "acme", "--skip-preflight",
                                 "--hours", "8"])
    assert result.exit_code == 1 and result.stderr == "new_stack reached\n"
    assert "total: idle at most $0.67/h, full at most $1.81/h" in result.stdout
    over = 8 * (SYSTEM_NODE + T4_NODE + FEE)
    assert f"Over its --hours 8 at the idle rate: at most ${over:.2f}" in result.stdout


def test_list_rows_carry_the_cost_so_far():
    config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in
              stacks.candidate_config("alice", "pairing", "acme", 8, "tenant-a",
                                      NOW - timedelta(hours=10)).items()}
    row = stacks.stack_row("alice", config, NOW - timedelta(hours=9), 112, NOW)
    assert (row.cost_since, row.cost_upper_bound) == ("created", True)     # the T4 at idle
    assert row.cost_usd == pytest.approx(10 * (SYSTEM_NODE + T4_NODE + FEE))
    # without gpu-lab:createdAt, from the last update: a lower bound
    del config["gpu-lab:createdAt"]
    row = stacks.stack_row("alice", config, NOW - timedelta(hours=2), 112, NOW)
    assert (row.cost_since, row.cost_usd) == ("last update", pytest.approx(
        2 * (SYSTEM_NODE + T4_NODE + FEE)))
    # nothing deployed, or a region the table lacks: no figure, and why
    assert stacks.stack_row("alice", config, NOW, 0, NOW).cost_since == "no resources"
    config["gcp:region"] = "europe-west4"
    config["gpu-lab:cluster"] = json.dumps({"name": "gpu-lab-alice",
                                            "location": "europe-west4-a"})
    row = stacks.stack_row("alice", config, NOW - timedelta(hours=2), 112, NOW)
    assert (row.cost_usd, row.cost_since) == (None, "region europe-west4 not in the price "
                                                    "table")
