"""Plain JSON-like data (a Kubernetes object written in config) held in a frozen spec.

`freeze` turns dicts into FrozenDict and lists into tuples, so the data is immutable,
hashable and compares by value; `thaw` gives the plain dicts and lists back, keys in the
order they were written.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping


class FrozenDict(Mapping[str, Any]):
    """An immutable mapping that keeps its keys' order; equal to another FrozenDict with the
    same items in any order."""

    __slots__ = ("_items", "_index")

    def __init__(self, items: Mapping[str, Any] | tuple[tuple[str, Any], ...] = ()):
        pairs = tuple(items.items()) if isinstance(items, Mapping) else tuple(items)
        object.__setattr__(self, "_items", pairs)
        object.__setattr__(self, "_index", dict(pairs))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FrozenDict is immutable")

    def __getitem__(self, key: str) -> Any:
        return self._index[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenDict):
            return self._index == other._index
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._index.items()))

    def __reduce__(self):
        return FrozenDict, (self._items,)

    def __repr__(self) -> str:
        return f"FrozenDict({self._index!r})"


def freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return FrozenDict(tuple((key, freeze(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value
