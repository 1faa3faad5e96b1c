"""The fault catalog: each fault shows its own symptom and nothing else, alone and in pairs;
non-cloud faults never touch GCP; bad fault config is rejected with clear messages."""

import itertools

import pytest

from faults import FAULTS, SCENARIOS, build_spec, outputs
from faults.base import LAYERS
from lab.render import render
from kube.symptoms import CHECKS, offline_context, run_all
from model import ConfigError
from lab.simulate import simulate_rendering
from tests.helpers import catalog_refs, stack_values
from tests.test_twin import check as twin_check

# The all-faults stack puts every fault on its own target; its config minus the faults is
# the healthy baseline all fault tests start from.
ALL = stack_values("all-faults")
FAULT_REFS = {(ref if isinstance(ref, str) else ref["id"]): ref for ref in catalog_refs()}
BASELINE = {k: v for k, v in ALL.items() if k != "gpu-lab:faults"}


def rendered(faults: list):
    values = {**BASELINE, "gpu-lab:faults": faults} if faults else BASELINE
    spec = build_spec(values, stack="test")
    return spec, render(values, stack="test")


def symptoms(faults: list) -> dict:
    return run_all(offline_context(*rendered(faults)))


@pytest.fixture(scope="module")
def baseline():
    return symptoms([])


@pytest.fixture(scope="module")
def single():
    """Every fault rendered on its own: {fault id: symptom answers}."""
    return {fault_id: symptoms([ref]) for fault_id, ref in FAULT_REFS.items()}


def test_the_catalog_is_complete_and_well_formed():
    assert set(FAULT_REFS) == set(FAULTS) and len(FAULTS) == 13
    checks = [fault.check for fault in FAULTS.values()]
    assert len(set(checks)) == len(checks), "each fault has a symptom check of its own"
    assert set(checks) == set(CHECKS)
    for fault in FAULTS.values():
        assert fault.layer in LAYERS
        assert len(fault.hints) == 3 and all(fault.hints)
        assert fault.part and fault.task and fault.symptom and fault.fix and fault.look_for


def test_baseline_shows_no_symptom(baseline):
    present = {check: answer.reason for check, answer in baseline.items() if answer}
    assert present == {}


@pytest.mark.parametrize("fault_id", sorted(FAULTS))
def test_fault_shows_its_own_symptom_and_no_other(fault_id, baseline, single):
    answers = single[fault_id]
    own = FAULTS[fault_id].check
    assert answers[own], f"{fault_id}: {answers[own].reason}"
    changed = {check for check in CHECKS if bool(answers[check]) != bool(baseline[check])}
    assert changed == {own}, {c: answers[c].reason for c in changed}


PAIRS = list(itertools.combinations(sorted(FAULT_REFS), 2))
# Pairs the registry refuses: one removes the other's evidence (tests/test_guide_promql.py
# shows the twin's Prometheus agrees).
HIDING = {("cpu-fallback", "dcgm-metrics-missing")}


@pytest.mark.parametrize("first,second", PAIRS)
def test_every_pair_renders_and_neither_masks_the_other(first, second):
    if (first, second) in HIDING:
        with pytest.raises(ConfigError, match="put them in different stacks"):
            rendered([FAULT_REFS[first], FAULT_REFS[second]])
        return
    spec, rendering = rendered([FAULT_REFS[first], FAULT_REFS[second]])
    # On the twin: each target shows its promised status and every other pod runs.
    twin_check(spec, simulate_rendering(spec, rendering))
    answers = run_all(offline_context(spec, rendering))
    for fault_id in (first, second):
        check = FAULTS[fault_id].check
        assert answers[check], f"{fault_id} masked by the other: {answers[check].reason}"
    others = set(CHECKS) - {FAULTS[first].check, FAULTS[second].check}
    assert not [c for c in others if answers[c]]


# -- two faults on one workload: refused by what one takes from the other, or both shown ------

WORKLOAD_FAULTS = sorted(f for f in FAULT_REFS
                         if any(p.name == "workload" for p in FAULTS[f].params))
SAME_WORKLOAD = list(itertools.combinations(WORKLOAD_FAULTS, 2))
# The pairs that can share a workload: neither takes what the other's candidate must see
# (its pods running, logs, CUDA, series) nor sets what the other sets.
SHARE_A_WORKLOAD = {("cpu-fallback", "gpu-quota-ineffective"),
                    ("cpu-fallback", "unbalanced-scheduling"),
                    ("gpu-quota-ineffective", "tenant-observability-broken"),
                    ("tenant-observability-broken", "unbalanced-scheduling")}


def on_one_workload(first: str, second: str):
    """(the faults' refs on the first all-faults workload both can take, the registry's
    refusal or None); (None, None) when no workload meets both faults' parameters."""
    def ref_on(fault_id: str, workload: str) -> dict:
        ref = FAULT_REFS[fault_id]
        ref = {"id": ref} if isinstance(ref, str) else dict(ref)
        ref["workload"] = workload
        if any(p.name == "tenant" for p in FAULTS[fault_id].params):
            ref["tenant"] = workload.split("/")[0]
        return ref
    for w in build_spec(BASELINE, stack="test").workloads:
        refs = [ref_on(first, f"{w.tenant}/{w.name}"), ref_on(second, f"{w.tenant}/{w.name}")]
        try:
            build_spec({**BASELINE, "gpu-lab:faults": refs}, stack="test")
        except ConfigError as err:
            if "cannot share a stack" in str(err) or "contradicts" in str(err):
                return refs, str(err)
            continue                    # a parameter this workload does not meet
        return refs, None
    return None, None


@pytest.mark.parametrize("first,second", SAME_WORKLOAD)
def test_two_faults_on_one_workload_are_refused_or_both_show(first, second):
    refs, refusal = on_one_workload(first, second)
    if (first, second) not in SHARE_A_WORKLOAD:
        if refs is not None:
            assert refusal, f"{first} and {second} share a workload"
            assert "removes" in refusal or "both change" in refusal, refusal
        return
    assert refs and refusal is None, refusal
    spec, rendering = rendered(refs)
    twin_check(spec, simulate_rendering(spec, rendering))
    answers = run_all(offline_context(spec, rendering))
    for fault_id in (first, second):
        check = FAULTS[fault_id].check
        assert answers[check], f"{fault_id} masked by the other: {answers[check].reason}"


def gcp_inputs(values):
    return {(r.type, r.name): r.inputs for r in render(values, stack="test").resources
            if r.type.startswith("gcp:")}


@pytest.fixture(scope="module")
def baseline_gcp():
    return gcp_inputs(BASELINE)


@pytest.mark.parametrize("fault_id", sorted(f.id for f in FAULTS.values() if f.layer != "cloud"))
def test_non_cloud_faults_leave_gcp_untouched(fault_id, baseline_gcp):
    faulty = gcp_inputs({**BASELINE, "gpu-lab:faults": [FAULT_REFS[fault_id]]})
    assert faulty == baseline_gcp


@pytest.mark.parametrize("fault_id", sorted(f.id for f in FAULTS.values() if f.layer == "cloud"))
def test_cloud_faults_do_change_gcp(fault_id, baseline_gcp):
    assert gcp_inputs({**BASELINE, "gpu-lab:faults": [FAULT_REFS[fault_id]]}) != baseline_gcp


def test_the_all_faults_stack_shows_every_symptom_it_lists():
    answers = symptoms(ALL["gpu-lab:faults"])
    listed = {FAULTS[ref if isinstance(ref, str) else ref["id"]].check
              for ref in ALL["gpu-lab:faults"]}
    assert len(listed) == len(FAULTS) - 1
    assert {check for check in CHECKS if answers[check]} == listed


def test_a_fault_that_hides_anothers_evidence_is_refused_with_both_named():
    with pytest.raises(ConfigError) as refused:
        rendered([FAULT_REFS["cpu-fallback"], "dcgm-metrics-missing"])
    assert [str(p) for p in refused.value.problems] == [
        "gpu-lab:faults[1]: got 'dcgm-metrics-missing'; cannot share a stack with "
        "gpu-lab:faults[0] (cpu-fallback): dcgm-metrics-missing removes alert "
        "GpuAllocatedButIdle for tenant-a and series DCGM_FI_DEV_GPU_UTIL of tenant-a/infer: "
        "cpu-fallback's evidence; put them in different stacks"]


def test_fault_outputs_list_ids_and_titles_only():
    spec = build_spec(ALL, stack="test")
    listed = outputs(spec)
    assert [f["id"] for f in listed] == \
        [ref if isinstance(ref, str) else ref["id"] for ref in ALL["gpu-lab:faults"]]
    assert all(set(f) == {"id", "title"} for f in listed)
    assert {"id": "rbac-cross-tenant-read", "title": "tenant-a can read tenant-b's pods"} in listed
    rendering = render(ALL, stack="test")
    assert rendering.outputs["faults"] == listed


# -- validation ---------------------------------------------------------------------------

def problems_of(values):
    with pytest.raises(ConfigError) as caught:
        build_spec(values, stack="test")
    return [str(p) for p in caught.value.problems]


def test_faults_need_allow_faults():
    values = {k: v for k, v in ALL.items() if k != "gpu-lab:allowFaults"}
    [message] = problems_of(values)
    assert message.startswith("gpu-lab:allowFaults: got False; this stack bakes in 12 fault(s)")
    assert "set gpu-lab:allowFaults: true" in message


def test_unknown_fault_id_suggests_the_right_one():
    assert problems_of({**BASELINE, "gpu-lab:faults": ["cpu-fallbak"]}) == [
        "gpu-lab:faults[0]: got 'cpu-fallbak'; unknown fault id (did you mean 'cpu-fallback'?); "
        "`venv/bin/gpu-lab scenarios` lists them"]


def test_unknown_parameter():
    assert problems_of({**BASELINE, "gpu-lab:faults": [{"id": "cpu-fallback",
                                                         "workloads": "tenant-a/infer"}]}) == [
        "gpu-lab:faults[0].workloads: got 'tenant-a/infer'; unknown parameter of cpu-fallback "
        "(did you mean 'workload'?); parameters: workload"]


def test_parameter_naming_a_missing_tenant():
    [message] = problems_of({**BASELINE, "gpu-lab:faults": [
        {"id": "rbac-cross-tenant-read", "reader": "tenant-z"}]})
    assert message == ("gpu-lab:faults[0].reader: got 'tenant-z'; rbac-cross-tenant-read: must "
                       "name a tenant of the stack: tenant-a, tenant-b, tenant-c")


def test_parameter_naming_a_missing_workload():
    [message] = problems_of({**BASELINE, "gpu-lab:faults": [
        {"id": "arm64-image", "workload": "tenant-a/nope"}]})
    assert message.startswith("gpu-lab:faults[0].workload: got 'tenant-a/nope'; arm64-image: "
                              "must name a workload of the stack as <tenant>/<name>: "
                              "tenant-a/infer, ")


def test_a_fault_that_stops_a_workload_hides_what_another_shows_there():
    [message] = problems_of({**BASELINE, "gpu-lab:faults": [
        {"id": "cpu-fallback", "workload": "tenant-a/infer"},
        {"id": "arm64-image", "workload": "tenant-a/infer"}]})
    assert message == (
        "gpu-lab:faults[1]: got 'arm64-image'; cannot share a stack with gpu-lab:faults[0] "
        "(cpu-fallback): arm64-image removes log tenant-a/infer and running tenant-a/infer and "
        "series DCGM_FI_DEV_GPU_UTIL of tenant-a/infer: cpu-fallback's evidence; put them in "
        "different stacks")


def test_contradicting_faults():
    [message] = problems_of({**BASELINE, "gpu-lab:faults": [
        {"id": "gpu-quota-ineffective", "tenant": "tenant-b", "workload": "tenant-b/segment"},
        {"id": "unbalanced-scheduling", "workload": "tenant-b/segment"}]})
    assert message == ("gpu-lab:faults[1]: got 'unbalanced-scheduling'; contradicts "
                       "gpu-lab:faults[0] (gpu-quota-ineffective): both change "
                       "replicas:tenant-b/segment; pick one")


def test_device_plugin_fault_hides_workloads_on_its_pool():
    [message] = problems_of({**BASELINE, "gpu-lab:faults": [
        {"id": "gpu-device-plugin-missing", "pool": "t4"},
        {"id": "cpu-fallback", "workload": "tenant-a/infer"}]})
    assert "cannot share a stack with gpu-lab:faults[0] (gpu-device-plugin-missing): " \
        "gpu-device-plugin-missing removes " in message and "cpu-fallback's evidence" in message


def test_fault_unavailable_on_the_platform():
    values = {**stack_values("local"), "gpu-lab:allowFaults": True,
              "gpu-lab:faults": [{"id": "egress-blocked", "tenant": "tenant-a"}]}
    assert problems_of(values) == ["gpu-lab:faults[0]: got 'egress-blocked'; needs platform gke "
                                   "(this stack is existing)"]


def test_preconditions_are_explained():
    [message] = problems_of({**BASELINE, "gpu-lab:faults": [
        {"id": "gpu-memory-oom", "workload": "tenant-a/infer", "memory_gb": 8}]})
    assert message == ("gpu-lab:faults[0].memory_gb: got 8; gpu-memory-oom: must exceed the 16 GB "
                       "of nvidia-tesla-t4 GPUs in pool t4")
    [message] = problems_of({**BASELINE, "gpu-lab:faults": [
        {"id": "egress-blocked", "tenant": "tenant-a"}]})
    assert "give tenant-a's workloads" in message and "tenant-a/" in message
    [message] = problems_of({**BASELINE, "gpu-lab:faults": [
        {"id": "unbalanced-scheduling", "workload": "tenant-a/infer"}]})
    assert "must keep at least 2 nodes" in message


def test_wrong_parameter_type():
    assert problems_of({**BASELINE, "gpu-lab:faults": [
        {"id": "gpu-memory-oom", "workload": "tenant-a/infer", "memory_gb": "lots"}]}) == [
        "gpu-lab:faults[0].memory_gb: got 'lots'; must be a number"]


# -- scenarios -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_renders_with_its_faults_present(name):
    values = {"gcp:project": "p", "gpu-lab:allowFaults": True, "gpu-lab:scenario": name}
    spec = build_spec(values, stack=name)
    answers = run_all(offline_context(spec, render(values, stack=name)))
    expected = {FAULTS[ref if isinstance(ref, str) else ref["id"]].check
                for ref in SCENARIOS[name].faults}
    assert {check for check, answer in answers.items() if answer} == expected


def test_pairing_stack_file():
    spec = build_spec(stack_values("pairing"), stack="pairing")
    assert [ref.id for ref in spec.faults] == ["rbac-cross-tenant-read", "gpu-quota-ineffective",
                                              "tenant-observability-broken", "dcgm-metrics-missing"]
    assert [t.name for t in spec.tenants] == ["tenant-a", "tenant-b"]


def test_unknown_scenario():
    assert problems_of({"gcp:project": "p", "gpu-lab:scenario": "paring"}) == [
        "gpu-lab:scenario: got 'paring'; must be one of pairing, workload-failures, "
        "performance-observability, iac-challenges, gpu-readiness (did you mean 'pairing'?)"]
