"""Kubernetes label selectors: matchLabels and matchExpressions."""

from __future__ import annotations

from typing import Optional


def selector_matches(selector: Optional[dict], labels: dict[str, str]) -> bool:
    """An empty selector ({}) matches everything; None (absent) is handled by callers."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
