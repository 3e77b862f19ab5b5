"""Payloads with fields the schema does not declare, built from the generated classes plus raw wire bytes.

``chat_payload()`` is a WebcastChatMessage carrying, besides its declared fields:

- depth 1 (the message itself): #300 varint 7, #301 text "hello world", #302 a nested message {1: 5, 2: "x"},
  #303 binary bytes (not UTF-8, not a message), #304 twice (a repeated varint);
- depth 3 (chat.user.follow_info, a FollowInfo): #9 varint 11, and #2 (declared ``int64 follower_count``) sent
  length-delimited, which protobuf cannot place in the declared field.

``new_method_payload()`` is a message of a method no class knows: the common block, #2 text, #3 varint.
"""

from __future__ import annotations

from typing import Final

from tests.sdk.test_unknown import ldelim, vint
from tiktok_live._generated.pb import webcast_pb2 as pb

NEW_METHOD: Final = "WebcastBrandNewMessage"
BINARY: Final = b"\xff\xfe\x00\x01\x80"


def field_varint(number: int, value: int) -> bytes:
    """One varint field (wire type 0)."""
    return vint(number, value)


def field_bytes(number: int, data: bytes) -> bytes:
    """One length-delimited field (wire type 2)."""
    return ldelim(number, data)


def chat_payload() -> bytes:
    """The WebcastChatMessage described in the module docstring."""
    chat = pb.WebcastChatMessage(content="hi")
    chat.common.method = "WebcastChatMessage"
    chat.common.msg_id = 1
    chat.user.id = 42
    chat.user.nickname = "alice"
    chat.user.follow_info.following_count = 3
    chat.user.follow_info.MergeFromString(field_varint(9, 11) + field_bytes(2, b"many"))
    top = (
        field_varint(300, 7)
        + field_bytes(301, b"hello world")
        + field_bytes(302, field_varint(1, 5) + field_bytes(2, b"x"))
        + field_bytes(303, BINARY)
        + field_varint(304, 1)
        + field_varint(304, 2)
    )
    return chat.SerializeToString() + top


def new_method_payload() -> bytes:
    """A payload of ``NEW_METHOD``: its common block, #2 text, #3 varint."""
    common = pb.CommonMessageData(method=NEW_METHOD, msg_id=7, room_id=9, create_time=1_700_000_000_000)
    return field_bytes(1, common.SerializeToString()) + field_bytes(2, b"a new thing") + field_varint(3, 12)
