# expect: arg-type
"""A handler for the wrong event class must fail mypy."""

from tiktok_live import TikTokLiveClient
from tiktok_live.events import CommentEvent, GiftEvent

client = TikTokLiveClient("@someone")


def on_gift(event: GiftEvent) -> None:
    print(event.gift.name)


client.add_listener(CommentEvent, on_gift)
