"""Naming rules: the public names of generated events and attributes. These rules are public API.

- Wire method -> event class: ``codegen/events.toml`` names an event explicitly (TikTokLive's names:
  ``WebcastChatMessage`` -> ``CommentEvent``); otherwise strip ``Webcast``, strip a trailing ``Message`` and add
  ``Event`` unless the rest already ends in ``Event`` (``WebcastGoalUpdateMessage`` -> ``GoalUpdateEvent``,
  ``WebcastLinkMicBattle`` -> ``LinkMicBattleEvent``).
- Every ``Webcast*`` method is also registered without its prefix (``RoomMessage``, ``LinkMicMethod``): TikTok
  sends some methods that way and the envelope's method string is the lookup key.
- A field whose name collides with an event attribute or a Python keyword gets a trailing ``_`` (``type_``).
"""

from __future__ import annotations

import keyword

PREFIX = "Webcast"


def event_name(message: str) -> str:
    """The default event class name of a ``Webcast*`` message."""
    if not message.startswith(PREFIX) or len(message) == len(PREFIX):
        raise ValueError(f"not a webcast message name: {message!r}")
    stem = message.removeprefix(PREFIX)
    if stem.endswith("Message") and stem != "Message":
        stem = stem.removesuffix("Message")
    return stem if stem.endswith("Event") else f"{stem}Event"


def wire_methods(message: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every method string that maps to ``message``: its own name first, then without ``Webcast``, then ``extra``."""
    others = {message.removeprefix(PREFIX), *extra} - {message}
    return (message, *sorted(others))


def attribute(name: str, reserved: frozenset[str]) -> str:
    """The Python attribute for a proto field: ``name``, or ``name_`` where it would collide."""
    if keyword.iskeyword(name) or name in reserved:
        return f"{name}_"
    return name
