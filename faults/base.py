"""What a fault is: metadata for the interviewer (symptom, hints, fix, rubric) next to the
pure transformation that injects it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from model.spec import LabSpec

LAYERS = ("cloud", "cluster", "tenant", "workload")


@dataclass(frozen=True)
class Param:
    name: str
    kind: str            # tenant | workload ("<tenant>/<name>") | pool | number
    default: Any
    help: str


class Unmet(ValueError):
    """A fault cannot be injected into this spec; names the parameter and why."""

    def __init__(self, param: str, value: Any, allowed: str):
        super().__init__(allowed)
        self.param, self.value, self.allowed = param, value, allowed


@dataclass(frozen=True)
class Fault:
    id: str
    title: str
    part: str                   # where in the exercise documents it comes from
    layer: str                  # cloud | cluster | tenant | workload
    params: tuple[Param, ...]
    task: str                   # what the candidate is told (no give-aways)
    symptom: str                # what the candidate observes: commands and their output
    hints: tuple[str, str, str]  # progressive: a nudge, a direction, nearly the answer
    fix: str                    # what to change in the Pulumi code or config
    look_for: str               # what the interviewer looks for
    check: str                  # the symptom check (kube/symptoms.py) that shows it
    inject: Callable[..., LabSpec]
    targets: Callable[..., set[str]]   # what it breaks, for detecting contradictions
    platforms: tuple[str, ...] = ("gke", "existing")
    # Why the other platforms cannot have it (said when a scenario runs there without it).
    platform_note: str = ""
    # What kubectl's STATUS column shows for the pods of the workloads it targets, once the
    # cluster settles ("" = they run as usual); a template like the texts.
    pod_status: str = ""
    # Extra names the texts may use, computed from the spec (e.g. a tenant's group).
    details: Callable[..., dict[str, Any]] = lambda spec, **params: {}
    # What the candidate must be able to see for this fault beyond its own targets' pods
    # ("series DCGM_FI_DEV_GPU_UTIL of tenant-a/infer", "alert GpuAllocatedButIdle for
    # tenant-a"), and the evidence its change removes from the whole cluster, as fnmatch
    # patterns over the same strings ("series DCGM_* of *"). A stack in which one fault hides
    # what another needs is refused (faults/registry.py).
    evidence: Callable[..., set[str]] = lambda spec, **params: set()
    hides: Callable[..., set[str]] = lambda spec, **params: set()
    # The settings it changes ("replicas:tenant-a/infer"): two faults that set the same one
    # contradict each other (the later would undo the earlier). None: its targets.
    edits: Callable[..., set[str]] | None = None

    def describe(self, params: dict[str, Any], spec: LabSpec | None = None) -> dict[str, Any]:
        """Every metadata field with the parameters (and details) filled in."""
        names = {**params, **(self.details(spec, **params) if spec is not None else {})}
        fill = lambda template: template.format(**names)  # noqa: E731
        return {"id": self.id, "title": fill(self.title), "part": self.part, "layer": self.layer,
                "params": params, "task": fill(self.task), "symptom": fill(self.symptom),
                "hints": [fill(h) for h in self.hints], "fix": fill(self.fix),
                "look_for": fill(self.look_for), "check": self.check,
                "pod_status": fill(self.pod_status),
                "platforms": list(self.platforms)}
