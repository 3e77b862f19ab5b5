"""Find the fields of a decoded message that its schema does not declare, at any depth.

protobuf keeps every field it cannot place in the message's unknown-field set: a number the message does not
declare, or a declared number that arrives with another wire type than its declaration (then the declared field
stays unset and the value waits in the unknown set). The walk reads that set on the message and on every message
reachable through its declared fields (singular, repeated and map values).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

from tiktok_live.schema._wire import RawValue, from_unknown_set, wire_type

__all__ = ["Undeclared", "descriptor_of", "has_undeclared", "type_name", "undeclared_fields"]


@dataclass(frozen=True, slots=True)
class Undeclared:
    """The occurrences of one undeclared field number in one message instance.

    ``owner`` is the message type that lacks it (its name inside the package, ``Outer.Inner`` for nested types);
    ``path`` the declared fields leading to that message from the walked one (``name[]`` marks a repeated field,
    ``name{}`` a map's values); ``declared`` the name of the declared field with this number when the wire type
    differs from its declaration, else None; ``values`` every occurrence, in wire order.
    """

    owner: str
    path: tuple[str, ...]
    number: int
    values: tuple[RawValue, ...]
    declared: FieldDescriptor | None

    @property
    def wire_type(self) -> int:
        """The wire type of the first occurrence (occurrences of one number rarely disagree)."""
        return wire_type(self.values[0])


def descriptor_of(message: Message | type[Message]) -> Descriptor:
    """``message.DESCRIPTOR`` typed as protobuf's descriptor API (the upb runtime's descriptors implement it)."""
    return cast("Descriptor", message.DESCRIPTOR)


def type_name(descriptor: Descriptor) -> str:
    """A message type's name inside its package: ``RoomSticker``, ``RoomNotifyMessageExtra.Background``."""
    package = descriptor.file.package
    return descriptor.full_name.removeprefix(package + ".") if package else descriptor.full_name


def undeclared_fields(message: Message, path: tuple[str, ...] = ()) -> Iterator[Undeclared]:
    """Every undeclared field in ``message`` and in the messages it holds, grouped per message instance."""
    unknown = UnknownFieldSet(message)
    if len(unknown):
        descriptor = descriptor_of(message)
        owner = type_name(descriptor)
        for number, values in from_unknown_set(unknown).items():
            yield Undeclared(owner, path, number, values, descriptor.fields_by_number.get(number))
    for step, child in _children(message):
        yield from undeclared_fields(child, (*path, step))


def _children(message: Message) -> Iterator[tuple[str, Message]]:
    """The messages ``message`` holds in its declared fields, each with the path step that reaches it."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is not None:
                for item in value.values():
                    yield f"{field.name}{{}}", item
        elif field.is_repeated:
            for item in value:
                yield f"{field.name}[]", item
        else:
            yield field.name, value


def has_undeclared(message: Message) -> bool:
    """Whether ``message`` or any message it holds carries a field its schema does not declare (stops early)."""
    return bool(len(UnknownFieldSet(message))) or any(has_undeclared(child) for _, child in _children(message))
