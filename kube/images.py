"""What a registry would hand a node for an image reference: where it is pulled from, and
whether it is an image index (one manifest per platform) or one platform's manifest.

containerd on a node resolves an index to the entry for the node's platform and fails the
pull with "no match for platform in manifest" when there is none; a single manifest is
pulled whatever its architecture, and the kernel then refuses to run its binaries
("exec format error"). The facts below are recorded from the registries (the Docker
official images' manifests are listed in github.com/docker-library/repo-info, repos/
<name>/remote/<tag>.md); an image not listed is taken to be a multi-platform index.
"""

from __future__ import annotations

from dataclasses import dataclass

# python:3.11-slim, linux/arm64/v8 only: the single-platform manifest (MIME
# application/vnd.docker.distribution.manifest.v2+json) inside the official image's index,
# as repo-info listed it in August 2026. To refresh: open repos/python/remote/3.11-slim.md
# in docker-library/repo-info (or run `crane manifest python:3.11-slim`) and take the
# digest under "linux; arm64 variant v8".
ARM64_PYTHON = ("python@sha256:"
                "20eadabc42589e6543b24a64ab305b9895e9fcf6dbb2cadb14812f394ecdbadf")

DOCKER_HUB = "docker.io"
# NVIDIA's PyTorch container on NGC (linux/amd64 and linux/arm64). nvcr.io is not mirrored by
# Google, so a node without the internet fails to pull it whatever Google caches.
NGC_PYTORCH = "nvcr.io/nvidia/pytorch:24.10-py3"


@dataclass(frozen=True)
class Image:
    reference: str
    registry: str
    platforms: tuple[str, ...]     # architectures it is published for
    index: bool                    # an image index (per-platform manifests) or one manifest

    def resolves_for(self, architecture: str) -> bool:
        """Does pulling it on a node of this architecture succeed?"""
        return not self.index or architecture in self.platforms

    def runs_on(self, architecture: str) -> bool:
        return architecture in self.platforms


KNOWN = {
    # PyTorch's CUDA runtime images are published for linux/amd64 only.
    "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime": ("amd64",),
    # The arm64v8/ organisation republishes official images for arm64 only, as an index.
    "arm64v8/python:3.11-slim": ("arm64",),
    NGC_PYTORCH: ("amd64", "arm64"),
}
SINGLE_MANIFESTS = {ARM64_PYTHON: ("arm64",)}
ALL_PLATFORMS = ("amd64", "arm64")


def registry_of(reference: str) -> str:
    """The registry host: the first path element when it looks like a host, else Docker Hub."""
    first, sep, _ = reference.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def image(reference: str) -> Image:
    if reference in SINGLE_MANIFESTS:
        return Image(reference, registry_of(reference), SINGLE_MANIFESTS[reference], False)
    platforms = KNOWN.get(reference, ALL_PLATFORMS)
    return Image(reference, registry_of(reference), platforms, True)
