"""MkDocs hooks for the documentation site (``hooks:`` in mkdocs.yml; dev-only, not in the wheel).

- The package's docstrings use Sphinx roles (``:class:`RoomPool```, ``:func:`~tiktok_live.export.open_sink```),
  which Markdown renders as the role's name followed by code. The role is dropped and, for ``~``, the last
  component of the path kept, as Sphinx shows it: ``open_sink``.
- The API pages document the hand-written modules; the generated code (``tiktok_live._generated``: the event
  classes and protobuf stubs of every message) has its own reference, docs/events.md, written by the generator.
  Griffe (mkdocstrings' loader) would parse the ~1,700 message stubs on every build, which takes most of the build
  time, so its module finder skips that package.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import griffe

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):<code>(~?)([^<]+)</code>")
_SKIPPED_PACKAGE = "_generated"

_Submodules = Callable[[griffe.ModuleFinder, griffe.Module], list[tuple[tuple[str, ...], Path]]]


def _without_generated(submodules: _Submodules) -> _Submodules:
    def filtered(finder: griffe.ModuleFinder, module: griffe.Module) -> list[tuple[tuple[str, ...], Path]]:
        found = submodules(finder, module)
        if module.path != "tiktok_live":
            return found
        return [(parts, path) for parts, path in found if parts[0] != _SKIPPED_PACKAGE]

    filtered.__wrapped__ = submodules  # type: ignore[attr-defined]
    return filtered


def on_startup(**_: object) -> None:
    """Make griffe skip ``tiktok_live._generated`` (once per process)."""
    if not hasattr(griffe.ModuleFinder.submodules, "__wrapped__"):
        griffe.ModuleFinder.submodules = _without_generated(griffe.ModuleFinder.submodules)  # type: ignore[method-assign, assignment]


def _code(match: re.Match[str]) -> str:
    target = match.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if match.group(1) else target}</code>"


def on_page_content(html: str, **_: object) -> str:
    """Rewrite Sphinx roles in a rendered page (docstrings rendered by mkdocstrings included)."""
    return _ROLE.sub(_code, html)
