"""A typed bot, as users write one. `make typecheck` runs mypy --strict on this file; it must pass."""

from __future__ import annotations

import asyncio
from typing import assert_type

from tiktok_live import EventStream, TikTokLiveClient
from tiktok_live.events import (
    CommentEvent,
    ConnectEvent,
    DisconnectEvent,
    ErrorEvent,
    FollowEvent,
    GiftEvent,
    LikeEvent,
    ReconnectEvent,
)

client = TikTokLiveClient("@someone")


@client.on(ConnectEvent)
async def on_connect(event: ConnectEvent) -> None:
    print(f"connected to @{event.unique_id} (room {event.room_id})")


@client.on(CommentEvent)
def on_comment(event: CommentEvent) -> None:
    print(f"{event.user.nickname}: {event.comment}")


@client.on(GiftEvent)
async def on_gift(event: GiftEvent) -> None:
    if not event.streaking:
        print(f"{event.from_user.unique_id} sent {event.repeat_count}x {event.gift.name} = {event.diamonds} diamonds")


def on_follow(event: FollowEvent) -> None:
    print(f"{event.user.nickname} followed")


client.add_listener(FollowEvent, on_follow)


@client.on(ReconnectEvent)
def on_reconnect(event: ReconnectEvent) -> None:
    assert_type(event.gap, float)
    print(f"reconnecting (attempt {event.attempt}) after {event.gap:.1f} s without frames")


@client.on(ErrorEvent)
def on_error(event: ErrorEvent) -> None:
    assert_type(event.exception, BaseException)


@client.on(DisconnectEvent)
def on_disconnect(event: DisconnectEvent) -> None:
    assert_type(event.code, int | None)


async def count_likes() -> int:
    """The async-iterator form."""
    total = 0
    async with TikTokLiveClient("someone") as live:
        stream = live.stream(LikeEvent, maxsize=100)
        assert_type(stream, EventStream[LikeEvent])
        async for like in stream:
            total += like.count
    return total


async def comments_and_gifts() -> None:
    async with TikTokLiveClient("someone") as live:
        async for event in live.stream(CommentEvent, GiftEvent):
            if isinstance(event, CommentEvent):
                print(event.comment)
            else:
                print(event.gift.name)


if __name__ == "__main__":
    asyncio.run(count_likes())
