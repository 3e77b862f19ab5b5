"""Lazy module attributes: names that import their module on first use (PEP 562), so that importing a package
stays cheap while mypy sees ordinary imports under ``TYPE_CHECKING``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["lazy_attributes"]


def lazy_attributes(
    module_name: str, lazy: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of module ``module_name`` for ``lazy`` (attribute name → the module that
    defines it). A name is imported once, on first access, then cached in the module's namespace."""

    def __getattr__(name: str) -> object:
        source = lazy.get(name)
        if source is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value: object = getattr(importlib.import_module(source), name)
        setattr(sys.modules[module_name], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module_name])) | set(lazy))

    return __getattr__, __dir__
