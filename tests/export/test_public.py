"""The public surface of ``tiktok_live.pool``, ``tiktok_live.export`` and ``tiktok_live.export.cli``: every name is
documented, and the export package imports without its optional dependencies being used."""

from __future__ import annotations

import inspect
import subprocess
import sys
from types import ModuleType

import pytest

import tiktok_live.export
import tiktok_live.export.cli
import tiktok_live.pool

MODULES = [tiktok_live.pool, tiktok_live.export, tiktok_live.export.cli]


def public_members(module: ModuleType) -> list[tuple[str, object]]:
    """Each name of ``module.__all__``, and each public method and property of the classes among them."""
    members: list[tuple[str, object]] = []
    for name in module.__all__:
        value = getattr(module, name)
        members.append((name, value))
        if inspect.isclass(value) and value.__module__.startswith("tiktok_live"):
            for attr, member in vars(value).items():
                if not attr.startswith("_") and (inspect.isfunction(member) or isinstance(member, property)):
                    members.append((f"{name}.{attr}", member))
    return members


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_every_public_name_has_a_docstring(module: ModuleType) -> None:
    assert module.__doc__
    constants = (int, float, str, tuple, dict)
    missing = [
        name
        for name, value in public_members(module)
        if not isinstance(value, constants) and not (getattr(value, "__doc__", None) or "").strip()
    ]
    assert not missing


def test_the_export_package_does_not_import_redis_or_nats() -> None:
    code = "import sys, tiktok_live.export, tiktok_live.pool; print(sorted({'redis', 'nats'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("nats://TOKEN123@127.0.0.1:4222?subject=a", "TOKEN123"),
        ("redis://user:PW123@127.0.0.1:6379/0?stream=s", "PW123"),
        ("redis://127.0.0.1:6379/0?password=PW456", "PW456"),
    ],
)
def test_secrets_in_sink_urls_never_reach_names_or_errors(url: str, secret: str) -> None:
    from tiktok_live.export import open_sink

    try:
        text = open_sink(url).name
    except ValueError as error:
        text = str(error)
    assert secret not in text and "***" in text
