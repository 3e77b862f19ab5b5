"""A live dashboard and OBS overlays in the browser for one TikTok LIVE room: ``tiktok-live serve @user``.

:class:`WebServer` serves the pages (``/``, ``/overlay/chat``, ``/overlay/gifts``, ``/overlay/goal``) and an event
stream (Server-Sent Events carrying JSON Lines schema v1 objects) on the client's event loop::

    server = WebServer(unique_id="someone")
    server.attach(client)                 # every event of EVENT_TYPES now reaches every open page
    await server.start("127.0.0.1", 8080)
    await client.connect()

:class:`EventHub` fans events out with a bounded backlog; :class:`RoomState` keeps the totals the pages show.
The command line lives in :mod:`tiktok_live.web.cli`. Names load on first use, so ``tiktok-live`` starts fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiktok_live.web.app import EVENT_TYPES, WebServer
    from tiktok_live.web.hub import EventHub
    from tiktok_live.web.state import RoomState

__all__ = ["EVENT_TYPES", "EventHub", "RoomState", "WebServer"]

_HOMES = {
    "EVENT_TYPES": "tiktok_live.web.app",
    "WebServer": "tiktok_live.web.app",
    "EventHub": "tiktok_live.web.hub",
    "RoomState": "tiktok_live.web.state",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
