"""Would a pod be admitted in a namespace? LimitRange defaults and maxima, then ResourceQuotas.

The admission chain in the order the API server runs it: LimitRanger fills in default
requests and limits and enforces maxima, then ResourceQuota charges the pod against
every quota whose scope covers it. For extended resources such as nvidia.com/gpu only
`requests.<resource>` keys constrain; `limits.<resource>` and a bare `<resource>` key are
accepted by the API server and then ignored, which is exactly the trap a candidate must spot.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Optional

from kube.answer import Answer
from kube.objects import ObjectSet, ref
from kube.quantity import format_quantity, parse_quantity

STANDARD = ("cpu", "memory", "ephemeral-storage")
# Quota keys that count whole objects; a pod only ever adds to "pods".
OBJECT_COUNTS = {"pods": 1, "count/pods": 1}


def make_pod(name: str = "probe", gpus: int = 0, cpu: Optional[str] = None,
             memory: Optional[str] = None, priority_class: Optional[str] = None) -> dict:
    """A one-container pod asking for these resources (GPU requests equal limits)."""
    requests, limits = {}, {}
    if gpus:
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(gpus)
    if cpu:
        requests["cpu"] = cpu
    if memory:
        requests["memory"] = memory
    spec = {"containers": [{"name": "main", "image": "probe",
                            "resources": {"requests": requests, "limits": limits}}]}
    if priority_class:
        spec["priorityClassName"] = priority_class
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def is_enforced(key: str) -> bool:
    """Does a ResourceQuota hard key constrain pods at all?"""
    if key in OBJECT_COUNTS or key in ("cpu", "memory", "ephemeral-storage"):
        return True
    prefix, _, resource = key.partition(".")
    if prefix == "requests" and resource:
        return True
    if prefix == "limits" and resource in STANDARD:
        return True
    return key.startswith("count/") or key in ("services", "secrets", "configmaps",
                                               "persistentvolumeclaims", "replicationcontrollers",
                                               "resourcequotas", "services.loadbalancers",
                                               "services.nodeports")


def _containers(pod: dict) -> list[dict]:
    return pod.get("spec", {}).get("containers") or []


def _container_defaults(item: dict, container: dict) -> tuple[dict, dict]:
    """Fill in a LimitRange item's default limits and requests; (limits, requests)."""
    resources = container.setdefault("resources", {})
    limits = resources.setdefault("limits", {})
    requests = resources.setdefault("requests", {})
    for res, value in (item.get("default") or {}).items():
        limits.setdefault(res, value)
    for res, value in (item.get("defaultRequest") or {}).items():
        requests.setdefault(res, value)
    for res, value in limits.items():           # requests default to limits
        requests.setdefault(res, value)
    return limits, requests


def _over_container_max(item: dict, limits: dict, requests: dict) -> Optional[str]:
    for res, maximum in (item.get("max") or {}).items():
        for kind, amounts in (("limit", limits), ("request", requests)):
            if res in amounts and parse_quantity(amounts[res]) > parse_quantity(maximum):
                return f"maximum {res} usage per Container is {maximum}, but {kind} is " \
                       f"{amounts[res]}"
    return None


def _over_pod_max(item: dict, pod: dict) -> Optional[str]:
    for res, maximum in (item.get("max") or {}).items():
        total = sum((parse_quantity((c.get("resources") or {}).get("limits", {}).get(res, 0))
                     for c in _containers(pod)), Decimal(0))
        if total > parse_quantity(maximum):
            return f"maximum {res} usage per Pod is {maximum}, but limit is " \
                   f"{format_quantity(total)}"
    return None


def apply_limit_ranges(objects: ObjectSet, namespace: str,
                       pod: dict) -> tuple[dict, Optional[str]]:
    """(the pod with defaults filled in, why LimitRanger rejects it or None)."""
    pod = copy.deepcopy(pod)
    for limit_range in objects.of_kind("LimitRange", namespace):
        for item in limit_range.get("spec", {}).get("limits") or []:
            if item.get("type") == "Container":
                for container in _containers(pod):
                    rejected = _over_container_max(item, *_container_defaults(item, container))
                    if rejected:
                        return pod, f"{ref(limit_range)}: {rejected}"
            if item.get("type") == "Pod":
                rejected = _over_pod_max(item, pod)
                if rejected:
                    return pod, f"{ref(limit_range)}: {rejected}"
    for container in _containers(pod):   # API defaulting: requests default to limits
        resources = container.setdefault("resources", {})
        for res, value in (resources.get("limits") or {}).items():
            resources.setdefault("requests", {}).setdefault(res, value)
    return pod, None


def pod_usage(pod: dict) -> dict[str, Decimal]:
    """What the pod charges against quota keys (requests.X, limits.X, cpu, memory, pods)."""
    usage: dict[str, Decimal] = dict((k, Decimal(v)) for k, v in OBJECT_COUNTS.items())
    for container in _containers(pod):
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for res, value in (resources.get(kind) or {}).items():
                key = f"{kind}.{res}"
                usage[key] = usage.get(key, Decimal(0)) + parse_quantity(value)
    for res in ("cpu", "memory", "ephemeral-storage"):
        if f"requests.{res}" in usage:
            usage[res] = usage[f"requests.{res}"]
    return usage


def _scope_covers(quota: dict, pod: dict) -> bool:
    spec = quota.get("spec", {})
    priority = pod.get("spec", {}).get("priorityClassName")
    for expr in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        if expr.get("scopeName") != "PriorityClass":
            continue
        op, values = expr.get("operator"), expr.get("values") or []
        if op == "In" and priority not in values:
            return False
        if op == "NotIn" and priority in values:
            return False
        if op == "Exists" and priority is None:
            return False
        if op == "DoesNotExist" and priority is not None:
            return False
    best_effort = not any((c.get("resources") or {}).get(kind)
                          for c in _containers(pod) for kind in ("requests", "limits"))
    scopes = spec.get("scopes") or []
    if "BestEffort" in scopes and not best_effort:
        return False
    if "NotBestEffort" in scopes and best_effort:
        return False
    return True


def quota_admits(objects: ObjectSet, namespace: str, pod: dict, copies: int = 1) -> Answer:
    """Would the namespace's ResourceQuotas admit this pod (after LimitRange defaults)?
    With copies > 1: would all of them be admitted (a Deployment's replicas)?"""
    pod, _ = apply_limit_ranges(objects, namespace, pod)
    usage = {key: amount * copies for key, amount in pod_usage(pod).items()}
    notes = []
    for quota in objects.of_kind("ResourceQuota", namespace):
        if not _scope_covers(quota, pod):
            continue
        hard = quota.get("spec", {}).get("hard") or {}
        used = (quota.get("status") or {}).get("used") or {}
        for key, limit in sorted(hard.items()):
            if not is_enforced(key):
                notes.append(f"{ref(quota)} sets {key}={limit}, which Kubernetes does not "
                             f"enforce (only requests.<resource> constrains extended resources)")
                continue
            if key in ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu",
                       "limits.memory") and key_missing(key, pod):
                return Answer(False, f"{ref(quota)}: must specify {key} (no LimitRange default)")
            if key not in usage:
                continue
            total = parse_quantity(used.get(key, 0)) + usage[key]
            if total > parse_quantity(limit):
                return Answer(False, f"exceeded quota: {ref(quota)}, requested: "
                                     f"{key}={format_quantity(usage[key])}, used: {key}="
                                     f"{format_quantity(parse_quantity(used.get(key, 0)))}, "
                                     f"limited: {key}={limit}")
    quotas = [ref(q) for q in objects.of_kind("ResourceQuota", namespace)]
    reason = (f"within {', '.join(quotas)}" if quotas else f"no ResourceQuota in {namespace}")
    return Answer(True, "; ".join([reason, *notes]))


def key_missing(key: str, pod: dict) -> bool:
    kind, _, res = key.partition(".") if "." in key else ("requests", "", key)
    return any(res not in ((c.get("resources") or {}).get(kind) or {}) for c in _containers(pod))


def pod_admitted(objects: ObjectSet, namespace: str, pod: dict, copies: int = 1) -> Answer:
    """LimitRange then ResourceQuota admission, as the API server runs them."""
    _, rejected = apply_limit_ranges(objects, namespace, pod)
    if rejected:
        return Answer(False, rejected)
    return quota_admits(objects, namespace, pod, copies)
