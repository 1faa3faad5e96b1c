"""Label and node selectors as kube-scheduler evaluates them.

Follows k8s.io/apimachinery labels.Requirement / metav1.LabelSelectorAsSelector and
k8s.io/component-helpers/scheduling/corev1/nodeaffinity: an absent (None) label selector
selects nothing, an empty one ({}) selects everything; a requirement that would not parse
(bad operator, bad value) makes its selector or node-selector term match nothing, which is
what the scheduler does with a term it cannot parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional

_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_INT64 = re.compile(r"[+-]?[0-9]+")
_SET_OPS = ("In", "NotIn")
_EXISTENCE_OPS = ("Exists", "DoesNotExist")
_NUMERIC_OPS = ("Gt", "Lt")


class InvalidSelector(ValueError):
    """A requirement the API machinery would refuse to parse."""


def valid_label_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and _NAME.fullmatch(value) is not None)


def valid_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return 0 < len(name) <= 63 and _NAME.fullmatch(name) is not None


def _int64(text: str) -> Optional[int]:
    if not _INT64.fullmatch(text):
        return None
    number = int(text)
    return number if -2 ** 63 <= number < 2 ** 63 else None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str          # In, NotIn, Exists, DoesNotExist, Gt, Lt, or "=" (matchLabels)
    values: tuple[str, ...] = ()

    @classmethod
    def parse(cls, key: str, operator: str, values: list[str] | None) -> "Requirement":
        values = tuple(values or ())
        if not valid_label_key(key):
            raise InvalidSelector(f"invalid label key {key!r}")
        if operator in _SET_OPS and not values:
            raise InvalidSelector(f"{operator} needs at least one value")
        if operator == "=" and len(values) != 1:
            raise InvalidSelector("= needs exactly one value")
        if operator in _EXISTENCE_OPS and values:
            raise InvalidSelector(f"{operator} takes no values")
        if operator in _NUMERIC_OPS and (len(values) != 1 or _int64(values[0]) is None):
            raise InvalidSelector(f"{operator} needs exactly one integer value")
        if operator not in _SET_OPS + _EXISTENCE_OPS + _NUMERIC_OPS + ("=",):
            raise InvalidSelector(f"{operator!r} is not a valid operator")
        if not all(valid_label_value(v) for v in values):
            raise InvalidSelector(f"invalid label value in {list(values)}")
        return cls(key, operator, values)

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator in ("In", "="):
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        number = _int64(labels[self.key]) if present else None
        if number is None:
            return False
        bound = int(self.values[0])
        return number > bound if self.operator == "Gt" else number < bound


@dataclass(frozen=True)
class Selector:
    """A parsed label selector; `nothing` is the absent selector, no requirements is {}."""
    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """labels.Selector.Empty(): the everything-selector. Counting code treats it as 0."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def with_labels(self, extra: Mapping[str, str]) -> "Selector":
        """Add key=value requirements (matchLabelKeys); the nothing-selector stays nothing."""
        if self.nothing or not extra:
            return self
        added = tuple(Requirement(k, "=", (v,)) for k, v in sorted(extra.items()))
        return Selector(added + self.requirements)


NOTHING = Selector(nothing=True)
EVERYTHING = Selector()


def label_selector(selector: Optional[dict]) -> Selector:
    """metav1.LabelSelector semantics; a selector that does not parse selects nothing."""
    if selector is None:
        return NOTHING
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    try:
        requirements = [Requirement.parse(k, "=", [v]) for k, v in sorted(match_labels.items())]
        for expr in expressions:
            if expr.get("operator") in _NUMERIC_OPS:   # only node selectors know Gt/Lt
                raise InvalidSelector("Gt/Lt are not label selector operators")
            requirements.append(Requirement.parse(expr.get("key", ""), expr.get("operator", ""),
                                                  expr.get("values")))
    except InvalidSelector:
        return NOTHING
    return Selector(tuple(requirements))


def _field_matches(expr: dict, node_name: str) -> bool:
    values = expr.get("values") or []
    if expr.get("operator") not in _SET_OPS or len(values) != 1:
        raise InvalidSelector("node field selectors take In/NotIn with one value")
    actual = node_name if expr.get("key") == "metadata.name" else ""
    return (actual == values[0]) == (expr["operator"] == "In")


def node_selector_term_matches(term: dict, labels: Mapping[str, str], node_name: str) -> bool:
    """One nodeSelectorTerm: its matchExpressions and matchFields are ANDed."""
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False                      # an empty term selects no objects
    try:
        requirements = [Requirement.parse(e.get("key", ""), e.get("operator", ""), e.get("values"))
                        for e in expressions]
        if not all(r.matches(labels) for r in requirements):
            return False
        # A node without a name has no fields to select on, so matchFields is not checked.
        return not node_name or all(_field_matches(f, node_name) for f in fields)
    except InvalidSelector:
        return False


def node_name_of(node: dict) -> str:
    return (node.get("metadata") or {}).get("name") or ""


def node_labels(node: dict) -> dict[str, str]:
    return (node.get("metadata") or {}).get("labels") or {}


def _node_affinity(spec: dict) -> dict:
    return ((spec.get("affinity") or {}).get("nodeAffinity")) or {}


def required_node_affinity_matches(spec: dict, node: dict) -> bool:
    """nodeSelector AND requiredDuringScheduling node affinity (its terms ORed)."""
    labels = node_labels(node)
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = _node_affinity(spec).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return True
    return any(node_selector_term_matches(term, labels, node_name_of(node))
               for term in required.get("nodeSelectorTerms") or [])


def preferred_node_affinity_score(spec: dict, node: dict) -> int:
    """The sum of the weights of the preferred terms this node matches."""
    labels, name = node_labels(node), node_name_of(node)
    terms = _node_affinity(spec).get("preferredDuringSchedulingIgnoredDuringExecution") or []
    return sum(term["weight"] for term in terms
               if term.get("weight")
               and node_selector_term_matches(term.get("preference") or {}, labels, name))
