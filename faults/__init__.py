"""The fault catalog: pure functions from a healthy LabSpec to a deliberately broken one."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from faults import config
from faults.registry import FAULTS, apply_faults, default_params, enabled
from faults.scenarios import SCENARIOS, expand, left_out as _left_out
from faults.variation import dress
from model import ConfigError, load_spec
from model.errors import Problem
from model.spec import LabSpec


def build_spec(values: Mapping[str, Any], stack: str = "dev") -> LabSpec:
    """Stack config -> the LabSpec to render: scenario expanded, validated, faults injected.
    Raises ConfigError (every problem, nothing registered) on bad config."""
    interview, rest = config.split(expand(dict(values)))
    problems: list[Problem] = []
    refs, allow, scenario, variation = config.parse(interview, problems)
    try:
        spec = load_spec(rest, stack=stack)
    except ConfigError as err:
        raise ConfigError(problems + err.problems) from None
    if problems:
        raise ConfigError(problems)
    if variation:
        dressed = dress(spec, stack)
        spec = replace(dressed.spec, dressing=dressed.differences)
    return apply_faults(replace(spec, faults=refs, allow_faults=allow, scenario=scenario))


def left_out(spec: LabSpec) -> list[tuple[str, str]]:
    """(fault id, why) for each fault of the stack's scenario that its platform cannot have
    and that the stack therefore runs without (faults/scenarios.py)."""
    return _left_out(spec.scenario, spec.platform)


def outputs(spec: LabSpec) -> list[dict]:
    """What a stack exports about its faults: ids and titles, never fixes; then each fault of
    its scenario that the platform cannot have, marked left out, with the reason."""
    return [{"id": fault.id, "title": fault.describe(params, spec)["title"]}
            for fault, params in enabled(spec)] + [
        {"id": fault_id, "title": f"left out: {why}", "leftOut": True}
        for fault_id, why in left_out(spec)]


__all__ = ["FAULTS", "SCENARIOS", "apply_faults", "build_spec", "default_params", "enabled",
           "expand", "left_out", "outputs"]
