"""LimitRange semantics on pod create: the defaults a LimitRange fills in and the minima,
maxima and limit/request ratios it enforces, with the API server's own messages.

Follows pkg/apis/core/v1/defaults.go (SetDefaults_LimitRangeItem, SetDefaults_Pod) and
plugin/pkg/admission/limitranger/admission.go (LimitRanger). The API server handles a pod
create in this order; admit_pod does steps 1, 2 and the LimitRanger part of 4 (mutate_pod
and validate_pod are the halves), kube/quota.pod_admitted the whole chain:

1. decoding defaults the pod: a container's requests default to its limits (SetDefaults_Pod);
2. mutating admission: LimitRanger gives every container and init container the LimitRange's
   `default` limits and `defaultRequest` requests for the resources it does not name;
3. object validation (validate_pod_resources; "Pod ... is invalid"): requests must not exceed
   limits, and for extended resources such as nvidia.com/gpu must equal them;
4. validating admission: LimitRanger checks min, max and maxLimitRequestRatio per Container
   and per Pod ("pods ... is forbidden"); then ResourceQuota (kube/resourcequota.py).

A LimitRange is itself defaulted when it is stored (SetDefaults_LimitRangeItem): for a
Container item `max` becomes `default` and `default` becomes `defaultRequest`. So an item
with `max: {nvidia.com/gpu: 2}` and no `default` gives every container that names no GPU a
limit and a request of 2 GPUs: a busybox sidecar then asks for two GPUs. admit_pod always
applies that defaulting to the LimitRanges it is given; it changes nothing on stored ones.

Upstream ranges over Go maps, so when several constraints fail the order of the messages
varies from call to call; here they follow the order the LimitRange lists its resources.
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Optional

from kube.pod_resources import (Quantity, ResourceList, aggregate_limits, aggregate_requests,
                                api_defaults, resource_list)

ANNOTATION = "kubernetes.io/limit-ranger"
CONTAINER = "Container"
POD = "Pod"
# What the LimitRanger's pod-level aggregate takes from spec.resources (its own list).
_POD_LEVEL = ("cpu", "memory")


# -- defaulting -----------------------------------------------------------------------------

def default_limit_range_item(item: dict) -> dict:
    """SetDefaults_LimitRangeItem: for a Container item, a resource with a `max` but no
    `default` gets the max as default limit; a resource with a `default` but no
    `defaultRequest` gets it as default request; then one with a `min` but still no
    `defaultRequest` gets the min. Other item types are left alone."""
    item = copy.deepcopy(item)
    if item.get("type") != CONTAINER:
        return item
    default = dict(item.get("default") or {})
    default_request = dict(item.get("defaultRequest") or {})
    for name, value in (item.get("max") or {}).items():
        default.setdefault(name, value)
    for name, value in default.items():
        default_request.setdefault(name, value)
    for name, value in (item.get("min") or {}).items():
        default_request.setdefault(name, value)
    for field, values in (("default", default), ("defaultRequest", default_request)):
        if values or field in item:
            item[field] = values
    return item


def default_limit_range(limit_range: dict) -> dict:
    """A LimitRange as the API server stores it: every item defaulted."""
    limit_range = copy.deepcopy(limit_range)
    spec = limit_range.setdefault("spec", {})
    spec["limits"] = [default_limit_range_item(i) for i in spec.get("limits") or []]
    return limit_range


def default_pod(pod: dict) -> dict:
    """A copy of the pod as decoding leaves it (SetDefaults_Pod): requests default to limits,
    for containers and init containers, and quantities round up to milli-units."""
    pod = copy.deepcopy(pod)
    pod["spec"] = api_defaults(pod.get("spec") or {})
    return pod


# -- mutating admission ---------------------------------------------------------------------

def _items(limit_range: dict, limit_type: Optional[str] = None) -> list[dict]:
    items = (limit_range.get("spec") or {}).get("limits") or []
    return [i for i in items if limit_type is None or i.get("type") == limit_type]


def default_requirements(limit_range: dict) -> tuple[dict, dict]:
    """defaultContainerResourceRequirements: (limits, requests) a container gets from the
    Container items' `default` and `defaultRequest`; a later item wins."""
    limits, requests = {}, {}
    for item in _items(limit_range, CONTAINER):
        requests.update(item.get("defaultRequest") or {})
        limits.update(item.get("default") or {})
    return limits, requests


def _merge_container(container: dict, limits: dict, requests: dict, prefix: str) -> list[str]:
    created = "resources" not in container
    resources = container.setdefault("resources", {})
    notes = []
    for kind, defaults in (("request", requests), ("limit", limits)):
        current = resources.get(f"{kind}s") or {}
        missing = [name for name in defaults if name not in current]
        if missing:
            resources[f"{kind}s"] = {**current, **{n: defaults[n] for n in missing}}
            notes.append(f"{', '.join(sorted(missing))} {kind} for {prefix} "
                         f"{container.get('name', '')}")
    if created and not resources:
        del container["resources"]
    return notes


def merge_defaults(pod: dict, limit_range: dict) -> dict:
    """PodMutateLimitFunc: a copy of the pod whose containers and init containers have the
    LimitRange's defaults for every resource they do not name, and the annotation saying
    what was set ("LimitRanger plugin set: cpu request for container app; ...")."""
    pod = copy.deepcopy(pod)
    limits, requests = default_requirements(limit_range)
    spec = pod.setdefault("spec", {})
    notes = []
    for field, prefix in (("containers", "container"), ("initContainers", "init container")):
        for container in spec.get(field) or []:
            notes += _merge_container(container, limits, requests, prefix)
    if notes:
        annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
    return pod


# -- validating admission -------------------------------------------------------------------

def _min(kind: str, name: str, enforced: Quantity, requests: ResourceList,
         limits: ResourceList) -> Optional[str]:
    floor = f"minimum {name} usage per {kind} is {enforced.canonical()}"
    if name not in requests:
        return f"{floor}.  No request is specified"
    if requests[name] < enforced:
        return f"{floor}, but request is {requests[name].canonical()}"
    if name in limits and limits[name] < enforced:
        return f"{floor}, but limit is {limits[name].canonical()}"
    return None


def _max(kind: str, name: str, enforced: Quantity, requests: ResourceList,
         limits: ResourceList) -> Optional[str]:
    ceiling = f"maximum {name} usage per {kind} is {enforced.canonical()}"
    if name not in limits:
        return f"{ceiling}.  No limit is specified"
    if limits[name] > enforced:
        return f"{ceiling}, but limit is {limits[name].canonical()}"
    if name in requests and requests[name] > enforced:
        return f"{ceiling}, but request is {requests[name].canonical()}"
    return None


def _ratio(kind: str, name: str, enforced: Quantity, requests: ResourceList,
           limits: ResourceList) -> Optional[str]:
    head = f"{name} max limit to request ratio per {kind} is {enforced.canonical()}"
    if requests.get(name, 0) == 0:
        return f"{head}, but no request is specified or request is 0"
    if limits.get(name, 0) == 0:
        return f"{head}, but no limit is specified or limit is 0"
    request, limit = abs(Decimal(requests[name])), abs(Decimal(limits[name]))
    if limit > request * Decimal(enforced):
        ratio = (limit / request).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
        return f"{head}, but provided ratio is {ratio}"
    return None


_CHECKS = (("min", _min), ("max", _max), ("maxLimitRequestRatio", _ratio))


def _check(item: dict, kind: str, requests: ResourceList, limits: ResourceList) -> list[str]:
    errors = []
    for field, check in _CHECKS:
        for name, enforced in resource_list(item.get(field)).items():
            error = check(kind, name, enforced, requests, limits)
            if error:
                errors.append(error)
    return errors


def _container_lists(container: dict) -> tuple[ResourceList, ResourceList]:
    resources = container.get("resources") or {}
    return resource_list(resources.get("requests")), resource_list(resources.get("limits"))


def _pod_lists(spec: dict) -> tuple[ResourceList, ResourceList]:
    """The LimitRanger's own pod aggregate: containers, sidecars and init containers as the
    scheduler sees them, pod-level cpu and memory on top, and no overhead."""
    requests, limits = aggregate_requests(spec), aggregate_limits(spec)
    pod_level = spec.get("resources") or {}
    for lists, kind in ((requests, "requests"), (limits, "limits")):
        for name, amount in resource_list(pod_level.get(kind)).items():
            if name in _POD_LEVEL:
                lists[name] = amount
    return requests, limits


def validate_limits(limit_range: dict, pod: dict) -> list[str]:
    """PodValidateLimitFunc: every min, max and maxLimitRequestRatio of the LimitRange that
    the pod breaks. Container items apply to each container and init container; Pod items to
    the pod's aggregate requests and limits (as pod_requests computes them, without
    overhead)."""
    spec = pod.get("spec") or {}
    errors = []
    for item in _items(limit_range):
        if item.get("type") == CONTAINER:
            for field in ("containers", "initContainers"):
                for container in spec.get(field) or []:
                    errors += _check(item, CONTAINER, *_container_lists(container))
        elif item.get("type") == POD:
            errors += _check(item, POD, *_pod_lists(spec))
    return errors


# -- the whole admission --------------------------------------------------------------------

def mutate_pod(pod: dict, limit_ranges: list[dict]) -> dict:
    """Steps 1 and 2: the pod after decoding and the LimitRanger's defaults (a copy)."""
    pod = default_pod(pod)
    for limit_range in limit_ranges:
        pod = merge_defaults(pod, default_limit_range(limit_range))
    return pod


def validate_pod(pod: dict, limit_ranges: list[dict]) -> list[str]:
    """Step 4, LimitRanger part: the first LimitRange that rejects the pod decides; its
    errors are returned (empty: admitted)."""
    for limit_range in limit_ranges:
        errors = validate_limits(default_limit_range(limit_range), pod)
        if errors:
            return errors
    return []


def admit_pod(pod: dict, limit_ranges: list[dict]) -> tuple[dict, list[str]]:
    """LimitRanger on a pod create: (a deep copy of the pod with API and LimitRange defaults
    applied, the LimitRanger's errors; empty means admitted). Format a rejection with
    forbidden_message(name, errors)."""
    pod = mutate_pod(pod, limit_ranges)
    return pod, validate_pod(pod, limit_ranges)


# -- object validation ----------------------------------------------------------------------

def overcommit_allowed(name: str) -> bool:
    """IsOvercommitAllowed: only native resources other than hugepages may have requests
    below limits; extended resources (nvidia.com/gpu) and hugepages may not."""
    native = "/" not in name or "kubernetes.io/" in name
    return native and not name.startswith("hugepages-")


def _container_errors(container: dict, path: str) -> list[str]:
    requests, limits = _container_lists(container)
    errors = []
    for name, request in requests.items():
        if name in limits:
            limit = limits[name].canonical()
            if request != limits[name] and not overcommit_allowed(name):
                detail = f"must be equal to {name} limit of {limit}"
            elif request > limits[name]:
                detail = f"must be less than or equal to {name} limit of {limit}"
            else:
                continue
            errors.append(f'{path}.requests: Invalid value: "{request.canonical()}": {detail}')
        elif not overcommit_allowed(name):
            errors.append(f"{path}.limits: Required value: Limit must be set for non "
                          f"overcommitable resources")
    return errors


def validate_pod_resources(pod: dict) -> list[str]:
    """Step 3, the resource part of ValidatePod (ValidateResourceRequirements): field errors
    for requests above limits, and for extended resources a request that differs from the
    limit or has none. Runs after the LimitRanger's defaults, so a LimitRange default limit
    below an explicit request makes the pod invalid."""
    errors = []
    spec = pod.get("spec") or {}
    for field in ("containers", "initContainers"):
        for index, container in enumerate(spec.get(field) or []):
            errors += _container_errors(container, f"spec.{field}[{index}].resources")
    return errors


# -- messages -------------------------------------------------------------------------------

def aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): duplicates dropped, several in brackets."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def forbidden_message(pod_name: str, errors: list[str]) -> str:
    """The API server's 403 for an admission rejection of a pod."""
    if not pod_name:
        return f"pods is forbidden: {aggregate(errors)}"
    return f'pods "{pod_name}" is forbidden: {aggregate(errors)}'


def invalid_message(pod_name: str, errors: list[str]) -> str:
    """The API server's 422 for a pod that fails validation."""
    return f'Pod "{pod_name}" is invalid: {aggregate(errors)}'
