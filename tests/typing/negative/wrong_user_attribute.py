# expect: attr-defined
"""Users have `nickname` and `unique_id`; the reference schema's `nick_name` is gone."""

from tiktok_live.events import JoinEvent


def who(event: JoinEvent) -> str:
    return event.user.nick_name
