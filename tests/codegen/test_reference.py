"""The generated Events reference (docs/events.md) on the real schema: nested types, enums, links, connection
events and summaries."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import pytest

from codegen.__main__ import generate_files
from tiktok_live import events
from tiktok_live._connection import ConnectEvent, DisconnectEvent, ErrorEvent, ReconnectEvent

DOCS = generate_files()[PurePosixPath("docs/events.md")]
ANCHORS = set(re.findall(r'<a id="([^"]+)"></a>', DOCS)) | {
    heading.lower() for heading in re.findall(r"^## (\w+)$", DOCS, re.MULTILINE)
}


def _section(heading: str) -> str:
    """The text of a `#### heading` (message or enum) or `## heading` (event) section."""
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", DOCS, re.MULTILINE | re.DOTALL)
    assert match is not None, f"no section {heading}"
    return match.group(1)


def test_every_link_in_the_reference_has_its_anchor() -> None:
    links = set(re.findall(r"\]\(#([^)]+)\)", DOCS))
    assert len(links) > 500
    assert links - ANCHORS == set()


def test_anchors_are_unique() -> None:
    ids = re.findall(r'<a id="([^"]+)"></a>', DOCS)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("message", "field", "number"),
    [("User", "nickname", 3), ("User", "unique_id", 38), ("Gift", "diamond_count", 12), ("ImageModel", "m_urls", 1)],
)
def test_nested_message_types_are_documented_with_their_fields(message: str, field: str, number: int) -> None:
    assert f'<a id="type-{message.lower()}"></a>' in DOCS
    assert re.search(rf"^\| `{field}` \| .* \| {number} \|", _section(message), re.MULTILINE)


def test_field_types_link_to_their_message_and_enum_sections() -> None:
    comment = _section("CommentEvent")
    assert "| `user` | [`User`](#type-user) | 2 |" in comment
    assert "[`Sequence[WebcastChatMessage.CommentTag]`](#type-webcastchatmessage.commenttag)" in comment
    battle = _section("LinkMicBattleEvent")
    assert "[`WebcastLinkMicBattle.BattleAction`](#type-webcastlinkmicbattle.battleaction)" in battle
    assert "`Mapping[int, BattleResult]`](#type-battleresult)" in battle
    user = _section("User")
    assert "[`ImageModel`](#type-imagemodel)" in user


def test_enums_reached_only_through_nested_messages_are_listed() -> None:
    # BattleAction is an event's own field; CommentTag nested in the event; values listed with their numbers.
    assert "`BATTLE_ACTION_OPEN` = 4" in _section("WebcastLinkMicBattle.BattleAction")
    nested_only = [
        name
        for name in re.findall(r'<a id="type-([^"]+)"></a>\n\n#### (\S+)', DOCS)
        if name[1] not in DOCS.split("## Messages")[0]
    ]
    assert nested_only, "some types are reached only through other messages"


@pytest.mark.parametrize(
    ("cls", "attributes"),
    [
        (ConnectEvent, ("unique_id", "room_id")),
        (DisconnectEvent, ("code", "reason")),
        (ReconnectEvent, ("attempt", "delay", "gap", "reason")),
        (ErrorEvent, ("exception", "event")),
    ],
)
def test_connection_events_list_their_attributes(cls: type, attributes: tuple[str, ...]) -> None:
    section = _section(cls.__name__)
    for attribute in attributes:
        assert re.search(rf"^\| `{attribute}` \| `[^`]+` \| \S", section, re.MULTILINE), attribute


def test_every_event_with_a_summary_shows_its_format() -> None:
    comment = _section("CommentEvent")
    assert "- Printed as: `CommentEvent: {user} says: {comment}`" in comment
    assert "Printed as" not in _section("LinkMicMethodEvent")


def test_counts_in_the_reference_come_from_the_generator() -> None:
    match = re.search(r"^(\d+) generated events, (\d+) wire method names", DOCS, re.MULTILINE)
    assert match is not None
    assert int(match.group(1)) == len(set(events.REGISTRY.values()))
    assert int(match.group(2)) == len(events.REGISTRY)
