"""The fault catalog: pure functions from a healthy LabSpec to a deliberately broken one."""

from faults.registry import apply_faults

__all__ = ["apply_faults"]
