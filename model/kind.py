"""kind's names for the nodes of a cluster it creates, and the kind cluster a stack points at
(platform `existing`).

kind names a cluster's nodes by role, in the order its config lists them:
`<cluster>-control-plane`, then `<cluster>-worker`, `<cluster>-worker2`, `<cluster>-worker3`,
... (sigs.k8s.io/kind, pkg/cluster/internal/providers/common/namer.go, MakeNodeNamer). Its
kubeconfig context is `kind-<cluster>`, and a cluster created without --name is `kind`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, Optional

CONTEXT_PREFIX = "kind-"
DEFAULT_CLUSTER = "kind"
API_VERSION = "kind.x-k8s.io/v1alpha4"


def cluster_name(kube_context: Optional[str]) -> Optional[str]:
    """The kind cluster of a kubeconfig context (`kind-<cluster>`); kind's default cluster
    when no context is named; None for a context kind did not make."""
    if kube_context is None:
        return DEFAULT_CLUSTER
    if kube_context.startswith(CONTEXT_PREFIX) and len(kube_context) > len(CONTEXT_PREFIX):
        return kube_context[len(CONTEXT_PREFIX):]
    return None


def worker(cluster: str, index: int) -> str:
    """The name of the index-th worker (from 1) kind creates."""
    return f"{cluster}-worker" if index == 1 else f"{cluster}-worker{index}"


def control_plane(cluster: str) -> str:
    return f"{cluster}-control-plane"


def worker_index(cluster: str, node: str) -> Optional[int]:
    """Which worker (from 1) kind names `node`; None when kind gives no worker that name."""
    found = re.fullmatch(re.escape(f"{cluster}-worker") + r"([2-9]|[1-9]\d+)?", node)
    if found is None:
        return None
    return int(found.group(1) or 1)


def next_workers(cluster: str, taken: Iterable[str], count: int) -> list[str]:
    """The first `count` worker names of the cluster that are not taken, in kind's order."""
    taken = set(taken)
    names, index = [], 1
    while len(names) < count:
        name = worker(cluster, index)
        if name not in taken:
            names.append(name)
        index += 1
    return names


def context_of(values: Mapping[str, Any]) -> Optional[str]:
    """gpu-lab:cluster.kubeContext of raw stack config (a mapping, or JSON as the engine
    hands it over); None when it is not set (or not readable: the model reports that)."""
    cluster = values.get("gpu-lab:cluster")
    if isinstance(cluster, str):
        try:
            cluster = json.loads(cluster)
        except ValueError:
            return None
    context = cluster.get("kubeContext") if isinstance(cluster, dict) else None
    return context if isinstance(context, str) and context.strip() else None
