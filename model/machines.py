"""Compute Engine machine types and what GKE leaves of them for pods.

A node's allocatable CPU and memory is its capacity less what GKE reserves for the
kubelet, the container runtime and the OS, and less the kubelet's hard eviction
threshold. The formula is GKE's documented one ("Standard cluster architecture", section
"Node allocatable resources", cloud.google.com/kubernetes-engine/docs/concepts/
plan-node-sizes): memory 255 MiB on machines under 1 GiB, else 25% of the first 4 GiB,
20% of the next 4, 10% of the next 8, 6% of the next 112 and 2% above 128 GiB, plus a
100 MiB eviction threshold; CPU 6% of the first core, 1% of the second, 0.5% of the next
two and 0.25% of every core above four.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

GIB = Decimal(2) ** 30
MIB = Decimal(2) ** 20

# GiB of memory per vCPU for the predefined families gpu-lab uses (Compute Engine's
# machine family pages); accelerator-optimized types are listed one by one below.
MEMORY_PER_VCPU = {"n1-standard": Decimal("3.75"), "n1-highmem": Decimal("6.5"),
                   "n1-highcpu": Decimal("0.9"), "e2-standard": Decimal(4),
                   "e2-highmem": Decimal(8), "e2-highcpu": Decimal(1),
                   "n2-standard": Decimal(4), "n2-highmem": Decimal(8),
                   "n2-highcpu": Decimal(1), "n2d-standard": Decimal(4)}
# The vCPU counts each predefined family is sold in (Compute Engine's machine family pages):
# n1-standard-3 or e2-highmem-32 do not exist, and GCE refuses them at pool creation.
SIZES = {
    "n1-standard": (1, 2, 4, 8, 16, 32, 64, 96),
    "n1-highmem": (2, 4, 8, 16, 32, 64, 96),
    "n1-highcpu": (2, 4, 8, 16, 32, 64, 96),
    "e2-standard": (2, 4, 8, 16, 32),
    "e2-highmem": (2, 4, 8, 16),
    "e2-highcpu": (2, 4, 8, 16, 32),
    "n2-standard": (2, 4, 8, 16, 32, 48, 64, 80, 96, 128),
    "n2-highmem": (2, 4, 8, 16, 32, 48, 64, 80, 96),     # -128 is in FIXED: 864 GB
    "n2-highcpu": (2, 4, 8, 16, 32, 48, 64, 80, 96),
    "n2d-standard": (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224),
}
FIXED = {  # machine type: (vCPUs, GiB)
    # Shared-core types burst to 2 vCPUs but are a fraction of one core; GKE sizes their
    # allocatable CPU from one core.
    "e2-medium": (1, 4), "e2-small": (1, 2), "e2-micro": (1, 1),
    "n2-highmem-128": (128, 864),
    "g2-standard-4": (4, 16), "g2-standard-8": (8, 32), "g2-standard-12": (12, 48),
    "g2-standard-16": (16, 64), "g2-standard-24": (24, 96), "g2-standard-32": (32, 128),
    "g2-standard-48": (48, 192), "g2-standard-96": (96, 384),
    "a2-highgpu-1g": (12, 85), "a2-highgpu-2g": (24, 170), "a2-highgpu-4g": (48, 340),
    "a2-highgpu-8g": (96, 680), "a2-megagpu-16g": (96, 1360),
    "a2-ultragpu-1g": (12, 170), "a2-ultragpu-2g": (24, 340), "a2-ultragpu-4g": (48, 680),
    "a2-ultragpu-8g": (96, 1360),
    "a3-highgpu-1g": (26, 234), "a3-highgpu-2g": (52, 468), "a3-highgpu-4g": (104, 936),
    "a3-highgpu-8g": (208, 1872),
}
EVICTION_THRESHOLD = 100 * MIB
SMALL_MACHINE_RESERVE = 255 * MIB
MEMORY_TIERS = ((4, "0.25"), (4, "0.20"), (8, "0.10"), (112, "0.06"), (None, "0.02"))
CPU_TIERS = ((1, "0.06"), (1, "0.01"), (2, "0.005"), (None, "0.0025"))


@dataclass(frozen=True)
class Machine:
    type: str
    vcpus: int
    memory: Decimal          # bytes

    @property
    def allocatable_cpu(self) -> Decimal:
        """In cores."""
        return Decimal(self.vcpus) - _tiered(Decimal(self.vcpus), CPU_TIERS)

    @property
    def allocatable_memory(self) -> Decimal:
        """In bytes."""
        if self.memory < GIB:
            reserved = SMALL_MACHINE_RESERVE
        else:
            reserved = _tiered(self.memory / GIB, MEMORY_TIERS) * GIB
        return self.memory - reserved - EVICTION_THRESHOLD


def _tiered(amount: Decimal, tiers) -> Decimal:
    """Sum of rate x the part of `amount` that falls in each tier, in order."""
    reserved, left = Decimal(0), amount
    for size, rate in tiers:
        part = left if size is None else min(left, Decimal(size))
        reserved += part * Decimal(rate)
        left -= part
        if left <= 0:
            break
    return reserved


def machine(machine_type: str) -> Machine:
    """The machine type's vCPUs and memory; ValueError (saying what exists) for a type
    Compute Engine does not sell or gpu-lab does not know."""
    if machine_type in FIXED:
        vcpus, gib = FIXED[machine_type]
        return Machine(machine_type, vcpus, Decimal(gib) * GIB)
    if machine_type != machine_type.lower():
        raise ValueError(f"machine types are lowercase: {machine_type.lower()}")
    match = re.fullmatch(r"([a-z0-9]+-[a-z]+)-(\d+)", machine_type)
    family = match.group(1) if match else machine_type.rpartition("-")[0]
    if family in SIZES:
        vcpus = int(match.group(2)) if match else 0
        if vcpus in SIZES[family]:
            return Machine(machine_type, vcpus, MEMORY_PER_VCPU[family] * vcpus * GIB)
        sizes = [*SIZES[family], *(FIXED[name][0] for name in FIXED
                                    if name.rsplit("-", 1)[0] == family)]
        raise ValueError(f"{family} comes with " + ", ".join(map(str, sizes)) + " vCPUs")
    fixed = [name for name in FIXED if name.rsplit("-", 1)[0] == family]
    if fixed:
        raise ValueError(f"{family} comes as " + ", ".join(fixed))
    fixed_families = sorted({name.rsplit("-", 1)[0] for name in FIXED} - {"e2"})
    raise ValueError("not a machine type gpu-lab knows: "
                     + ", ".join(f"{f}-<vCPUs>" for f in SIZES) + "; "
                     + ", ".join(f"{f}-*" for f in fixed_families)
                     + " (fixed sizes); e2-micro, e2-small, e2-medium")
