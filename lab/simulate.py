"""`lab simulate`: render a stack offline and ask the twin what the cluster would show."""

from __future__ import annotations

from typing import Any, Mapping

from faults import build_spec
from kube.objects import ObjectSet
from kube.twin import PodView, simulate
from lab.render import PLACEHOLDER_PROJECT, Rendering, render


def simulate_rendering(spec, rendering: Rendering) -> list[PodView]:
    return simulate(spec, ObjectSet(rendering.check_objects()))


def simulate_stack(values: Mapping[str, Any], stack: str) -> list[PodView]:
    values = dict(values)
    values.setdefault("gcp:project", PLACEHOLDER_PROJECT)
    spec = build_spec(values, stack=stack)
    return simulate_rendering(spec, render(values, stack=stack))


def table(views: list[PodView]) -> list[str]:
    """Like `kubectl get pods -A -o wide`, plus why for every pod that is not fine."""
    rows = [("NAMESPACE", "NAME", "STATUS", "RESTARTS", "NODE", "OWNER")]
    rows += [(v.namespace, v.pod or "(not created)", v.status, str(v.restarts),
              v.node or "<none>", v.owner) for v in views]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    troubled = [v for v in views if v.status not in ("Running", "Completed")]
    if troubled:
        lines.append("")
        for view in troubled:
            lines.append(f"{view.namespace}/{view.pod or view.owner}: {view.reason}: "
                         f"{view.message}")
    running = sum(v.status in ("Running", "Completed") for v in views)
    lines.append(f"{len(views)} pods: {running} Running or Completed, "
                 f"{len(views) - running} not")
    return lines
