"""The candidate's handout reads like a real team's config: a script that diffs sibling
tenants and sibling workloads does not single out the faults.

For every shipped stack and scenario: among the leaves (tenant or workload, path to a value)
in which a tenant differs from another tenant, or a workload from another workload, at most a
quarter are leaves a fault changed (the same stack without its faults tells which); and no key
that existed only to express a fault appears in the config at all."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any, Iterator

import pytest

from faults import build_spec
from lab.grading import baseline_values
from lab.handout import stack_config
from tests.test_handout import CASES, case_values

# The keys that once said what a fault changed, by name.
FAULT_ONLY_KEYS = {"gpuQuotaKeys", "device", "logToFile", "monitorPort", "pinToOneNode",
                   "spread", "gpuAdvertised", "egressDeniedPools", "internetEgress"}
SIBLINGS = {"gpu-lab:tenants": lambda t: t["name"],
            "gpu-lab:workloads": lambda w: f"{w['tenant']}/{w['name']}"}
AT_MOST = 0.25


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys(item)


def items(config: dict) -> dict[tuple[str, str], dict[str, Any]]:
    """{(list key, identity): {leaf path: value}} of the config's tenants and workloads."""
    return {(key, identity(item)): dict(leaves(item))
            for key, identity in SIBLINGS.items() for item in config.get(key, [])}


def differing(found: dict) -> set[tuple[str, str, str]]:
    """(list key, identity, path) of every leaf in which an item differs from a sibling."""
    out = set()
    for key in SIBLINGS:
        siblings = [(ident, leaf) for (k, ident), leaf in found.items() if k == key]
        for (a, left), (b, right) in itertools.combinations(siblings, 2):
            for path in set(left) | set(right):
                if left.get(path, "<absent>") != right.get(path, "<absent>"):
                    out |= {(key, a, path), (key, b, path)}
    return out


def configs(case: str) -> tuple[dict, dict]:
    """(the handout's config, the same stack's without its faults)."""
    values, stack = case_values(case)
    faulty = stack_config(build_spec(values, stack=stack))
    healthy = stack_config(build_spec(baseline_values(values), stack=stack))
    return faulty, healthy


@pytest.mark.parametrize("case", CASES)
def test_no_key_exists_only_to_express_a_fault(case):
    faulty, _ = configs(case)
    assert FAULT_ONLY_KEYS.isdisjoint(keys(faulty)), sorted(FAULT_ONLY_KEYS & set(keys(faulty)))


@pytest.mark.parametrize("case", CASES)
def test_diffing_siblings_does_not_single_out_the_faults(case):
    faulty, healthy = configs(case)
    found, before = items(faulty), items(healthy)
    changed = {(key, ident, path) for (key, ident), leaf in found.items()
               for path in set(leaf) | set(before.get((key, ident), {}))
               if leaf.get(path, "<absent>") != before.get((key, ident), {}).get(path, "<absent>")}
    differ = differing(found)
    carried = changed & differ
    assert differ, "siblings that do not differ at all"
    share = len(carried) / len(differ)
    assert share <= AT_MOST, (f"{len(carried)} of {len(differ)} differing leaves carry a fault "
                              f"({share:.0%}): {sorted(carried)}")


def test_the_dressing_is_the_stacks_own_with_or_without_faults():
    """Seeded by the stack's name: the same name dresses the same way, another name
    otherwise, and the faults neither add nor take away a difference."""
    values, _ = case_values("stack:pairing")
    spec = build_spec(values, stack="pairing")
    assert spec.dressing and spec.dressing == build_spec(values, stack="pairing").dressing
    assert build_spec(baseline_values(values), stack="pairing").dressing == spec.dressing
    assert build_spec(values, stack="another").dressing != spec.dressing
    assert build_spec({**values, "gpu-lab:variation": False}, stack="pairing").dressing == ()


def test_the_guide_lists_the_benign_differences():
    from lab.guide import candidate_brief, interviewer_guide
    values, stack = case_values("stack:pairing")
    spec = build_spec(values, stack=stack)
    guide = interviewer_guide(spec)
    assert "## Benign differences (not faults)" in guide
    assert all(f"- {line}" in guide for line in spec.dressing)
    assert "Benign differences" not in candidate_brief(spec)


def test_what_the_faults_change_also_varies_without_them():
    """The kinds of value the faults set show up in stacks without faults too: a GPU workload
    told its device (--device cuda), a tenant's own group on the built-in view ClusterRole, a
    metrics endpoint scraped at another interval than the default."""
    healthy = [configs(case)[1] for case in CASES]
    workloads = [w for config in healthy for w in config.get("gpu-lab:workloads", [])]
    tenants = [t for config in healthy for t in config.get("gpu-lab:tenants", [])]
    assert any(w["gpus"] and "--device" in w.get("args", []) for w in workloads)
    assert any(b.get("roleKind") == "ClusterRole" and b["role"] == "view" and
               all(g.startswith(f"{t['name']}-") for g in b.get("groups", []))
               for t in tenants for b in t.get("roleBindings", []))
    assert {w["podMetricsEndpoint"]["interval"] for w in workloads} - {"15s"}


def test_cpu_fallback_retells_a_workload_already_told_its_device():
    from faults import FAULTS

    values, stack = case_values("stack:pairing")
    values = {**baseline_values(values), "gpu-lab:variation": False}
    spec = build_spec(values, stack=stack)
    told = spec.workloads[0]
    spec = replace(spec, workloads=(replace(told, args=("--device", "cuda", "--seed", "3")),)
                   + spec.workloads[1:])
    broken = FAULTS["cpu-fallback"].inject(spec, workload=f"{told.tenant}/{told.name}")
    assert broken.workloads[0].args == ("--device", "cpu", "--seed", "3")
