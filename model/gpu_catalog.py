"""The GPUs GKE offers that gpu-lab knows how to size: memory, machine types, GPUs per node.

Counts follow Compute Engine's accelerator-optimized machine families: G2, A2 and A3
machine types carry a fixed number of GPUs; N1 machine types take 1, 2 or 4 T4s
attached, with an upper bound on vCPUs per GPU count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional


@dataclass(frozen=True)
class Accelerator:
    type: str                          # GKE accelerator type, e.g. "nvidia-l4"
    model: str                         # what nvidia-smi calls it
    memory_gb: int                     # memory of one GPU
    machine_family: str                # human-readable, for messages
    fixed_counts: Mapping[str, int]    # machine type -> GPUs it always carries
    attachable_counts: Mapping[int, int]  # GPUs -> max vCPUs (N1 only)
    machine_prefixes: tuple[str, ...] = ()  # for attachable GPUs

    def gpus_for(self, machine_type: str) -> Optional[int]:
        """GPUs a node of this machine type carries, when it is fixed by the type."""
        return self.fixed_counts.get(machine_type)

    def check(self, machine_type: str, count: int) -> Optional[str]:
        """None if a node of machine_type can carry `count` of these GPUs, else why not."""
        if self.fixed_counts:
            fixed = self.fixed_counts.get(machine_type)
            if fixed is None:
                allowed = ", ".join(sorted(self.fixed_counts))
                return f"{self.type} runs only on {self.machine_family} machine types ({allowed})"
            if fixed != count:
                return f"{machine_type} carries exactly {fixed} {self.type} GPU(s), not {count}"
            return None
        if not machine_type.startswith(self.machine_prefixes):
            prefixes = " or ".join(f"{p}*" for p in self.machine_prefixes)
            return f"{self.type} attaches only to {prefixes} machine types"
        if count not in self.attachable_counts:
            counts = ", ".join(str(c) for c in sorted(self.attachable_counts))
            return f"{self.type} attaches in counts of {counts}, not {count}"
        vcpus = _vcpus(machine_type)
        if vcpus is None:
            return f"cannot tell the vCPU count of {machine_type!r} (expected e.g. n1-standard-8)"
        limit = self.attachable_counts[count]
        if vcpus > limit:
            return f"{count} {self.type} GPU(s) allow at most {limit} vCPUs, {machine_type} has {vcpus}"
        return None


def _vcpus(machine_type: str) -> Optional[int]:
    match = re.fullmatch(r"[a-z0-9]+-[a-z]+-(\d+)", machine_type)
    return int(match.group(1)) if match else None


def _series(prefix: str, counts: Mapping[str, int]) -> dict[str, int]:
    return {f"{prefix}-{suffix}": n for suffix, n in counts.items()}


CATALOG: dict[str, Accelerator] = {
    acc.type: acc
    for acc in (
        Accelerator(
            type="nvidia-tesla-t4", model="Tesla T4", memory_gb=16,
            machine_family="N1", fixed_counts={},
            machine_prefixes=("n1-standard-", "n1-highmem-", "n1-highcpu-"),
            attachable_counts={1: 48, 2: 48, 4: 96},
        ),
        Accelerator(
            type="nvidia-l4", model="NVIDIA L4", memory_gb=24, machine_family="G2",
            fixed_counts=_series("g2-standard", {"4": 1, "8": 1, "12": 1, "16": 1, "32": 1,
                                                 "24": 2, "48": 4, "96": 8}),
            attachable_counts={},
        ),
        Accelerator(
            type="nvidia-tesla-a100", model="NVIDIA A100-SXM4-40GB", memory_gb=40,
            machine_family="A2 High", fixed_counts={
                **_series("a2-highgpu", {"1g": 1, "2g": 2, "4g": 4, "8g": 8}),
                "a2-megagpu-16g": 16,
            },
            attachable_counts={},
        ),
        Accelerator(
            type="nvidia-a100-80gb", model="NVIDIA A100-SXM4-80GB", memory_gb=80,
            machine_family="A2 Ultra",
            fixed_counts=_series("a2-ultragpu", {"1g": 1, "2g": 2, "4g": 4, "8g": 8}),
            attachable_counts={},
        ),
        Accelerator(
            type="nvidia-h100-80gb", model="NVIDIA H100 80GB HBM3", memory_gb=80,
            machine_family="A3 High",
            fixed_counts=_series("a3-highgpu", {"1g": 1, "2g": 2, "4g": 4, "8g": 8}),
            attachable_counts={},
        ),
    )
}

# Every machine type in the catalog is x86-64; GKE's Arm (T2A, C4A) types carry no GPUs.
NODE_ARCHITECTURE = "amd64"
