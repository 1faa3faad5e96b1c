"""ResourceQuota admission for pods: what a pod is charged, which quotas cover it, and
whether they admit it, with the API server's messages.

Follows pkg/quota/v1/evaluator/core/pods.go (the pod evaluator: Usage, MatchingResources,
MatchingScopes, Constraints), staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/
controller.go (CheckRequest) and staging/src/k8s.io/apiserver/pkg/quota/v1/resources.go
(Add, Mask, LessThanOrEqual).

A pod is charged `pods` and `count/pods` (one each), `cpu`/`requests.cpu`, `limits.cpu`, the
same for memory and ephemeral-storage, `hugepages-<size>`/`requests.hugepages-<size>`, and
for an extended resource such as nvidia.com/gpu only `requests.nvidia.com/gpu`, all computed
from the pod's requests and limits as the scheduler sums them (sidecars, init containers,
overhead). A quota key `limits.nvidia.com/gpu` or a bare `nvidia.com/gpu` passes validation
(any resource name with a "/" does) but the pod evaluator does not match it: it is never
charged, never rejects a pod, and never appears in the quota's status.used (kubectl describe
shows its Used as 0). A pod in phase Succeeded or Failed, or deleted longer ago than its grace
period, is charged only `count/pods`.

A quota covers a pod when every scope matches (Terminating, NotTerminating, BestEffort,
NotBestEffort, PriorityClass, CrossNamespacePodAffinity) and at least one of its keys is one
the pod evaluator tracks. BestEffort is the QoS class: a pod that asks for nothing but
nvidia.com/gpu is BestEffort, since only cpu and memory decide QoS.

`used` stands for each quota's status.used, keyed by quota name; a quota missing from it
falls back to its own status.used, else to nothing used. admit records an admitted pod in
`used`, as the plugin writes the new status.used before the pod is stored, so pods can be
created one by one (admit_copies). Upstream rejects a pod while the quota controller has
not yet computed a quota's status ("status unknown for quota"); here the status is taken as
computed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Optional

from kube.pod_resources import (Quantity, ResourceList, add_resources, api_defaults,
                                pod_level_resources_set, pod_limits, pod_requests,
                                resource_list)

POD_RESOURCES = ("count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu",
                 "requests.memory", "requests.ephemeral-storage", "limits.cpu",
                 "limits.memory", "limits.ephemeral-storage", "pods")
# A quota on one of these makes every container name it ("must specify"); upstream calls
# this a mistake kept for compatibility, not to be repeated for other resources.
VALIDATION_SET = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu",
                  "limits.memory")
SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
          "CrossNamespacePodAffinity")
DEVICE_CLASS_PREFIX = "deviceclass.resource.kubernetes.io/"
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
_QOS_RESOURCES = ("cpu", "memory")
_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

UsedByQuota = dict[str, dict[str, object]]


# -- resource names -------------------------------------------------------------------------

def is_native_resource(name: str) -> bool:
    """IsNativeResource: no domain, or a kubernetes.io one."""
    return "/" not in name or "kubernetes.io/" in name


def _qualified_name(name: str) -> bool:
    prefix, _, short = name.rpartition("/")
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(short) <= 63 and bool(_NAME.fullmatch(short))


def is_extended_resource(name: str) -> bool:
    """IsDRAExtendedResourceName: a resource a container may request that is neither native
    nor already a quota key, such as nvidia.com/gpu (or a DRA device class name)."""
    if name.startswith(DEVICE_CLASS_PREFIX):
        return True
    if is_native_resource(name) or name.startswith("requests."):
        return False
    return _qualified_name("requests." + name)


def _extended_quota_key(key: str) -> bool:
    # Extended resources cannot be overcommitted, so only requests.<name> is tracked.
    implicit = key.startswith("requests." + DEVICE_CLASS_PREFIX)
    return (not is_native_resource(key) or implicit) and key.startswith("requests.")


def matching_resources(keys) -> list[str]:
    """MatchingResources: the quota keys the pod evaluator tracks."""
    return [k for k in keys if k in POD_RESOURCES or k.startswith(("hugepages-",
            "requests.hugepages-")) or _extended_quota_key(k)]


# -- usage ----------------------------------------------------------------------------------

def quota_add(a: ResourceList, b: ResourceList) -> ResourceList:
    """quota.Add."""
    result = dict(a)
    for name, amount in b.items():
        result[name] = result[name].plus(amount) if name in result else amount
    return result


def mask(resources: ResourceList, keys) -> ResourceList:
    """quota.Mask: only these keys."""
    return {name: amount for name, amount in resources.items() if name in keys}


def _compute_usage(requests: ResourceList, limits: ResourceList) -> ResourceList:
    """podComputeUsageHelper: quota keys from requests and limits."""
    usage = {"pods": Quantity(1)}
    for name in _COMPUTE:
        if name in requests:
            usage[name] = usage[f"requests.{name}"] = requests[name]
        if name in limits:
            usage[f"limits.{name}"] = limits[name]
    for name, amount in requests.items():
        if name.startswith("hugepages-"):
            usage[name] = usage[f"requests.{name}"] = amount
        if is_extended_resource(name):
            usage[f"requests.{name}"] = amount
    return usage


def _timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def is_charged(pod: dict, now: Optional[datetime] = None) -> bool:
    """QuotaV1Pod: not terminal, and not stuck deleting past its grace period."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = pod.get("metadata") or {}
    deleted, grace = meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds")
    if deleted and grace is not None:
        now = now or datetime.now(timezone.utc)
        return now <= _timestamp(deleted) + timedelta(seconds=int(grace))
    return True


def pod_usage(pod: dict, *, now: Optional[datetime] = None,
              api_defaulting: bool = True) -> dict[str, Decimal]:
    """PodUsageFunc: what the pod is charged against each quota key it touches.

    `count/pods` is always 1; a terminal pod is charged nothing else. api_defaulting: first
    default the pod as the API server does (requests from limits); see pod_requests."""
    usage: ResourceList = {"count/pods": Quantity(1)}
    if not is_charged(pod, now):
        return usage
    spec = pod.get("spec") or {}
    requests = pod_requests(spec, api_defaulting=api_defaulting)
    limits = pod_limits(spec, api_defaulting=api_defaulting)
    return quota_add(usage, _compute_usage(requests, limits))


# -- scopes ---------------------------------------------------------------------------------

def qos_class(pod: dict) -> str:
    """GetPodQOS: BestEffort when nothing asks for or limits cpu or memory above zero (other
    resources, nvidia.com/gpu included, do not count); Guaranteed when every container (or
    the pod level, if set) limits both and requests equal limits; else Burstable."""
    reported = (pod.get("status") or {}).get("qosClass")
    if reported:
        return reported
    spec = pod.get("spec") or {}
    if pod_level_resources_set(spec):
        holders = [spec.get("resources") or {}]
    else:
        containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
        holders = [c.get("resources") or {} for c in containers]
    requests: ResourceList = {}
    limits: ResourceList = {}
    guaranteed = True
    for resources in holders:
        add_resources(requests, _qos_amounts(resources.get("requests")))
        own_limits = _qos_amounts(resources.get("limits"))
        add_resources(limits, own_limits)
        guaranteed = guaranteed and set(own_limits) == set(_QOS_RESOURCES)
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def _qos_amounts(raw: Optional[dict]) -> ResourceList:
    return {name: amount for name, amount in resource_list(raw).items()
            if name in _QOS_RESOURCES and amount > 0}


def is_terminating(pod: dict) -> bool:
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    return deadline is not None and int(deadline) >= 0


def _cross_namespace(term: dict) -> bool:
    return bool(term.get("namespaces")) or term.get("namespaceSelector") is not None


def uses_cross_namespace_pod_affinity(pod: dict) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(kind) or {}
        required = rules.get("requiredDuringSchedulingIgnoredDuringExecution") or []
        preferred = rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        terms = required + [w.get("podAffinityTerm") or {} for w in preferred]
        if any(_cross_namespace(t) for t in terms):
            return True
    return False


def _priority_class_matches(selector: dict, pod: dict) -> bool:
    priority = (pod.get("spec") or {}).get("priorityClassName") or ""
    operator, values = selector.get("operator"), selector.get("values") or []
    # The class is matched as a label "PriorityClass=<name>" that a pod without a class
    # lacks: NotIn and DoesNotExist match such a pod.
    if operator == "Exists":
        return bool(priority)
    if operator == "DoesNotExist":
        return not priority
    if operator == "In":
        return bool(priority) and priority in values
    if operator == "NotIn":
        return not priority or priority not in values
    return False


def matches_scope(selector: dict, pod: dict) -> bool:
    """podMatchesScopeFunc. Only PriorityClass reads the operator: the other scopes are
    validated to use Exists."""
    scope = selector.get("scopeName")
    if scope in ("BestEffort", "NotBestEffort"):
        return (qos_class(pod) == "BestEffort") == (scope == "BestEffort")
    if scope in ("Terminating", "NotTerminating"):
        return is_terminating(pod) == (scope == "Terminating")
    if scope == "PriorityClass":
        return _priority_class_matches(selector, pod)
    if scope == "CrossNamespacePodAffinity":
        return uses_cross_namespace_pod_affinity(pod)
    return False


def scope_selectors(quota: dict) -> list[dict]:
    """spec.scopes (as Exists selectors) followed by spec.scopeSelector's expressions."""
    spec = quota.get("spec") or {}
    selectors = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    return selectors + list((spec.get("scopeSelector") or {}).get("matchExpressions") or [])


def matching_scopes(pod: dict, selectors: list[dict]) -> list[dict]:
    """MatchingScopes: the selectors this pod matches."""
    return [s for s in selectors if matches_scope(s, pod)]


def hard(quota: dict) -> ResourceList:
    """The quota's limits: status.hard, which the quota controller copies from spec.hard."""
    status_hard = (quota.get("status") or {}).get("hard")
    return resource_list(status_hard or (quota.get("spec") or {}).get("hard"))


def quota_matches(quota: dict, pod: dict) -> bool:
    """generic.Matches: every scope matches the pod and at least one key is a pod key."""
    selectors = scope_selectors(quota)
    return (bool(matching_resources(hard(quota)))
            and len(matching_scopes(pod, selectors)) == len(selectors))


# -- admission ------------------------------------------------------------------------------

def constraints(required, pod: dict) -> Optional[str]:
    """Constraints: with a quota on cpu or memory (VALIDATION_SET), every container and init
    container must name it, else "must specify <key> for: <containers>; ..."."""
    spec = pod.get("spec") or {}
    if pod_level_resources_set(spec):
        return None
    wanted = [key for key in VALIDATION_SET if key in set(required)]
    missing: dict[str, set[str]] = {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        resources = container.get("resources") or {}
        named = _compute_usage(resource_list(resources.get("requests")),
                               resource_list(resources.get("limits")))
        for key in wanted:
            if key not in named:
                missing.setdefault(key, set()).add(container.get("name", ""))
    if not missing:
        return None
    return "must specify " + "; ".join(f"{key} for: {','.join(sorted(missing[key]))}"
                                       for key in sorted(missing))


def pretty(resources: ResourceList) -> str:
    """prettyPrint: key=value, sorted by key, comma-separated."""
    return ",".join(f"{key}={resources[key].canonical()}" for key in sorted(resources))


def _name(quota: dict) -> str:
    return (quota.get("metadata") or {}).get("name", "")


def used_by(quota: dict, used: Optional[UsedByQuota]) -> ResourceList:
    """The quota's status.used: from `used` if it has the quota, else from the quota. A bare
    number (a Decimal, not a Quantity or a string) is printed in the format of the quota's
    limit for that key, so 4Gi of memory reads "4Gi" rather than a count of bytes."""
    if used is not None and _name(quota) in used:
        raw = used[_name(quota)]
    else:
        raw = (quota.get("status") or {}).get("used") or {}
    limits = hard(quota)
    current = resource_list(raw)
    for name, value in raw.items():
        if type(value) is Decimal and name in limits:
            current[name] = Quantity(value, limits[name].fmt)
    return current


def _evaluate(pod: dict, quotas: list[dict],
              used: Optional[UsedByQuota]) -> tuple[Optional[str], dict[str, ResourceList]]:
    """CheckRequest for a pod create: (why it is rejected or None, each charged quota's new
    status.used)."""
    pod = {**pod, "spec": api_defaults(pod.get("spec") or {})}
    covering = []
    for quota in quotas:
        if not quota_matches(quota, pod):
            continue
        problem = constraints(matching_resources(hard(quota)), pod)
        if problem:
            return f"failed quota: {_name(quota)}: {problem}", {}
        covering.append(quota)
    usage = pod_usage(pod, api_defaulting=False)
    negative = sorted(name for name, amount in usage.items() if amount < 0)
    if negative:
        return f"quota usage is negative for resource(s): {','.join(negative)}", {}
    delta = {name: amount for name, amount in usage.items() if amount != 0}
    charges = {}
    for quota in covering:
        limits, current = hard(quota), used_by(quota, used)
        requested = mask(delta, limits)
        new_usage = quota_add(current, requested)
        exceeded = [k for k, v in mask(new_usage, requested).items() if v > limits[k]]
        if exceeded:
            return (f"exceeded quota: {_name(quota)}, requested: "
                    f"{pretty(mask(requested, exceeded))}, used: "
                    f"{pretty(_with_zeros(mask(current, exceeded), exceeded))}, limited: "
                    f"{pretty(mask(limits, exceeded))}"), {}
        if requested:
            charges[_name(quota)] = new_usage
    return None, charges


def _with_zeros(resources: ResourceList, keys) -> ResourceList:
    # The quota controller writes 0 for every tracked key nothing uses yet.
    return {**{key: Quantity(0) for key in keys}, **resources}


def _record(used: UsedByQuota, name: str, usage: ResourceList) -> None:
    # In place, so a caller's own per-quota mappings see the charge.
    used.setdefault(name, {}).update(usage)


def admit(pod: dict, quotas: list[dict], used: Optional[UsedByQuota] = None, *,
          dry_run: bool = False) -> tuple[bool, str]:
    """Would the ResourceQuota admission plugin admit this pod create? (allowed, message):
    the message is the API server's reason on rejection ("exceeded quota: ...", "failed
    quota: ...: must specify ..."), empty when admitted.

    The pod should be as LimitRanger leaves it (kube/limitrange.admit_pod). As the plugin
    does, an admitted create is recorded: each covering quota's entry in `used` is updated in
    place (created if missing), so the next pod is checked against it; with dry_run, or
    without `used`, nothing is recorded."""
    problem, charges = _evaluate(pod, quotas, used)
    if problem:
        return False, problem
    if used is not None and not dry_run:
        for name, usage in charges.items():
            _record(used, name, usage)
    return True, ""


def charge(used: UsedByQuota, quota: dict, pod: dict) -> UsedByQuota:
    """Record the pod against one quota without checking it (if the quota covers the pod):
    `used` is updated in place and returned."""
    if quota_matches(quota, pod):
        pod = {**pod, "spec": api_defaults(pod.get("spec") or {})}
        delta = {k: v for k, v in pod_usage(pod).items() if v != 0}
        _record(used, _name(quota), quota_add(used_by(quota, used), mask(delta, hard(quota))))
    return used


def admit_copies(pod: dict, quotas: list[dict], used: UsedByQuota,
                 copies: int) -> tuple[int, str]:
    """Create `copies` identical pods one at a time, as a ReplicaSet or Job controller does,
    each recorded before the next is checked: (how many were admitted, why the next one was
    rejected, or "" if all were). `used` is updated in place."""
    for created in range(copies):
        allowed, problem = admit(pod, quotas, used)
        if not allowed:
            return created, problem
    return copies, ""
