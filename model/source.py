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

from model.errors import did_you_mean

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


# The top-level fields of a Pulumi stack settings file (Pulumi.<stack>.yaml).
STACK_FILE_FIELDS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt",
                     "environment")


MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys in a mapping; Pulumi refuses the file. So
    does gpu-lab, naming the key and where both stand. Merge keys (<<: *anchor) stay
    allowed, and a key written next to one overrides what it merges, as in YAML."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, str] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            mark = key_node.start_mark
            where = f"line {mark.line + 1} column {mark.column + 1}"
            try:
                first = seen.setdefault(key, where)
            except TypeError:       # an unhashable key: construct_mapping reports it
                continue
            if first != where:
                raise StackFileError(f"{key!r} is set twice in one mapping ({first} and "
                                     f"{where}); keep one")
        return super().construct_mapping(node, deep=deep)


def read_stack_file(path: Path) -> dict[str, Any]:
    """The `config:` of a Pulumi.<stack>.yaml file as a flat mapping of full keys."""
    path = Path(path)
    if path.is_dir():
        raise StackFileError(f"{path}: is a directory; give a stack file (Pulumi.<stack>.yaml)")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StackFileError(f"{path}: no such stack file") from None
    except OSError as err:
        raise StackFileError(f"{path}: cannot read it: {err.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise StackFileError(f"{path}: line {line}: byte {data[err.start:err.start + 1]!r} is "
                             "not UTF-8; stack files are UTF-8 text (re-save it as UTF-8)"
                             ) from None
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader) or {}
    except StackFileError as err:
        raise StackFileError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise StackFileError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(document, dict):
        raise StackFileError(f"{path}: must be a YAML mapping with a 'config:' key")
    _check_fields(path, document)
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path}: 'config:' must be a mapping of keys to values")
    values = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key.strip(":"):
            raise StackFileError(f"{path}: config key {key!r} must be a name such as "
                                 "gpu-lab:tenants or gcp:project")
        # As Pulumi reads a stack file: a key without a namespace is the project's, and
        # <namespace>:config:<name> is an old spelling of <namespace>:<name>.
        namespace, _, name = key.partition(":")
        written, key = key, f"{namespace}:{name.removeprefix('config:')}" if name \
            else f"gpu-lab:{key}"
        if key in values:
            raise StackFileError(f"{path}: {key} is set twice (once as {written})")
        if isinstance(value, dict) and "secure" in value:
            raise StackFileError(f"{path}: {key} is encrypted; offline renders take plain values")
        # Pulumi also accepts `key: {value: ...}` for plain values.
        if isinstance(value, dict) and set(value) == {"value"}:
            value = value["value"]
        values[key] = value
    return values


def _check_fields(path: Path, document: dict) -> None:
    """Only a stack file's own fields stand at the top; config keys belong under config:."""
    for field in document:
        if field in STACK_FILE_FIELDS:
            continue
        if isinstance(field, str) and ":" in field:
            raise StackFileError(f"{path}: {field} stands at the top level; config keys go "
                                 "under 'config:' (indented below it)")
        raise StackFileError(f"{path}: unknown top-level field {field!r}"
                             f"{did_you_mean(str(field), STACK_FILE_FIELDS)}; a stack file "
                             f"has {', '.join(STACK_FILE_FIELDS)}")


def as_engine_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Encode values the way the Pulumi engine hands them to a program: strings, JSON for
    structured values and booleans."""
    return {key: value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()}
