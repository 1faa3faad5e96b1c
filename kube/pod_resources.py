"""What a pod asks of a node and of a quota: its containers' requests and limits combined
the way Kubernetes combines them, and resource quantities as the API server prints them.

Follows k8s.io/component-helpers/resource/helpers.go (PodRequests, PodLimits):

* app containers are summed;
* an init container runs alone, so the pod needs at least the largest of them;
* a restartable init container (a sidecar: `restartPolicy: Always` on an init container)
  keeps running, so it is added to the pod's sum and to every init container that starts
  after it;
* pod-level resources (`spec.resources`, PodLevelResources, on by default since 1.34)
  replace the sum for cpu, memory and hugepages;
* pod overhead (`spec.overhead`, set from the RuntimeClass) is added to requests, and to the
  limits that are set and non-zero.

Quantities follow k8s.io/apimachinery/pkg/api/resource: `Quantity` is an exact Decimal that
remembers its format (DecimalSI, BinarySI or DecimalExponent) so that messages print values
the way Quantity.String() does ("500m", "1536Mi", "2").

The API server's own defaulting of a pod (pkg/apis/core/v1/defaults.go) lives here too, since
every stored pod has been through it: a container's requests default to its limits, resource
by resource, and quantities finer than a milli-unit are rounded up.
"""

from __future__ import annotations

import functools
import re
from decimal import ROUND_CEILING, Decimal
from typing import Optional

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12,
                     "P": 15, "E": 18}
_DECIMAL_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_BINARY_BY_POWER = {power: suffix for suffix, power in _BINARY_SUFFIXES.items()}
_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(.*)")
_EXPONENT = re.compile(r"[eE]([+-]?\d+)")
_NANO = Decimal("1e-9")
_MILLI = Decimal("1e-3")

# Resources that pod-level `spec.resources` may set (IsSupportedPodLevelResource).
POD_LEVEL_RESOURCES = ("cpu", "memory")
HUGEPAGES_PREFIX = "hugepages-"


class Quantity(Decimal):
    """An exact resource amount that prints like apimachinery's Quantity.String()."""

    __slots__ = ("fmt",)

    def __new__(cls, value: object = 0, fmt: str = DECIMAL_SI) -> "Quantity":
        quantity = super().__new__(cls, value)
        quantity.fmt = fmt
        return quantity

    @classmethod
    def parse(cls, value: object) -> "Quantity":
        """A quantity as written in YAML: "500m", "1Gi", "1e3", 2 or 0.5."""
        if isinstance(value, Quantity):
            return value
        if isinstance(value, Decimal):
            return cls(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(Decimal(str(value)))
        if cls is Quantity and isinstance(value, str):
            return _parse_text(value)
        return cls._parse(value)

    @classmethod
    def _parse(cls, value: object) -> "Quantity":
        match = _NUMBER.fullmatch(str(value).strip())
        if not match:
            raise ValueError(f"not a Kubernetes quantity: {value!r}")
        number, suffix = Decimal(match.group(1)), match.group(2)
        if suffix in _DECIMAL_SUFFIXES:
            amount, fmt = number.scaleb(_DECIMAL_SUFFIXES[suffix]), DECIMAL_SI
        elif suffix in _BINARY_SUFFIXES:
            amount, fmt = number * 1024 ** _BINARY_SUFFIXES[suffix], BINARY_SI
        elif _EXPONENT.fullmatch(suffix):
            amount, fmt = number.scaleb(int(suffix[1:])), DECIMAL_EXPONENT
        else:
            raise ValueError(f"not a Kubernetes quantity: {value!r}")
        # A Quantity holds nothing finer than a nano-unit; finer input rounds up.
        return cls(_round_up(amount, _NANO), fmt)

    def plus(self, other: "Quantity") -> "Quantity":
        """Quantity.Add: the sum keeps this quantity's format, unless this one is zero."""
        fmt = other.fmt if self == 0 else self.fmt
        return Quantity(Decimal(self) + Decimal(other), fmt)

    def minus(self, other: "Quantity") -> "Quantity":
        return Quantity(Decimal(self) - Decimal(other), self.fmt)

    def round_up_milli(self) -> "Quantity":
        """Quantity.RoundUp(-3), which API defaulting applies to every resource list."""
        rounded = _round_up(Decimal(self), _MILLI)
        return self if rounded == self else Quantity(rounded, self.fmt)

    def canonical(self) -> str:
        """Quantity.String(): the shortest exact form in the quantity's format."""
        return _canonical(Decimal(self), self.fmt)

    def __repr__(self) -> str:
        return f"Quantity({self.canonical()!r})"

    def __copy__(self) -> "Quantity":
        return self

    def __deepcopy__(self, memo: dict) -> "Quantity":
        return self

    def __reduce__(self):
        return Quantity, (str(Decimal(self)), self.fmt)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Quantity:
    """The twin parses the same few quantities hundreds of thousands of times; a Quantity
    is immutable, so one parse per text serves them all."""
    return Quantity._parse(text)


def _round_up(value: Decimal, step: Decimal) -> Decimal:
    if value.as_tuple().exponent >= step.as_tuple().exponent:
        return value                # nothing finer than the step to round away
    return value.quantize(step, rounding=ROUND_CEILING)


def _canonical(value: Decimal, fmt: str) -> str:
    if value == 0:
        return "0"
    if fmt == BINARY_SI and abs(value) >= 1024 and value == value.to_integral_value():
        return _binary(int(value))
    # BinarySI values below 1024, or with a fraction, print in DecimalSI so nothing is lost.
    return _decimal(value, fmt)


def _binary(value: int) -> str:
    power = 0
    while value % 1024 == 0 and power < max(_BINARY_BY_POWER):
        value //= 1024
        power += 1
    return f"{value}{_BINARY_BY_POWER.get(power, '')}"


def _decimal(value: Decimal, fmt: str) -> str:
    sign, digits, exponent = value.normalize().as_tuple()
    mantissa = int("".join(map(str, digits)))
    while exponent % 3:             # the exponent must be a multiple of three
        mantissa, exponent = mantissa * 10, exponent - 1
    number = f"{'-' if sign else ''}{mantissa}"
    if exponent == 0:
        return number
    if fmt == DECIMAL_SI and exponent in _DECIMAL_BY_EXPONENT:
        return number + _DECIMAL_BY_EXPONENT[exponent]
    return f"{number}e{exponent}"


def quantity_string(value: object) -> str:
    """How the API server prints a quantity (Quantity.String())."""
    return Quantity.parse(value).canonical()


ResourceList = dict[str, Quantity]


def resource_list(raw: Optional[dict]) -> ResourceList:
    """A ResourceList from YAML, quantities parsed and their formats kept."""
    return {name: Quantity.parse(value) for name, value in (raw or {}).items()}


def add_resources(total: ResourceList, more: ResourceList) -> None:
    """addResourceList: add every resource of `more` into `total`."""
    for name, amount in more.items():
        total[name] = total[name].plus(amount) if name in total else amount


def max_resources(total: ResourceList, more: ResourceList) -> None:
    """maxResourceList: keep the larger amount of each resource of `more` in `total`."""
    for name, amount in more.items():
        if name not in total or amount > total[name]:
            total[name] = amount


def is_restartable(container: dict) -> bool:
    """Is this init container a sidecar (restartPolicy: Always)?"""
    return container.get("restartPolicy") == "Always"


def _resources(container: dict, kind: str) -> ResourceList:
    return resource_list((container.get("resources") or {}).get(kind))


def _aggregate(spec: dict, kind: str) -> ResourceList:
    total: ResourceList = {}
    for container in spec.get("containers") or []:
        add_resources(total, _resources(container, kind))
    sidecars: ResourceList = {}
    peak: ResourceList = {}
    for container in spec.get("initContainers") or []:
        own = _resources(container, kind)
        if is_restartable(container):
            add_resources(total, own)
            add_resources(sidecars, own)
            running = dict(sidecars)
        else:
            # An init container runs alongside every sidecar started before it.
            running = dict(own)
            add_resources(running, sidecars)
        max_resources(peak, running)
    max_resources(total, peak)
    return total


def aggregate_requests(spec: dict) -> ResourceList:
    """AggregateContainerRequests: containers, sidecars and init containers combined; no
    pod-level resources, no overhead."""
    return _aggregate(spec, "requests")


def aggregate_limits(spec: dict) -> ResourceList:
    """AggregateContainerLimits, the same for limits."""
    return _aggregate(spec, "limits")


def is_pod_level_resource(name: str) -> bool:
    return name in POD_LEVEL_RESOURCES or name.startswith(HUGEPAGES_PREFIX)


def _pod_level(spec: dict, kind: str) -> ResourceList:
    raw = (spec.get("resources") or {}).get(kind)
    return {name: amount for name, amount in resource_list(raw).items()
            if is_pod_level_resource(name)}


def pod_level_resources_set(spec: dict) -> bool:
    """IsPodLevelResourcesSet: does spec.resources name cpu, memory or hugepages?"""
    return bool(_pod_level(spec, "requests") or _pod_level(spec, "limits"))


def api_defaults(spec: dict) -> dict:
    """A copy of a pod spec as the API server stores it on create (SetDefaults_Pod,
    SetDefaults_ResourceList): each container's and init container's requests default to
    its limits, resource by resource (a request of "0" stays 0); quantities finer than a
    milli-unit round up. Pod templates are not defaulted this way, only pods."""
    # Only the resource lists change: copy those (and the lists holding them), share the rest.
    spec = dict(spec)
    for field in ("containers", "initContainers"):
        if spec.get(field):
            spec[field] = [{**c, "resources": {kind: dict(amounts) if isinstance(amounts, dict)
                                               else amounts
                                               for kind, amounts in c["resources"].items()}}
                           if c.get("resources") else c for c in spec[field]]
    if spec.get("overhead"):
        spec["overhead"] = dict(spec["overhead"])
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or []:
            resources = container.get("resources") or {}
            limits = resources.get("limits")
            if limits:
                requests = resources.setdefault("requests", {})
                for name, value in limits.items():
                    requests.setdefault(name, value)
            for kind in ("limits", "requests"):
                _round_up_list(resources.get(kind))
    _round_up_list(spec.get("overhead"))
    return spec


def _round_up_list(raw: Optional[dict]) -> None:
    for name, value in list((raw or {}).items()):
        amount = Quantity.parse(value)
        rounded = amount.round_up_milli()
        if rounded is not amount:
            raw[name] = rounded.canonical()


def _spec_for(spec: dict, api_defaulting: bool) -> dict:
    return api_defaults(spec) if api_defaulting else spec


def pod_requests(spec: dict, *, exclude_overhead: bool = False,
                 api_defaulting: bool = True) -> dict[str, Decimal]:
    """PodRequests: what the scheduler reserves and the quota charges, per resource.

    Takes the pod spec. With api_defaulting (the default) the spec is first defaulted as the
    API server defaults a pod on create, so a spec as written (a Deployment's template) gives
    what its pods will ask; on a stored pod that changes nothing. With api_defaulting=False
    the spec is taken exactly as given, as PodRequests takes it: a container with limits
    only then asks for nothing."""
    spec = _spec_for(spec, api_defaulting)
    requests = aggregate_requests(spec)
    requests.update(_pod_level(spec, "requests"))
    if not exclude_overhead:
        add_resources(requests, resource_list(spec.get("overhead")))
    return requests


def pod_limits(spec: dict, *, exclude_overhead: bool = False,
               api_defaulting: bool = True) -> dict[str, Decimal]:
    """PodLimits: the pod's limits, per resource. A resource no container limits is absent
    (not unlimited-by-one-container: other containers' limits still add up); overhead is
    added only to limits that are set and non-zero."""
    spec = _spec_for(spec, api_defaulting)
    limits = aggregate_limits(spec)
    if pod_level_resources_set(spec):
        limits.update(_pod_level(spec, "limits"))
    if not exclude_overhead:
        for name, amount in resource_list(spec.get("overhead")).items():
            if name in limits and limits[name] != 0:
                limits[name] = limits[name].plus(amount)
    return limits
