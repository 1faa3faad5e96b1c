"""Config errors: every problem names the key, the value it got and what is allowed."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable

# Marks a key that was not set at all (as opposed to set to null).
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<not set>"})()


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        if self.value is MISSING:
            return f"{self.key}: is not set; {self.allowed}"
        return f"{self.key}: got {self.value!r}; {self.allowed}"


class ConfigError(ValueError):
    """All problems found in one pass over a stack's config."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        header = f"gpu-lab config has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([header, *(f"  - {p}" for p in self.problems)]))

    def keys(self) -> list[str]:
        return [p.key for p in self.problems]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a choice is close to word, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
