"""Many machines share the rooms through Redis: ``tiktok-live fleet worker`` on each, ``fleet add`` to watch.

- **One holder per room**: a worker holds a room through a lease with a fencing token, renewed every quarter of
  the lease; a worker that cannot renew stops the room before the lease can expire.
- **Failover**: a dead worker's leases expire after ``lease`` seconds; workers with spare capacity take its rooms
  and resume each from its last committed :class:`~tiktok_live.protocol.Session` snapshot.
- **Exactly once into Redis**: with ``to`` a stream on the fleet's Redis, each frame's events and the room's new
  snapshot commit in one script guarded by the lease; other sinks get every event at least once (``msg_id`` to
  deduplicate).
- **One sign budget per key** across the fleet, in Redis; a 429 pauses every worker using that key.
- **Balance**: workers take unassigned rooms up to their fair share and capacity, and hand rooms over above it.

:class:`Worker` runs one worker; :class:`Fleet` adds and removes rooms and reads the status.
"""

from tiktok_live.fleet._admin import Fleet, FleetStatus
from tiktok_live.fleet._store import DEFAULT_PREFIX, RoomRecord, WorkerRecord
from tiktok_live.fleet._worker import DEFAULT_CAPACITY, DEFAULT_LEASE, Worker

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_LEASE",
    "DEFAULT_PREFIX",
    "Fleet",
    "FleetStatus",
    "RoomRecord",
    "Worker",
    "WorkerRecord",
]
