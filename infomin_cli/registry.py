"""One name -> object table for every named thing (views, encoders, datasets, objectives, probes).

The CLI's choices, its error messages and listings like `infomin views` all read the same table,
so a new entry is usable everywhere as soon as it is registered (the timm `register_model` idea).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from infomin_cli.errors import InfominError

T = TypeVar("T")


def unknown(kind: str, name: object, names: list[str]) -> InfominError:
    """The one line for a name no entry has: the same whether the table or its cached copy
    (commands/_catalog.py) is asked."""
    return InfominError(f"unknown {kind} {name!r}; choose one of: {', '.join(names)}")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return add

    def add(self, name: str, obj: T) -> T:
        return self.register(name)(obj)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise unknown(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._items.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)
