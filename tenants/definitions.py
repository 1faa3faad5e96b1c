"""tenant-a, tenant-b and tenant-c: the teams of the interview exercise.

Stack config `gpu-lab:tenants` picks which of these exist and overrides any field;
a name not listed here is a new tenant built from the defaults.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TenantDefinition:
    team: str
    cost_center: str
    gpus: int
    priority_class: str
    cpu: str = "8"
    memory: str = "32Gi"

    def groups(self, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(admin groups, developer groups): Google Groups, one pair per tenant."""
        return (f"{name}-admins@example.com",), (f"{name}-developers@example.com",)


DEFINITIONS = {
    "tenant-a": TenantDefinition(team="recsys", cost_center="cc-1001", gpus=1,
                                 priority_class="production-high"),
    "tenant-b": TenantDefinition(team="vision", cost_center="cc-1002", gpus=1,
                                 priority_class="training-medium"),
    "tenant-c": TenantDefinition(team="nlp-research", cost_center="cc-1003", gpus=1,
                                 priority_class="experiment-low", cpu="4", memory="16Gi"),
}

# The tenants a stack gets when its config does not list any.
DEFAULT_TENANTS = ("tenant-a", "tenant-b")
