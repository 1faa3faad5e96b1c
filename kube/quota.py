"""Would a pod be admitted in a namespace? LimitRange defaults and checks, then ResourceQuotas.

The admission chain in the order the API server runs it (kube/limitrange.py): the pod is
defaulted, LimitRanger fills in default requests and limits, the pod is validated, LimitRanger
enforces its minima and maxima, then ResourceQuota charges the pod against every quota whose
scopes cover it (kube/resourcequota.py). Reasons are the API server's own messages.

For extended resources such as nvidia.com/gpu only `requests.<resource>` quota keys constrain;
`limits.<resource>` and a bare `<resource>` key are accepted by the API server and then
ignored, which is exactly the trap a candidate must spot.
"""

from __future__ import annotations

from typing import Optional

from kube.answer import Answer
from kube.limitrange import (forbidden_message, invalid_message, mutate_pod,
                             validate_pod, validate_pod_resources)
from kube.objects import ObjectSet, ref
from kube.resourcequota import (admit_copies, constraints, is_extended_resource,
                                matching_resources)


def make_pod(name: str = "probe", gpus: int = 0, cpu: Optional[str] = None,
             memory: Optional[str] = None, priority_class: Optional[str] = None) -> dict:
    """A one-container pod asking for these resources (requests equal limits)."""
    requests, limits = {}, {}
    if gpus:
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(gpus)
    if cpu:
        requests["cpu"] = limits["cpu"] = cpu
    if memory:
        requests["memory"] = limits["memory"] = memory
    spec = {"containers": [{"name": "main", "image": "probe",
                            "resources": {"requests": requests, "limits": limits}}]}
    if priority_class:
        spec["priorityClassName"] = priority_class
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def is_enforced(key: str) -> bool:
    """Does a ResourceQuota hard key constrain pods at all?"""
    return bool(matching_resources([key]))


def _looks_like_a_pod_key(key: str) -> bool:
    """A key that names something containers ask for, though no pod is ever charged it:
    limits.<extended resource>, a bare extended resource, limits.hugepages-<size>. Object
    counts (count/<resource>.<group>) and per-StorageClass storage
    (<class>.storageclass.storage.k8s.io/...) charge other objects than pods: not these."""
    if key.startswith("count/") or ".storageclass.storage.k8s.io/" in key:
        return False
    resource = key.split(".", 1)[1] if key.startswith(("limits.", "requests.")) else key
    return is_extended_resource(resource) or resource.startswith("hugepages-")


def key_missing(key: str, pod: dict) -> bool:
    """Would a quota on this key reject the pod for a container that does not name it
    ("must specify")? Only cpu and memory keys demand that."""
    return constraints([key], pod) is not None


def _name(pod: dict) -> str:
    return (pod.get("metadata") or {}).get("name", "")


def _limit_ranges(objects: ObjectSet, namespace: str) -> list[dict]:
    return objects.of_kind("LimitRange", namespace)


def apply_limit_ranges(objects: ObjectSet, namespace: str,
                       pod: dict) -> tuple[dict, Optional[str]]:
    """(the pod with API and LimitRange defaults filled in, why LimitRanger rejects it or
    None)."""
    limit_ranges = _limit_ranges(objects, namespace)
    pod = mutate_pod(pod, limit_ranges)
    errors = validate_pod(pod, limit_ranges)
    return pod, forbidden_message(_name(pod), errors) if errors else None


def _unenforced_notes(quotas: list[dict]) -> list[str]:
    notes = []
    for quota in quotas:
        for key, limit in sorted(((quota.get("spec") or {}).get("hard") or {}).items()):
            if not is_enforced(key) and _looks_like_a_pod_key(key):
                notes.append(f"{ref(quota)} sets {key}={limit}, which Kubernetes does not "
                             f"enforce (only requests.<resource> constrains extended "
                             f"resources)")
    return notes


def quota_admits(objects: ObjectSet, namespace: str, pod: dict, copies: int = 1) -> Answer:
    """Would the namespace's ResourceQuotas admit this pod (after LimitRange defaults)?
    With copies > 1: would all of them be admitted, created one at a time as a
    ReplicaSet creates a Deployment's replicas?"""
    pod, _ = apply_limit_ranges(objects, namespace, pod)
    quotas = objects.of_kind("ResourceQuota", namespace)
    admitted, problem = admit_copies(pod, quotas, {}, copies)
    if problem:
        message = forbidden_message(_name(pod), [problem])
        prefix = f"replica {admitted + 1} of {copies}: " if copies > 1 else ""
        return Answer(False, prefix + message)
    names = [ref(q) for q in quotas]
    reason = f"within {', '.join(names)}" if names else f"no ResourceQuota in {namespace}"
    return Answer(True, "; ".join([reason, *_unenforced_notes(quotas)]))


def pod_admitted(objects: ObjectSet, namespace: str, pod: dict, copies: int = 1) -> Answer:
    """The whole chain as the API server runs it on create: defaults, LimitRanger's
    defaults, validation of requests against limits, LimitRanger's checks, then quota."""
    limit_ranges = _limit_ranges(objects, namespace)
    mutated = mutate_pod(pod, limit_ranges)
    invalid = validate_pod_resources(mutated)
    if invalid:
        return Answer(False, invalid_message(_name(mutated), invalid))
    errors = validate_pod(mutated, limit_ranges)
    if errors:
        return Answer(False, forbidden_message(_name(mutated), errors))
    return quota_admits(objects, namespace, pod, copies)
