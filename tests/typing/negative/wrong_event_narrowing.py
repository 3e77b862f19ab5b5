# expect: attr-defined
"""A LikeEvent has no comment: reading one after narrowing to LikeEvent must fail mypy."""

from tiktok_live import BaseEvent
from tiktok_live.events import LikeEvent


def describe(event: BaseEvent) -> str:
    if isinstance(event, LikeEvent):
        return event.comment
    return ""
