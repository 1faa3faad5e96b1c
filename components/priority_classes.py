"""PriorityClasses: the cluster-wide scheduling tiers that tenants' workloads reference."""

from __future__ import annotations

import pulumi
from pulumi_kubernetes.scheduling.v1 import PriorityClass

from components.options import child_options
from model.spec import PriorityClassSpec


class PriorityClasses(pulumi.ComponentResource):
    def __init__(self, name: str, classes: tuple[PriorityClassSpec, ...],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpu-lab:tenant:PriorityClasses", name, None, opts)
        self.classes = {
            spec.name: PriorityClass(
                f"{name}-{spec.name}",
                metadata={"name": spec.name,
                          "labels": {"app.kubernetes.io/managed-by": "gpu-lab"}},
                value=spec.value, preemption_policy=spec.preemption_policy,
                global_default=False, description=spec.description,
                opts=child_options(self, opts))
            for spec in classes
        }
        self.register_outputs({"names": list(self.classes)})
