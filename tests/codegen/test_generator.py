"""The generator on the real schema: naming rules, determinism, markers, docs anchors, no drift, stale deletion."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest

from codegen import naming
from codegen.__main__ import generate_files
from codegen.write import write
from tests.codegen.conftest import ROOT

FILES = generate_files()


@pytest.mark.parametrize(
    ("message", "event"),
    [
        ("WebcastGiftMessage", "GiftEvent"),
        ("WebcastGoalUpdateMessage", "GoalUpdateEvent"),
        ("WebcastLinkMicBattle", "LinkMicBattleEvent"),
        ("WebcastLinkMicFanTicketMethod", "LinkMicFanTicketMethodEvent"),
        ("WebcastSubPinEventMessage", "SubPinEvent"),
        ("WebcastRoomEventMessage", "RoomEvent"),
        ("WebcastMessage", "MessageEvent"),
    ],
)
def test_event_name_rule(message: str, event: str) -> None:
    assert naming.event_name(message) == event


def test_event_name_rejects_non_webcast_names() -> None:
    with pytest.raises(ValueError, match="not a webcast message"):
        naming.event_name("ChatMessage")


def test_wire_methods_put_the_message_first() -> None:
    assert naming.wire_methods("WebcastRoomMessage") == ("WebcastRoomMessage", "RoomMessage")
    assert naming.wire_methods("WebcastX", ("Y",)) == ("WebcastX", "X", "Y")


def test_attribute_suffixes_collisions_and_keywords() -> None:
    reserved = frozenset({"type", "bytes"})
    assert [naming.attribute(n, reserved) for n in ("type", "from", "user", "match")] == [
        "type_",
        "from_",
        "user",
        "match",
    ]


def test_generation_is_deterministic() -> None:
    assert generate_files() == FILES


def test_committed_tree_matches_the_generator() -> None:
    for path, text in FILES.items():
        on_disk = (ROOT / path).read_text(encoding="utf-8")
        assert on_disk == text, f"{path} drifted: run `make generate` and commit"
    committed = {PurePosixPath(p.relative_to(ROOT).as_posix()) for p in (ROOT / "generated").rglob("*") if p.is_file()}
    committed = {p for p in committed if "__pycache__" not in p.parts}
    assert committed == {p for p in FILES if p.parts[0] == "generated"}


def test_every_generated_file_is_marked() -> None:
    for path, text in FILES.items():
        head = "\n".join(text.splitlines()[:3])
        assert "@generated" in head and "make generate" in head, path


def test_docs_have_an_anchor_for_every_registry_entry() -> None:
    docs = FILES[PurePosixPath("docs/events.md")]
    registry = FILES[PurePosixPath("generated/registry.py")]
    classes = set(re.findall(r'^\s+"[^"]+": _events\.(\w+),$', registry, re.MULTILINE))
    assert len(classes) >= 222
    headings = set(re.findall(r"^## (\w+)$", docs, re.MULTILINE))
    assert classes <= headings
    for name in classes:
        assert f"(#{name.lower()})" in docs


def test_registry_covers_every_webcast_message_and_both_spellings() -> None:
    registry = FILES[PurePosixPath("generated/registry.py")]
    keys = re.findall(r'^\s+"([^"]+)": _events\.\w+,$', registry, re.MULTILINE)
    webcast = [key for key in keys if key.startswith("Webcast")]
    assert len(webcast) >= 222
    assert {key.removeprefix("Webcast") for key in webcast} <= set(keys)


def test_write_deletes_stale_files_in_owned_folders(tmp_path: Path) -> None:
    owned = PurePosixPath("generated")
    write({owned / "a.py": "a\n", owned / "b.py": "b\n", PurePosixPath("docs/x.md"): "x\n"}, tmp_path, (owned,))
    changed = write({owned / "a.py": "a\n", PurePosixPath("docs/x.md"): "x\n"}, tmp_path, (owned,))
    assert changed == [owned / "b.py"]
    assert not (tmp_path / "generated" / "b.py").exists()
    assert write({owned / "a.py": "a\n"}, tmp_path, ()) == []
