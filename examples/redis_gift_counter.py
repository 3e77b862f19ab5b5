"""Count gifts per room from the tiktok-live Redis stream, in a process of its own.

    tiktok-live watch @a @b @c --to redis://localhost:6379/0          # the exporter
    python examples/redis_gift_counter.py redis://localhost:6379/0 worker-1  # start more with other names to scale out

Workers share the consumer group ``gift-counter``: each entry goes to one of them. Records are at least once, so
keep a set of (room_id, msg_id, type) to skip copies. A gift counts once its streak is over (``streaking`` false).
"""

import asyncio
import json
import sys
from collections import Counter

import redis.asyncio as redis


async def main(url: str, consumer: str, stream: str = "tiktok-live", group: str = "gift-counter") -> None:
    client = redis.from_url(url, decode_responses=True)
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError:
        pass  # the group exists: another worker made it
    gifts: Counter[str] = Counter()
    seen: set[tuple[str, str, str]] = set()
    while reply := await client.xreadgroup(group, consumer, {stream: ">"}, count=100, block=2000):
        for entry_id, fields in reply[0][1]:
            event = json.loads(fields["event"])
            key = (event["room_id"], event["msg_id"], event["type"])
            if event["type"] == "GiftEvent" and not event["derived"]["streaking"] and key not in seen:
                seen.add(key)
                gifts[event["room_id"]] += int(event["data"].get("repeat_count", 1))
            await client.xack(stream, group, entry_id)
    for room_id, count in gifts.most_common():  # idle for 2 s: print the totals and stop
        sys.stdout.write(f"{room_id} {count}\n")
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "worker-1"))
