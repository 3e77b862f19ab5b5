"""The documentation: every public name has a docstring, the documented loggers exist, the package and docs cite
no file outside the repository, and `make test` builds the site strictly (`make docs`)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import griffe
import pytest

import tiktok_live

ROOT = Path(__file__).resolve().parents[1]
SDK = ROOT / "sdk"


def _public_modules() -> Iterator[str]:
    """Every module of the package whose dotted name has no part starting with ``_`` (``__main__`` excluded)."""
    yield "tiktok_live"
    for info in pkgutil.walk_packages(tiktok_live.__path__, "tiktok_live."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            yield info.name


PUBLIC_MODULES = sorted(set(_public_modules()))


@pytest.fixture(scope="module")
def package() -> Iterator[griffe.Module]:
    """The package as griffe (the API reference's loader) sees it: docstrings of attributes included. The
    protobuf stubs (``_generated/pb``, ~1,700 messages; no public name lives there) are skipped: parsing them
    takes most of the time."""
    submodules = griffe.ModuleFinder.submodules

    def without_stubs(finder: griffe.ModuleFinder, module: griffe.Module) -> list[tuple[tuple[str, ...], Path]]:
        return [item for item in submodules(finder, module) if item[0][:2] != ("_generated", "pb")]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(griffe.ModuleFinder, "submodules", without_stubs)
        loaded = griffe.load("tiktok_live", resolve_aliases=True, resolve_external=False)
    assert isinstance(loaded, griffe.Module)
    yield loaded


def _missing(package: griffe.Module, module_name: str) -> Iterator[str]:
    module = importlib.import_module(module_name)
    node = package[module_name.removeprefix("tiktok_live").lstrip(".")] if module_name != "tiktok_live" else package
    if not node.docstring:
        yield f"{module_name}: the module"
    names = getattr(module, "__all__", None)
    if names is None:
        yield f"{module_name}: no __all__ (the public names of a public module must be listed)"
        return
    for name in names:
        try:
            member = node[name]
            target = member.final_target if member.is_alias else member
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            yield f"{module_name}.{name}: not found by griffe"
            continue
        if not target.docstring:
            yield f"{module_name}.{name}"
        if not target.is_class:
            continue
        for member_name, class_member in target.members.items():
            if member_name.startswith("_") or class_member.is_alias or class_member.is_attribute:
                continue  # attributes (dataclass fields) are documented in the class docstring
            if not class_member.docstring:
                yield f"{module_name}.{name}.{member_name}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_has_a_docstring(package: griffe.Module, module_name: str) -> None:
    """Names in ``__all__`` (classes, functions, constants) and the methods and properties of public classes."""
    assert list(_missing(package, module_name)) == []


def test_the_public_modules_are_found() -> None:
    expected = {"tiktok_live", "tiktok_live.client", "tiktok_live.events", "tiktok_live.errors", "tiktok_live.pool"}
    assert expected | {"tiktok_live.recording", "tiktok_live.jsonl", "tiktok_live.testing"} <= set(PUBLIC_MODULES)
    assert not [name for name in PUBLIC_MODULES if "._" in name]


def _module_name(path: Path) -> str:
    parts = path.relative_to(SDK).with_suffix("").parts
    return ".".join(["tiktok_live", *(part for part in parts if part != "__init__")])


def _loggers() -> set[str]:
    """Every logger name the package creates: ``logging.getLogger(__name__)`` or ``logging.getLogger("name")``."""
    names: set[str] = set()
    for path in SDK.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "getLogger" or len(node.args) != 1:
                continue
            argument = node.args[0]
            if isinstance(argument, ast.Name) and argument.id == "__name__":
                names.add(_module_name(path))
            elif isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.add(argument.value)
    return names


def test_every_logger_is_documented() -> None:
    page = (ROOT / "docs" / "logging.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(tiktok_live[\w.]*)` \|", page, re.MULTILINE))
    loggers = _loggers()
    assert "tiktok_live.client" in loggers
    assert loggers - documented == set(), "add these loggers to docs/logging.md"
    assert documented - loggers == set(), "docs/logging.md lists loggers the package no longer has"
    assert all(name == "tiktok_live" or name.startswith("tiktok_live.") for name in loggers)


# Files outside the repository (the shared reference folder, its facts sheet and that sheet's numbered sections)
# are never cited: the package and docs state the facts themselves. NOT_YET: the files that still do.
CITATION = re.compile(r"§|\.\./shared|facts sheet")
NOT_YET: frozenset[str] = frozenset()


def _cited() -> Iterator[str]:
    files = [ROOT / "README.md", ROOT / "mkdocs.yml"]
    for folder, patterns in (("sdk", ("*.py",)), ("docs", ("*.md",)), ("templates", ("*",)), ("generated", ("*",))):
        files.extend(path for pattern in patterns for path in (ROOT / folder).rglob(pattern) if path.is_file())
    for path in files:
        if path.suffix in (".png", ".pyc") or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), start=1):
            if CITATION.search(line) and relative not in NOT_YET:
                yield f"{relative}:{number}: {line.strip()}"


def test_no_citation_of_files_outside_the_repository() -> None:
    assert list(_cited()) == []
    fixed = [name for name in NOT_YET if not CITATION.search((ROOT / name).read_text(encoding="utf-8"))]
    assert fixed == [], "these no longer cite outside files: remove them from NOT_YET"


def test_make_test_builds_the_site_strictly() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    test_target = re.search(r"^test: (.*)$", makefile, re.MULTILINE)
    assert test_target is not None and "docs" in test_target.group(1).split()
    docs_recipe = re.search(r"^docs: .*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert docs_recipe is not None
    command = docs_recipe.group(1)
    assert "mkdocs build --strict" in command
    # --quiet hides warnings from the counter that --strict reads: a broken link would pass.
    assert "--quiet" not in command and " -q" not in command
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for check in ("omitted_files", "absolute_links", "unrecognized_links", "anchors"):
        assert re.search(rf"^  {check}: warn$", config, re.MULTILINE), check


def test_every_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s+([\w/-]+\.md)$", config, re.MULTILINE))
    pages = {path.relative_to(ROOT / "docs").as_posix() for path in (ROOT / "docs").rglob("*.md")}
    assert pages == listed
