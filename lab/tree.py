"""Text views of a rendering: the resource tree, the stack outputs and a one-line count by
type."""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping

from lab.render import SECRET, Rendering


def tree_lines(rendering: Rendering) -> list[str]:
    by_parent: dict = {}
    for resource in rendering.resources:
        by_parent.setdefault(resource.parent, []).append(resource)
    lines: list[str] = []

    def walk(parent_key, prefix: str) -> None:
        kids = sorted(by_parent.get(parent_key, []), key=lambda r: (r.type, r.name))
        for i, resource in enumerate(kids):
            last = i == len(kids) - 1
            lines.append(f"{prefix}{'└─ ' if last else '├─ '}{resource.type}  {resource.name}")
            walk(f"{resource.type}::{resource.name}", prefix + ("   " if last else "│  "))

    walk(None, "")
    return lines


def summary_line(rendering: Rendering) -> str:
    counts = Counter(r.type for r in rendering.resources)
    parts = ", ".join(f"{n} {t}" for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{len(rendering.resources)} resources: {parts}"


def output_lines(outputs: Mapping[str, Any]) -> list[str]:
    """The stack outputs, one key per line in key order as `pulumi stack output` lists them;
    secrets hidden; a list of records (faults, node pools) one record per line, so two
    stacks' plans differ line by line."""
    lines = ["Outputs:"]
    for key in sorted(outputs):
        value = outputs[key]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"  {key}:")
            lines.extend(f"    - {_record(item)}" for item in value)
        else:
            lines.append(f"  {key}: {_value(value)}")
    return lines


def _record(item: Mapping[str, Any]) -> str:
    if "id" in item and "title" in item:        # a fault: what it is, never how to fix it
        return f"{item['id']}: {item['title']}"
    rest = ", ".join(f"{k}={_value(v)}" for k, v in sorted(item.items()) if k != "name")
    return f"{item['name']}: {rest}" if "name" in item else rest


def _value(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {SECRET}:
        return "[secret]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))          # the engine hands numbers over as floats
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in sorted(value.items())) + "}"
    return "null" if value is None else str(value)
