"""Typed reading of one config object that records problems instead of stopping at the first.

A `Fields` wraps a YAML/JSON object under a config key. Its getters return the value
or the default, and append a `Problem` for anything wrong; `finish()` reports the
fields nobody asked for (typos), with a did-you-mean.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional

from model.errors import MISSING, Problem, did_you_mean

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
QUANTITY = re.compile(r"(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Fields:
    def __init__(self, key: str, raw: Any, problems: list[Problem]):
        self.key = key
        self.problems = problems
        self._seen: set[str] = set()
        if raw is MISSING or raw is None:
            self._raw: dict[str, Any] = {}
        elif isinstance(raw, dict):
            self._raw = raw
        else:
            self.problem(key, raw, f"must be an object (a YAML mapping), not {type_name(raw)}")
            self._raw = {}

    # -- plumbing ---------------------------------------------------------------

    def path(self, name: str) -> str:
        return f"{self.key}.{name}"

    def problem(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(Problem(key, value, allowed))

    def raw(self, name: str) -> Any:
        self._seen.add(name)
        value = self._raw.get(name, MISSING)
        return MISSING if value is None else value

    def names(self) -> list[str]:
        """The field names set in this object (for maps keyed by user-chosen names)."""
        return list(self._raw)

    def has(self, name: str) -> bool:
        return self._raw.get(name) is not None

    def finish(self) -> None:
        """Report fields that were set but that no getter asked for."""
        for name in self._raw:
            if name not in self._seen:
                hint = did_you_mean(name, self._seen)
                known = ", ".join(sorted(self._seen))
                self.problem(self.path(name), self._raw[name],
                             f"unknown field{hint}; known fields: {known}")

    # -- getters ----------------------------------------------------------------

    def obj(self, name: str) -> "Fields":
        return Fields(self.path(name), self.raw(name), self.problems)

    def items(self, name: str) -> list[tuple[str, Any]]:
        """A list field as (key, element) pairs; [] when unset or not a list."""
        value = self.raw(name)
        if value is MISSING:
            return []
        if not isinstance(value, list):
            self.problem(self.path(name), value, f"must be a list, not {type_name(value)}")
            return []
        return [(f"{self.path(name)}[{i}]", item) for i, item in enumerate(value)]

    def str(self, name: str, default: Optional[str], *, choices: Iterable[str] = (),
            label: bool = False, max_len: Optional[int] = None,
            matching: Optional[tuple[re.Pattern, str]] = None) -> Any:
        """matching: (pattern the whole value must match, what to say when it does not)."""
        value = self.raw(name)
        if value is MISSING:
            return default
        return check_str(self.problems, self.path(name), value, choices=choices,
                         label=label, max_len=max_len, matching=matching, default=default)

    def int(self, name: str, default: int, *, minimum: Optional[int] = None) -> int:
        value = self.raw(name)
        if value is MISSING:
            return default
        # YAML and JSON may hand over 2.0 for 2; bools are ints in Python but not here.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(self.path(name), value, f"must be an integer, not {type_name(value)}")
            return default
        if minimum is not None and value < minimum:
            self.problem(self.path(name), value, f"must be an integer >= {minimum}")
            return default
        return value

    def bool(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is MISSING:
            return default
        return check_bool(self.problems, self.path(name), value, default)

    def quantity(self, name: str, default: str) -> str:
        """A Kubernetes quantity such as 500m, 4, 16Gi."""
        value = self.raw(name)
        if value is MISSING:
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return str(value)
        if isinstance(value, str) and QUANTITY.fullmatch(value):
            return value
        self.problem(self.path(name), value,
                     "must be a Kubernetes quantity such as 500m, 4, 16Gi")
        return default

    def str_list(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.raw(name)
        if value is MISSING:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(self.path(name), value, "must be a list of strings")
            return default
        return tuple(value)


def check_str(problems: list[Problem], key: str, value: Any, *, choices: Iterable[str] = (),
              label: bool = False, max_len: Optional[int] = None,
              matching: Optional[tuple[re.Pattern, str]] = None,
              default: Optional[str] = None) -> Any:
    """Validate one string value; returns it, or `default` after recording a problem."""
    choices = tuple(choices)
    if not isinstance(value, str):
        problems.append(Problem(key, value, f"must be a string, not {type_name(value)}"))
        return default
    if not value.strip():
        problems.append(Problem(key, value, "must not be empty" + (
            f"; one of {', '.join(choices)}" if choices else "; leave the key out for the "
            "default")))
        return default
    if choices and value not in choices:
        problems.append(Problem(key, value, f"must be one of {', '.join(choices)}"
                                + did_you_mean(value, choices)))
        return default
    if label and not DNS_LABEL.fullmatch(value):
        problems.append(Problem(key, value, "must be a DNS-1123 label: lowercase letters, "
                                "digits and '-', starting and ending with a letter or digit"))
        return default
    if max_len is not None and len(value) > max_len:
        problems.append(Problem(key, value, f"must be at most {max_len} characters "
                                f"(it has {len(value)})"))
        return default
    if matching is not None and not matching[0].fullmatch(value):
        problems.append(Problem(key, value, matching[1]))
        return default
    return value


def check_bool(problems: list[Problem], key: str, value: Any, default: bool) -> bool:
    # Pulumi hands top-level scalars to programs as strings.
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if isinstance(value, bool):
        return value
    problems.append(Problem(key, value, f"must be true or false, not {type_name(value)}"))
    return default
