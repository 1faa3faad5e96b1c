"""Where stack config comes from: the Pulumi engine, or a Pulumi.<stack>.yaml file.

Both end up as one flat mapping of full keys ("gpu-lab:cluster") to values, which
`load_spec` reads. This module imports nothing from Pulumi: the engine hands config
to the program in the PULUMI_CONFIG environment variable, and in-process runs
(tests, `lab render`) pass the values they set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent


def engine_config(in_process: Mapping[str, Any] = ()) -> dict[str, Any]:
    """The config of the running program: the engine's, overlaid with in-process values."""
    values: dict[str, Any] = json.loads(os.environ.get("PULUMI_CONFIG", "{}"))
    values.update(in_process)
    return values


class StackFileError(ValueError):
    pass


def stack_file(stack: str) -> Path:
    return PROJECT_DIR / f"Pulumi.{stack}.yaml"


def read_stack_file(path: Path) -> dict[str, Any]:
    """The `config:` of a Pulumi.<stack>.yaml file as a flat mapping of full keys."""
    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise StackFileError(f"{path}: no such stack file") from None
    except yaml.YAMLError as err:
        raise StackFileError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(document, dict):
        raise StackFileError(f"{path}: must be a YAML mapping with a 'config:' key")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path}: 'config:' must be a mapping of keys to values")
    values = {}
    for key, value in config.items():
        if isinstance(value, dict) and "secure" in value:
            raise StackFileError(f"{path}: {key} is encrypted; offline renders take plain values")
        # Pulumi also accepts `key: {value: ...}` for plain values.
        if isinstance(value, dict) and set(value) == {"value"}:
            value = value["value"]
        values[key if ":" in key else f"gpu-lab:{key}"] = value
    return values


def as_engine_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Encode values the way the Pulumi engine hands them to a program: strings, JSON for
    structured values and booleans."""
    return {key: value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()}
