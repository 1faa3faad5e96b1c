"""Answer: a yes/no with the reason (which binding, rule or policy decided it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        return f"{'yes' if self.allowed else 'no'}: {self.reason}"
