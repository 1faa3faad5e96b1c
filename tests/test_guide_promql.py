"""Every "Prometheus: ..." promise in the faults' symptom texts (and the alerts they say
fire), evaluated by Prometheus' own engine over the twin's series, for each fault in every
scenario that has it, in the pairing stack and in all-faults.

A promise is read from the symptom text as the guide prints it (the fault's parameters
filled in); each clause has one of the shapes below, and a clause of any other shape fails
the test, so no promise goes unchecked. Where the twin shows a promise false because
another fault of the same stack hides its evidence, the case is an expected failure
(strict) that says which fault and why."""

from __future__ import annotations

import functools
import re

import pytest

from faults import SCENARIOS, enabled
from kube.prometheus_engine import evaluate
from tests.test_prometheus_twin import (QUERIES, SHIPPED, check_only_faults_targets_down,
                                        check_platform_targets, prometheus_of, stack_spec)

# The stacks whose promises are checked: the pairing stack (the pairing scenario itself),
# all-faults, and every other scenario with a fault that promises something of Prometheus.
CANDIDATES = ["pairing", "all-faults", *(f"scenario {name}" for name in sorted(SCENARIOS)
                                         if name != "pairing")]

NO_DATA = re.compile(r"^(?P<expr>.+?) -> no data(?P<others>, while the other tenants have "
                     r"series)?$")
ABOUT_ZERO = re.compile(r"^(?P<expr>.+?) ~ 0$")
ALERT = re.compile(r"^[Aa]lert (?P<alert>\w+) fires(?: after \d+ minutes| once GPU nodes "
                   r"exist)?\.?$")
NO_JOB = re.compile(r"^Status > Targets has no (?P<job>\S+) job$")
NO_TARGET = re.compile(r"^Status > Targets shows no (?P<job>\S+/\S+) target$")


def clauses(symptom: str) -> list[str]:
    """The Prometheus promises of a symptom text: what follows `Prometheus:` on a line,
    clause by clause, and every `Alert ... fires` line."""
    found = []
    for line in symptom.splitlines():
        if "Prometheus:" in line:
            found += [c.strip() for c in line.split("Prometheus:", 1)[1].split(";")]
        elif ALERT.match(line.strip()):
            found.append(line.strip())
    return [c for c in found if c]


def promises(context: str) -> list[tuple[str, str, dict]]:
    """(fault id, clause, the fault's parameters) for every promise in the context."""
    spec = stack_spec(context)
    return [(fault.id, clause, params) for fault, params in enabled(spec)
            for clause in clauses(fault.describe(params, spec)["symptom"])]


CONTEXTS = [c for c in CANDIDATES if promises(c)]
# The stacks with faults, whose platform targets tests/test_prometheus_twin.py checks from this
# run too.
STACKS = list(dict.fromkeys(CONTEXTS + [s for s in SHIPPED if s in ("pairing", "all-faults")]))

# Where another fault of the stack hides a promise's evidence (see the report).
CONFLICTS = {
    ("all-faults", "cpu-fallback", 'DCGM_FI_DEV_GPU_UTIL{namespace="tenant-a"} ~ 0'):
        "dcgm-metrics-missing: no ServiceMonitor scrapes the DCGM exporter, so there is no "
        "DCGM_FI_DEV_GPU_UTIL for tenant-a/infer at all",
    ("all-faults", "cpu-fallback", "alert GpuAllocatedButIdle fires after 10 minutes"):
        "dcgm-metrics-missing: without DCGM_FI_DEV_GPU_UTIL the rule has nothing to compare",
    ("all-faults", "tenant-observability-broken",
     'gpu_lab_inference_batches_total{namespace="tenant-a"} -> no data, while the other '
     'tenants have series'):
        "the promise queries the whole namespace: cpu-fallback's tenant-a/infer (Running, "
        "scraped through its own PodMonitor) gives tenant-a series, though tenant-a/obs has "
        "none",
}


def _cases():
    for context in CONTEXTS:
        for fault, clause, params in promises(context):
            marks = []
            reason = CONFLICTS.get((context, fault, clause))
            if reason:
                marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)]
            yield pytest.param(context, fault, clause, params, marks=marks,
                               id=f"{context}-{fault}-{clause[:40]}")


def test_every_context_has_promises():
    assert all(promises(c) for c in ("pairing", "all-faults")), "the symptom texts changed"
    assert {f for c in CONTEXTS for f, _, _ in promises(c)} == \
        {"dcgm-metrics-missing", "tenant-observability-broken", "cpu-fallback"}


def _other_tenants_queries(context: str, expr: str, params: dict) -> list[str]:
    tenant = params["workload"].split("/")[0]
    spec = stack_spec(context)
    others = sorted({w.tenant for w in spec.workloads} - {tenant})
    return [expr.replace(f'namespace="{tenant}"', f'namespace="{other}"') for other in others]


def _queries(context: str) -> list[str]:
    found = []
    for fault, clause, params in promises(context):
        for shape in (NO_DATA, ABOUT_ZERO):
            if m := shape.match(clause):
                found.append(m.group("expr"))
                if shape is NO_DATA and m.group("others"):
                    found += _other_tenants_queries(context, m.group("expr"), params)
        if m := NO_JOB.match(clause) or NO_TARGET.match(clause):
            found.append(f'up{{job="{m.group("job")}"}}')
    return sorted(set(found))


@functools.lru_cache(maxsize=1)
def answers():
    """Every context's answers to its promised queries (and the platform's, QUERIES) and
    its gpu-lab alerts, by one promtool run."""
    views = {c: prometheus_of(c) for c in STACKS}
    queries = sorted({q for c in CONTEXTS for q in _queries(c)} | set(QUERIES))
    gpu_lab = [g for g in views["pairing"].rule_groups if g["name"] == "gpu-lab.gpu"]
    return evaluate({c: v.series for c, v in views.items()}, queries, gpu_lab, alerts=True)


@pytest.mark.parametrize("context,fault,clause,params", list(_cases()))
def test_the_promise_holds(context, fault, clause, params):
    got = answers()[context]
    tenant = params.get("workload", "").split("/")[0] or None
    if m := NO_DATA.match(clause):
        assert got.queries[m.group("expr")] == [], f"{clause}: got {got.queries[m.group('expr')]}"
        if m.group("others"):
            for other in _other_tenants_queries(context, m.group("expr"), params):
                assert got.queries[other], f"{clause}: {other} has no data"
    elif m := ABOUT_ZERO.match(clause):
        values = [s["value"] for s in got.queries[m.group("expr")]]
        assert values and all(abs(v) < 1 for v in values), f"{clause}: got {values}"
    elif m := ALERT.match(clause):
        firing = [a for a in got.alerts if a["alert"] == m.group("alert") and
                  (tenant is None or a["labels"].get("namespace") == tenant)]
        assert firing, f"{clause}: firing {[a['alert'] for a in got.alerts]}"
    elif m := NO_JOB.match(clause) or NO_TARGET.match(clause):
        query = f'up{{job="{m.group("job")}"}}'
        assert got.queries[query] == [], f"{clause}: got {got.queries[query]}"
    else:
        pytest.fail(f"{fault}: a promise of a shape this test cannot check: {clause!r}")


@pytest.mark.parametrize("stack", ["pairing", "all-faults"])
def test_the_platforms_targets_are_up_beside_the_faults(stack):
    """As tests/test_prometheus_twin.py checks the healthy shipped stacks, from this run."""
    check_platform_targets(stack, answers()[stack])
    check_only_faults_targets_down(stack, answers()[stack])
