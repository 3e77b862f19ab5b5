# expect: attr-defined
"""A misspelled field must fail mypy."""

from tiktok_live.events import CommentEvent


def text(event: CommentEvent) -> str:
    return event.contnet
