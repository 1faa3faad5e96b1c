"""Text views of a rendering: the resource tree and a one-line count by type."""

from __future__ import annotations

from collections import Counter

from lab.render import Rendering


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
