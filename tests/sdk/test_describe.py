"""``tiktok-live events NAME`` for message and enum types (sdk/_describe.py), as a subprocess and in-process."""

from __future__ import annotations

import re

import pytest
from google.protobuf.descriptor import Descriptor

from tests.sdk.test_cli import _run
from tiktok_live._describe import describe_type, field_types, find_type, similar_types, type_names
from tiktok_live._generated.pb import webcast_pb2 as pb


async def _events(*args: str) -> tuple[int, str, str]:
    return await _run("events", *args)


async def test_events_user_shows_the_message_fields() -> None:
    code, out, err = await _events("User")
    assert code == 0, err
    assert out.startswith("User: message tiktok_live.webcast.User, ")
    assert re.search(r"^  nickname +str +string +#3$", out, re.MULTILINE)
    assert re.search(r"^  unique_id +str +string +#38$", out, re.MULTILINE)
    assert re.search(r"^  avatar_thumb +ImageModel +ImageModel +#9$", out, re.MULTILINE)


async def test_exact_type_names_win_and_loose_names_still_find_events_and_types() -> None:
    code, out, _ = await _events("Gift")  # the message; `gift` is the event
    assert code == 0 and out.startswith("Gift: message") and "diamond_count" in out
    code, out, _ = await _events("gift")
    assert code == 0 and out.startswith("GiftEvent:")
    code, out, _ = await _events("imagemodel")  # no event by that name: the type, case-insensitively
    assert code == 0 and out.startswith("ImageModel: message")


async def test_enums_and_nested_types() -> None:
    code, out, _ = await _events("WebcastLinkMicBattle.BattleAction")
    assert code == 0
    assert out.startswith("WebcastLinkMicBattle.BattleAction: enum")
    assert re.search(r"^  BATTLE_ACTION_OPEN +\= 4$", out, re.MULTILINE)


async def test_an_unknown_name_exits_2_with_close_type_names() -> None:
    code, out, err = await _events("Usr")
    assert code == 2 and out == ""
    assert "unknown event 'Usr'" in err and "close type names: User" in err


def test_the_index_holds_nested_types_and_no_map_entries() -> None:
    names = type_names()
    assert {"User", "Gift", "ImageModel", "WebcastChatMessage.CommentTag", "User.OwnRoom"} <= set(names)
    # A map field's entry type (WebcastLinkMicBattle.BattleResultEntry) is protobuf plumbing, not a type of ours.
    assert "WebcastLinkMicBattle.BattleResultEntry" not in names
    messages = [found[1] for name in names if (found := find_type(name)) and isinstance(found[1], Descriptor)]
    assert messages and not [message for message in messages if message.GetOptions().map_entry]
    assert names == sorted(names)
    assert find_type("user") is None and find_type("user", exact=False) == find_type("User")
    assert similar_types("ImageModle")[0] == "ImageModel"


def test_field_types_match_the_reference() -> None:
    fields = pb.WebcastChatMessage.DESCRIPTOR.fields_by_name
    assert field_types(fields["user"]) == ("User", "User")
    assert field_types(fields["emotes"]) == ("Sequence[EmoteWithIndex]", "repeated EmoteWithIndex")
    assert field_types(fields["comment_tag"]) == (
        "Sequence[WebcastChatMessage.CommentTag (int)]",
        "repeated WebcastChatMessage.CommentTag",
    )
    battle = pb.WebcastLinkMicBattle.DESCRIPTOR.fields_by_name
    assert field_types(battle["battle_result"]) == ("Mapping[int, BattleResult]", "map<int64, BattleResult>")


@pytest.mark.parametrize("name", ["User", "WebcastChatMessage.CommentTag"])
def test_describe_counts_fields_and_values(name: str) -> None:
    found = find_type(name)
    assert found is not None
    text = describe_type(*found)
    lines = text.splitlines()
    count = int(re.findall(r", (\d+) (?:fields|values)", lines[0])[0])
    assert len([line for line in lines if line.startswith("  ")]) == count
