"""The client's fan-out (``_dispatch.Dispatcher``): what the protocol session decodes follows the handlers and
streams, a fleet worker's decode-everything switch holds across rooms, and each event reaches exactly its
handlers and streams."""

from __future__ import annotations

from tiktok_live import TikTokLiveClient
from tiktok_live.events import BaseEvent, CommentEvent, GiftEvent, LikeEvent
from tiktok_live.protocol import Session
from tiktok_live.testing import comment

from .frames import msg_frame, wire


def test_what_is_decoded_follows_handlers_and_streams() -> None:
    client = TikTokLiveClient("someone")

    def handler(event: CommentEvent) -> None: ...

    client.add_listener(CommentEvent, handler)
    stream = client.stream(GiftEvent, LikeEvent)
    assert client.session.wanted == {CommentEvent, GiftEvent, LikeEvent}
    stream.close()
    assert client.session.wanted == {CommentEvent}
    client.remove_listener(CommentEvent, handler)
    assert client.session.wanted == frozenset()


def test_decode_everything_survives_listener_changes_and_new_rooms() -> None:
    client = TikTokLiveClient("someone")
    client._decode_everything = True  # what a fleet worker sets before it connects
    client.add_listener(CommentEvent, print)
    assert client.session.wanted is None
    client._runner._new_room(7)
    assert client.session.room_id == 7 and client.session.wanted is None
    client._decode_everything = False
    client.remove_listener(CommentEvent, print)
    assert client.session.wanted == frozenset()


def test_each_event_reaches_its_handlers_and_streams_only() -> None:
    client = TikTokLiveClient("someone")
    handled: list[BaseEvent] = []
    client.add_listener(CommentEvent, handled.append)
    comments = client.stream(CommentEvent, maxsize=10)
    gifts = client.stream(GiftEvent, maxsize=10)
    data = msg_frame([wire(comment("hi"), 1)])
    client._deliver(data, client.session.receive(data))
    assert [type(event) for event in handled] == [CommentEvent] and len(comments) == 1 and len(gifts) == 0
    client._deliver(data, client.session.receive(data))  # the same message again: dropped as a duplicate
    assert len(handled) == 1


def test_a_restored_session_takes_the_current_targets() -> None:
    client = TikTokLiveClient("someone")
    client.add_listener(GiftEvent, lambda event: None)
    restored = Session.restore(Session(room_id=9).snapshot())
    client._runner._new_room(9, restored)
    assert client.session is restored and client.session.wanted == {GiftEvent}
