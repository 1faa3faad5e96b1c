"""The catalog, and applying the faults a stack asks for: validated first, all problems at once."""

from __future__ import annotations

from fnmatch import fnmatch
from typing import Any

from faults import (arm64_image, cpu_fallback, dcgm_metrics_missing, egress_blocked,
                    gpu_device_plugin_missing, gpu_memory_oom, gpu_pod_on_cpu_pool,
                    gpu_quota_ineffective, gpu_request_exceeds_node, job_submitter_forbidden,
                    rbac_cross_tenant_read, tenant_observability_broken, unbalanced_scheduling)
from faults.base import Fault, Unmet
from faults import capacity
from model.errors import ConfigError, Problem, did_you_mean
from model.spec import LabSpec

FAULTS: dict[str, Fault] = {module.FAULT.id: module.FAULT for module in (
    gpu_device_plugin_missing, rbac_cross_tenant_read, gpu_quota_ineffective,
    tenant_observability_broken, dcgm_metrics_missing, arm64_image, gpu_pod_on_cpu_pool,
    gpu_request_exceeds_node, gpu_memory_oom, cpu_fallback, unbalanced_scheduling,
    egress_blocked, job_submitter_forbidden)}


def _resolve(fault: Fault, given: dict[str, Any], key: str, spec: LabSpec,
             problems: list[Problem]) -> dict[str, Any] | None:
    """The fault's parameters with defaults filled in; None after recording problems."""
    known = {p.name for p in fault.params}
    ok = True
    for name in given:
        if name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            problems.append(Problem(f"{key}.{name}", given[name], f"unknown parameter of "
                                    f"{fault.id}{did_you_mean(name, known)}; parameters: "
                                    f"{allowed}"))
            ok = False
    values: dict[str, Any] = {}
    for param in fault.params:
        value = given.get(param.name, param.default)
        if isinstance(value, str) and param.name not in given:
            value = value.format(**values)
        kind_ok = {"number": isinstance(value, (int, float)) and not isinstance(value, bool),
                   "tenant": isinstance(value, str), "pool": isinstance(value, str),
                   "workload": isinstance(value, str) and "/" in value,
                   "text": isinstance(value, str)}[param.kind]
        if not kind_ok:
            what = {"number": "a number", "workload": "<tenant>/<name>"}.get(param.kind,
                                                                             "a string")
            problems.append(Problem(f"{key}.{param.name}", value, f"must be {what}"))
            ok = False
        values[param.name] = value
    return values if ok else None


def default_params(fault: Fault) -> dict[str, Any]:
    """A fault's parameters as they are when a stack gives none."""
    values: dict[str, Any] = {}
    for param in fault.params:
        default = param.default
        values[param.name] = default.format(**values) if isinstance(default, str) else default
    return values


def enabled(spec: LabSpec) -> list[tuple[Fault, dict[str, Any]]]:
    """The stack's faults with their resolved parameters (spec already validated)."""
    result = []
    for i, ref in enumerate(spec.faults):
        fault = FAULTS[ref.id]
        result.append((fault, _resolve(fault, dict(ref.params), f"gpu-lab:faults[{i}]", spec,
                                       [])))
    return result


def apply_faults(spec: LabSpec) -> LabSpec:
    """Inject every fault the spec lists, or raise ConfigError naming each problem."""
    if not spec.faults:
        return spec
    problems: list[Problem] = []
    if not spec.allow_faults:
        problems.append(Problem("gpu-lab:allowFaults", False, f"this stack bakes in "
                                f"{len(spec.faults)} fault(s) ({', '.join(r.id for r in spec.faults)}), "
                                "which break the cluster on purpose: set gpu-lab:allowFaults: "
                                "true to confirm it is an interview stack"))
    planned: list[tuple[int, Fault, dict[str, Any]]] = []
    for i, ref in enumerate(spec.faults):
        key = f"gpu-lab:faults[{i}]"
        fault = FAULTS.get(ref.id)
        if fault is None:
            problems.append(Problem(key, ref.id, "unknown fault id" + did_you_mean(ref.id, FAULTS)
                                    + "; `venv/bin/gpu-lab scenarios` lists them"))
            continue
        if spec.platform not in fault.platforms:
            problems.append(Problem(key, ref.id, f"needs platform {' or '.join(fault.platforms)}"
                                    f" (this stack is {spec.platform})"))
            continue
        params = _resolve(fault, dict(ref.params), key, spec, problems)
        if params is not None:
            planned.append((i, fault, params))

    # Two faults that set the same thing contradict each other; one whose change removes what
    # another's candidate must see would hide it. Either way the stack is refused.
    claimed: dict[str, tuple[int, str]] = {}        # what each fault breaks, for the names
    edited: dict[str, tuple[int, str]] = {}
    seen: list[tuple[int, Fault, set[str], set[str]]] = []     # index, fault, evidence, hides
    current = spec
    for i, fault, params in planned:
        key = f"gpu-lab:faults[{i}]"
        try:
            targets = fault.targets(current, **params)
            edits = fault.edits(current, **params) if fault.edits else targets
            clash = sorted(e for e in edits if e in edited)
            if clash:
                j, other = edited[clash[0]]
                problems.append(Problem(key, fault.id, f"contradicts gpu-lab:faults[{j}] "
                                        f"({other}): both change {clash[0]}; pick one"))
                continue
            hidden = _hidden_evidence(fault, current, params, seen)
            if hidden:
                problems.append(Problem(key, fault.id, hidden))
                continue
            seen.append((i, fault, fault.evidence(current, **params),
                         fault.hides(current, **params)))
            current = fault.inject(current, **params)
            claimed.update({t: (i, fault.id) for t in targets})
            edited.update({e: (i, fault.id) for e in edits})
        except Unmet as unmet:
            problems.append(Problem(f"{key}.{unmet.param}" if unmet.param != "id" else key,
                                    unmet.value, f"{fault.id}: {unmet.allowed}"))
        except Exception as err:  # noqa: BLE001 - any config reaches here: name the fault
            problems.append(Problem(key, fault.id, f"cannot be baked into this stack "
                                    f"({type(err).__name__}: {err}); check its parameters "
                                    "against `venv/bin/gpu-lab scenarios --json`"))
    if not problems:
        problems = _room_after_faults(spec, current, claimed)
    if problems:
        raise ConfigError(problems)
    return current


def _hidden_evidence(fault: Fault, spec: LabSpec, params: dict[str, Any],
                     seen: list[tuple[int, Fault, set[str], set[str]]]) -> str:
    """Why `fault` cannot join the faults before it: one's change removes what the other's
    candidate must see (both ways); "" when nothing is hidden."""
    needs, hides = fault.evidence(spec, **params), fault.hides(spec, **params)
    for j, other, other_needs, other_hides in seen:
        for evidence, hider, hidden in ((needs, other, other_hides), (other_needs, fault, hides)):
            lost = sorted(e for e in evidence if any(fnmatch(e, p) for p in hidden))
            if lost:
                owner = fault if hider is other else other
                return (f"cannot share a stack with gpu-lab:faults[{j}] ({other.id}): "
                        f"{hider.id} removes {' and '.join(lost)}: {owner.id}'s evidence; "
                        "put them in different stacks")
    return ""


def _room_after_faults(healthy: LabSpec, broken: LabSpec,
                       claimed: dict[str, tuple[int, str]]) -> list[Problem]:
    """A stack whose faults starve what they do not target is refused, naming the faults
    that added the demand (the ones whose workloads ask for more than they did)."""
    before = {f"{w.tenant}/{w.name}": w for w in healthy.workloads}
    problems = []
    for shortfall in capacity.shortfalls(broken):
        grown = [w for w in broken.workloads if f"{w.tenant}/{w.name}" in shortfall.workloads
                 and _demand(broken, w) > _demand(healthy, before.get(f"{w.tenant}/{w.name}"))]
        involved = sorted({claimed[f"workload:{w.tenant}/{w.name}"] for w in grown
                           if f"workload:{w.tenant}/{w.name}" in claimed})
        faults = ", ".join(f"{fault_id} (gpu-lab:faults[{i}])" for i, fault_id in involved)
        problems.append(Problem(shortfall.key, shortfall.value, f"with its faults injected, "
                                f"{shortfall.message}; the demand grows through: "
                                f"{faults or 'no fault (the stack is too small as it is)'}. "
                                f"Give the stack room for what the faults add"))
    return problems


def _demand(spec: LabSpec, workload) -> tuple[int, int]:
    """(GPUs its pods hold once placed, GPUs its pods ask of the quota)."""
    if workload is None:
        return (0, 0)
    return (capacity.placed_gpus(spec, workload), workload.gpus * workload.replicas)
