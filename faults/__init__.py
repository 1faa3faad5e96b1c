"""The fault catalog: pure functions from a healthy LabSpec to a deliberately broken one."""

from __future__ import annotations

from typing import Any, Mapping

from faults.registry import FAULTS, apply_faults, default_params, enabled
from faults.scenarios import SCENARIOS, expand
from model import load_spec
from model.spec import LabSpec


def build_spec(values: Mapping[str, Any], stack: str = "dev") -> LabSpec:
    """Stack config -> the LabSpec to render: scenario expanded, validated, faults injected.
    Raises ConfigError (every problem, nothing registered) on bad config."""
    return apply_faults(load_spec(expand(dict(values)), stack=stack))


def outputs(spec: LabSpec) -> list[dict[str, str]]:
    """What a stack exports about its faults: ids and titles, never fixes."""
    return [{"id": fault.id, "title": fault.describe(params, spec)["title"]}
            for fault, params in enabled(spec)]


__all__ = ["FAULTS", "SCENARIOS", "apply_faults", "build_spec", "default_params", "enabled",
           "expand", "outputs"]
