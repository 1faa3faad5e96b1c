"""The GPUs GKE offers that gpu-lab knows how to size: memory, machine types, GPUs per node,
the zones that offer them and the Compute Engine quota they draw on.

Counts follow Compute Engine's accelerator-optimized machine families: G2, A2 and A3
machine types carry a fixed number of GPUs; N1 machine types take 1, 2 or 4 T4s
attached, with an upper bound on vCPUs per GPU count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
    quota_metric: str = ""             # Compute Engine's regional quota, e.g. NVIDIA_T4_GPUS
    # region -> the zones of it that offer this GPU (ZONE_TABLE below)
    zones: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def preemptible_quota_metric(self) -> str:
        """The quota Spot (and preemptible) VMs with this GPU draw on, when the project has it."""
        return f"PREEMPTIBLE_{self.quota_metric}"

    def zones_in(self, region: str) -> tuple[str, ...]:
        """The zones of `region` offering this GPU (empty: none, or ZONE_TABLE lacks region)."""
        return self.zones.get(region, ())

    @property
    def regions(self) -> tuple[str, ...]:
        """The regions (of those ZONE_TABLE covers) with at least one zone offering this GPU."""
        return tuple(sorted(region for region, zones in self.zones.items() if zones))

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


# Which zones offer which GPU, per region: Google's "GPU regions and zones availability"
# table, https://cloud.google.com/compute/docs/gpus/gpu-regions-zones (the same data as
# `gcloud compute accelerator-types list --filter="name=<type>"`), transcribed in 2026-11
# for the regions below. The table changes: when Google adds a zone (or gpu-lab needs
# another region), refresh these rows from that page and keep ZONE_TABLE_REGIONS in step.
# A GPU pool without explicit `zones` spreads over every zone listed here for its region.
ZONE_TABLE_REGIONS = ("us-central1", "us-east1", "us-east4", "us-west1", "us-west4",
                      "europe-west1", "europe-west4", "asia-east1", "asia-southeast1")
ZONE_TABLE: dict[str, dict[str, str]] = {      # accelerator -> region -> zone letters
    "nvidia-tesla-t4": {
        "us-central1": "abcf", "us-east1": "bcd", "us-east4": "abc", "us-west1": "ab",
        "us-west4": "ab", "europe-west1": "bcd", "europe-west4": "abc", "asia-east1": "ac",
        "asia-southeast1": "abc"},
    "nvidia-l4": {
        "us-central1": "abc", "us-east1": "bcd", "us-east4": "ac", "us-west1": "abc",
        "us-west4": "ac", "europe-west1": "bc", "europe-west4": "abc", "asia-east1": "abc",
        "asia-southeast1": "abc"},
    "nvidia-tesla-a100": {                      # A2 Standard (A100 40GB)
        "us-central1": "abcf", "us-east1": "b", "us-west1": "b", "us-west4": "b",
        "europe-west4": "ab", "asia-southeast1": "abc"},
    "nvidia-a100-80gb": {                       # A2 Ultra
        "us-central1": "ac", "us-east4": "c", "europe-west4": "a", "asia-southeast1": "c"},
    "nvidia-h100-80gb": {                       # A3 High
        "us-central1": "abc", "us-east4": "abc", "us-west1": "ab", "us-west4": "a",
        "europe-west1": "bc", "europe-west4": "bc", "asia-east1": "c",
        "asia-southeast1": "bc"},
}


def _zones(accelerator: str) -> dict[str, tuple[str, ...]]:
    return {region: tuple(f"{region}-{letter}" for letter in letters)
            for region, letters in ZONE_TABLE[accelerator].items()}


CATALOG: dict[str, Accelerator] = {
    acc.type: acc
    for acc in (
        Accelerator(
            type="nvidia-tesla-t4", model="Tesla T4", memory_gb=16,
            machine_family="N1", fixed_counts={},
            machine_prefixes=("n1-standard-", "n1-highmem-", "n1-highcpu-"),
            attachable_counts={1: 48, 2: 48, 4: 96},
            quota_metric="NVIDIA_T4_GPUS", zones=_zones("nvidia-tesla-t4"),
        ),
        Accelerator(
            type="nvidia-l4", model="NVIDIA L4", memory_gb=24, machine_family="G2",
            fixed_counts=_series("g2-standard", {"4": 1, "8": 1, "12": 1, "16": 1, "32": 1,
                                                 "24": 2, "48": 4, "96": 8}),
            attachable_counts={}, quota_metric="NVIDIA_L4_GPUS", zones=_zones("nvidia-l4"),
        ),
        Accelerator(
            type="nvidia-tesla-a100", model="NVIDIA A100-SXM4-40GB", memory_gb=40,
            machine_family="A2 High", fixed_counts={
                **_series("a2-highgpu", {"1g": 1, "2g": 2, "4g": 4, "8g": 8}),
                "a2-megagpu-16g": 16,
            },
            attachable_counts={}, quota_metric="NVIDIA_A100_GPUS",
            zones=_zones("nvidia-tesla-a100"),
        ),
        Accelerator(
            type="nvidia-a100-80gb", model="NVIDIA A100-SXM4-80GB", memory_gb=80,
            machine_family="A2 Ultra",
            fixed_counts=_series("a2-ultragpu", {"1g": 1, "2g": 2, "4g": 4, "8g": 8}),
            attachable_counts={}, quota_metric="NVIDIA_A100_80GB_GPUS",
            zones=_zones("nvidia-a100-80gb"),
        ),
        Accelerator(
            type="nvidia-h100-80gb", model="NVIDIA H100 80GB HBM3", memory_gb=80,
            machine_family="A3 High",
            fixed_counts=_series("a3-highgpu", {"1g": 1, "2g": 2, "4g": 4, "8g": 8}),
            attachable_counts={}, quota_metric="NVIDIA_H100_GPUS",
            zones=_zones("nvidia-h100-80gb"),
        ),
    )
}

# Every machine type in the catalog is x86-64; GKE's Arm (T2A, C4A) types carry no GPUs.
NODE_ARCHITECTURE = "amd64"
