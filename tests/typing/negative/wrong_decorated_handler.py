# expect: arg-type
"""Decorating a GiftEvent handler with @client.on(CommentEvent) must fail mypy."""

from tiktok_live import TikTokLiveClient
from tiktok_live.events import CommentEvent, GiftEvent

client = TikTokLiveClient("@someone")


@client.on(CommentEvent)
def on_gift(event: GiftEvent) -> None:
    print(event.gift.name)
