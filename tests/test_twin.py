"""Every shipped stack and scenario, simulated by the twin: every pod that no fault targets
runs (or completes), and each fault's targets show the status its guide promises."""

import pytest

from faults import SCENARIOS, build_spec, enabled
from kube import operator_validator
from lab.simulate import simulate_rendering
from lab.render import render
from tests.helpers import catalog_refs, stack_values

FINE = ("Running", "Completed")
STACKS = ["dev", "pairing", "all-faults", "local"]


def scenario_values(name: str) -> dict:
    return {"gcp:project": "gpu-lab-test", "gcp:region": "us-central1",
            "gpu-lab:allowFaults": True, "gpu-lab:scenario": name}


def simulated(values: dict, stack: str):
    spec = build_spec(values, stack=stack)
    return spec, simulate_rendering(spec, render(values, stack=stack))


def promised(spec) -> dict[str, tuple[str, str]]:
    """{"<tenant>/<workload>": (status, fault id)} for every workload a fault targets."""
    found = {}
    for fault, params in enabled(spec):
        status = fault.describe(params, spec)["pod_status"]
        for target in fault.targets(spec, **params):
            if target.startswith("workload:"):
                found[target.removeprefix("workload:")] = (status, fault.id)
    return found


def validators_promised(spec) -> dict[str, tuple[tuple[str, ...], str]]:
    """{pool: (the statuses its validator pods may show, fault id)} for every pool a fault
    says breaks the GPU Operator's validator there (target validator:<pool>)."""
    found = {}
    for fault, params in enabled(spec):
        for target in fault.targets(spec, **params):
            if target.startswith("validator:"):
                names = fault.details(spec, **params)
                found[target.removeprefix("validator:")] = (
                    (names["validator_status"], names["validator_retrying"]), fault.id)
    return found


def pool_of(spec, node: str):
    """The GPU pool of a node the twin names (<pool>-<i> on GKE, listed on existing)."""
    for pool in spec.gpu_pools:
        if node in pool.nodes or node.rpartition("-")[0] == pool.name:
            return pool.name
    return None


def check(spec, views):
    assert views, "the stack runs workloads"
    targets = promised(spec)
    validators = validators_promised(spec)
    for view in views:
        workload = f"{view.namespace}/{view.owner.split('/', 1)[1]}"
        status, fault = targets.get(workload, ("", None))
        where = f"{view.namespace}/{view.pod} ({view.owner}): {view.status}: {view.message}"
        if view.owner == operator_validator.OWNER:
            statuses, fault = validators.get(pool_of(spec, view.node), (FINE, None))
            assert view.status in statuses, f"{fault or 'no fault'} promises {statuses}; {where}"
        elif status:
            assert view.status == status, f"{fault} promises {status}; {where}"
        else:
            assert view.status in FINE, f"not targeted by {fault or 'any fault'}: {where}"
    shown = {f"{v.namespace}/{v.owner.split('/', 1)[1]}" for v in views}
    assert set(targets) <= shown, "every targeted workload has pods to look at"
    on = {pool_of(spec, v.node) for v in views if v.owner == operator_validator.OWNER}
    assert set(validators) <= on, "every pool whose validator a fault breaks has one to see"


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks(stack):
    spec, views = simulated(stack_values(stack), stack)
    check(spec, views)


def test_the_healthy_baseline_runs_every_pod():
    _, views = simulated(stack_values("dev"), "dev")
    assert [v.status for v in views] == ["Running"] * len(views)
    tenants = [v for v in views if v.namespace.startswith("tenant-")]
    validators = [v for v in views if v.owner == operator_validator.OWNER]
    assert len(tenants) == 2 and validators and len(views) == len(tenants) + len(validators)
    assert {v.node for v in validators} >= {v.node for v in tenants}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenarios(scenario):
    spec, views = simulated(scenario_values(scenario), scenario)
    check(spec, views)


ALL = stack_values("all-faults")
BASELINE = {k: v for k, v in ALL.items() if k != "gpu-lab:faults"}
REFS = catalog_refs()


@pytest.mark.parametrize("ref", REFS, ids=lambda r: r if isinstance(r, str) else r["id"])
def test_each_fault_changes_its_targets_and_no_other_pod(ref):
    spec, views = simulated({**BASELINE, "gpu-lab:faults": [ref]}, "test")
    check(spec, views)


def test_the_guides_symptom_quotes_what_the_twin_shows():
    """The STATUS and the message the twin gives each target pod appear in the fault's
    symptom text (the guide's): the text is checked against the twin, not against itself."""
    spec, views = simulated(ALL, "all-faults")
    checked = 0
    for fault, params in enabled(spec):
        symptom = fault.describe(params, spec)["symptom"]
        targets = {t.removeprefix("workload:") for t in fault.targets(spec, **params)
                   if t.startswith("workload:")}
        for view in views:
            if f"{view.namespace}/{view.owner.split('/', 1)[1]}" not in targets \
                    or view.status in FINE:
                continue
            assert view.status in symptom, (fault.id, view.status)
            for marker in ("exec format error", "CUDA out of memory", "i/o timeout",
                           "Insufficient nvidia.com/gpu"):
                said = marker in view.message or any(marker in l for l in view.logs.values())
                if said:
                    assert marker in symptom, (fault.id, marker)
            checked += 1
    assert checked >= 5
