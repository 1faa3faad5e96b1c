"""The typed lab model: stack config in, a validated LabSpec out. No Pulumi here."""

from model.config import load_spec
from model.errors import ConfigError, Problem
from model.gpu_catalog import CATALOG
from model.spec import LabSpec

__all__ = ["load_spec", "ConfigError", "Problem", "CATALOG", "LabSpec"]
