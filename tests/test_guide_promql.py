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

from faults import FAULTS, SCENARIOS, build_spec, default_params, enabled, registry
from kube.prometheus_engine import evaluate
from lab import render as lab_render
from lab.render import render
from lab.simulate import prometheus_view
from model import ConfigError
from tests.helpers import catalog_refs, stack_values
from tests.test_prometheus_twin import (QUERIES, SHIPPED, STACKS as STACK_VALUES,
                                        check_only_faults_targets_down,
                                        check_platform_targets, prometheus_of, stack_spec)

# The stacks whose promises are checked: the pairing stack (the pairing scenario itself),
# all-faults, and every other scenario with a fault that promises something of Prometheus.
CANDIDATES = ["pairing", "all-faults", *(f"scenario {name}" for name in sorted(SCENARIOS)
                                         if name != "pairing")]

NO_DATA = re.compile(r"^(?P<expr>.+?) -> no data(?P<others>, while other workloads have "
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


def promises(context: str, spec=None) -> list[tuple[str, str, dict]]:
    """(fault id, clause, the fault's parameters) for every promise in the context (or in
    `spec`, a stack of the tests' own)."""
    spec = spec or stack_spec(context)
    return [(fault.id, clause, params) for fault, params in enabled(spec)
            for clause in clauses(fault.describe(params, spec)["symptom"])]


CONTEXTS = [c for c in CANDIDATES if promises(c)]
# The stacks with faults, whose platform targets tests/test_prometheus_twin.py checks from this
# run too.
STACKS = list(dict.fromkeys(CONTEXTS + [s for s in SHIPPED if s in ("pairing", "all-faults")]))

def _cases():
    for context in CONTEXTS:
        for fault, clause, params in promises(context):
            yield pytest.param(context, fault, clause, params,
                               id=f"{context}-{fault}-{clause[:40]}")


def test_every_context_has_promises():
    assert all(promises(c) for c in ("pairing", "all-faults")), "the symptom texts changed"
    assert {f for c in CONTEXTS for f, _, _ in promises(c)} == \
        {"dcgm-metrics-missing", "tenant-observability-broken", "cpu-fallback"}


def _others_query(expr: str, params: dict) -> str:
    """The promise's query for every workload but its own."""
    return expr.replace(f'job="{params["workload"]}"', f'job!="{params["workload"]}"')


def _queries(context: str, spec=None) -> list[str]:
    found = []
    for fault, clause, params in promises(context, spec):
        for shape in (NO_DATA, ABOUT_ZERO):
            if m := shape.match(clause):
                found.append(m.group("expr"))
                if shape is NO_DATA and m.group("others"):
                    found.append(_others_query(m.group("expr"), params))
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


def broken(got, clause: str, params: dict) -> str:
    """Why a promise does not hold in a stack's answers; "" when it holds."""
    tenant = params.get("workload", "").split("/")[0] or None
    if m := NO_DATA.match(clause):
        expr = m.group("expr")
        if got.queries[expr]:
            return f"{clause}: got {got.queries[expr]}"
        others = _others_query(expr, params) if m.group("others") else None
        if others is not None and (others == expr or not got.queries[others]):
            return f"{clause}: {others} has no data"
    elif m := ABOUT_ZERO.match(clause):
        values = [s["value"] for s in got.queries[m.group("expr")]]
        if not values or any(abs(v) >= 1 for v in values):
            return f"{clause}: got {values}"
    elif m := ALERT.match(clause):
        firing = [a for a in got.alerts if a["alert"] == m.group("alert") and
                  (tenant is None or a["labels"].get("namespace") == tenant)]
        if not firing:
            return f"{clause}: firing {[a['alert'] for a in got.alerts]}"
    elif m := NO_JOB.match(clause) or NO_TARGET.match(clause):
        query = f'up{{job="{m.group("job")}"}}'
        if got.queries[query]:
            return f"{clause}: got {got.queries[query]}"
    else:
        pytest.fail(f"a promise of a shape this test cannot check: {clause!r}")
    return ""


@pytest.mark.parametrize("context,fault,clause,params", list(_cases()))
def test_the_promise_holds(context, fault, clause, params):
    why = broken(answers()[context], clause, params)
    assert not why, why


# Later in the interview: the cluster as it is 30 minutes and 2 hours in (the autoscaler's
# scale-down and PodGC have acted; kube/timeline.py), each held for the rules' `for:`.
LATER = [(stack, after) for stack in ("pairing", "all-faults") for after in (30 * 60, 2 * 3600)]


@functools.lru_cache(maxsize=1)
def later_answers():
    views = {}
    for stack, after in LATER:
        values, name = STACK_VALUES[stack]
        views[f"{stack}@{after}"] = prometheus_view(stack_spec(stack),
                                                    render(values(), stack=name), after)
    queries = sorted({q for stack, _ in LATER for q in _queries(stack)})
    gpu_lab = [g for g in next(iter(views.values())).rule_groups if g["name"] == "gpu-lab.gpu"]
    return evaluate({k: v.series for k, v in views.items()}, queries, gpu_lab, alerts=True)


@pytest.mark.parametrize("stack,after", LATER, ids=[f"{s}-{a // 60}m" for s, a in LATER])
def test_the_promises_still_hold_later(stack, after):
    got = later_answers()[f"{stack}@{after}"]
    failing = [why for _, clause, params in promises(stack)
               if (why := broken(got, clause, params))]
    assert promises(stack) and failing == [], failing


@pytest.mark.parametrize("stack", ["pairing", "all-faults"])
def test_the_platforms_targets_are_up_beside_the_faults(stack):
    """As tests/test_prometheus_twin.py checks the healthy shipped stacks, from this run."""
    check_platform_targets(stack, answers()[stack])
    check_only_faults_targets_down(stack, answers()[stack])


# -- faults that hide each other's evidence ---------------------------------------------------
# The faults all-faults leaves out (they hide another's evidence) and those that declare they
# hide something cluster-wide (what a fault takes from its own workloads cannot reach another
# fault's targets there: tests/test_faults.py pairs faults on one workload), each paired
# with every other fault on the all-faults baseline (as
# tests/test_faults.py renders them): the registry refuses exactly the pairs in which the
# twin's Prometheus shows a promise broken. A refused pair is rendered with the refusal
# switched off, to show what the candidate would have faced. (The promises of the faults
# all-faults holds are checked beside one another there, by test_the_promise_holds.)
CATALOG = {(ref if isinstance(ref, str) else ref["id"]): ref for ref in catalog_refs()}
ALL_FAULTS = stack_values("all-faults")
BASELINE = {k: v for k, v in ALL_FAULTS.items() if k != "gpu-lab:faults"}
LISTED = {ref if isinstance(ref, str) else ref["id"] for ref in ALL_FAULTS["gpu-lab:faults"]}
HIDERS = sorted(f for f in CATALOG if f not in LISTED or
                any(p.endswith("*") for p in FAULTS[f].hides(build_spec(BASELINE, stack="test"),
                                                             **default_params(FAULTS[f]))))
PAIRS = sorted({tuple(sorted((a, b))) for a in HIDERS for b in CATALOG if a != b})


def _pair(first: str, second: str, monkeypatch) -> tuple[object, object, bool]:
    """(spec, rendering, refused) of the baseline with both faults."""
    values = {**BASELINE, "gpu-lab:faults": [CATALOG[first], CATALOG[second]]}
    try:
        return build_spec(values, stack="test"), render(values, stack="test"), False
    except ConfigError as err:
        assert "put them in different stacks" in str(err), str(err)
    monkeypatch.setattr(registry, "_hidden_evidence", lambda *_: "")
    monkeypatch.setattr(lab_render, "_memo", None)       # not a rendering to share
    return build_spec(values, stack="test"), render(values, stack="test"), True


@pytest.mark.parametrize("first,second", PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_a_pair_is_refused_exactly_when_one_hides_the_others_evidence(first, second,
                                                                     monkeypatch):
    spec, rendering, refused = _pair(first, second, monkeypatch)
    view = prometheus_view(spec, rendering)
    queries = _queries("pair", spec) + list(QUERIES)
    gpu_lab = [g for g in view.rule_groups if g["name"] == "gpu-lab.gpu"]
    got = evaluate({"pair": view.series}, queries, gpu_lab, alerts=True)["pair"]
    failing = [why for _, clause, params in promises("pair", spec)
               if (why := broken(got, clause, params))]
    if refused:
        assert failing, f"{first}+{second} refused, but every promise holds"
    else:
        assert failing == [], failing
