# expect: arg-type
"""An int used where a str is required must fail mypy."""

from tiktok_live.events import GiftEvent


def shout(text: str) -> str:
    return text.upper()


def gift_name(event: GiftEvent) -> str:
    return shout(event.repeat_count)
