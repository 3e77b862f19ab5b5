"""Prometheus metrics of a fleet worker (``--metrics PORT``; needs the ``metrics`` extra: prometheus-client)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from tiktok_live.fleet._worker import Worker

__all__ = ["serve_metrics"]


def _collector(worker: Worker) -> Collector:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import Collector

    class WorkerCollector(Collector):
        """Reads the worker's counters at every scrape (nothing is updated on the hot path)."""

        def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
            labels = ["worker"]
            held = GaugeMetricFamily("tiktok_live_fleet_rooms_held", "Rooms this worker holds.", labels=labels)
            held.add_metric([worker.name], len(worker.rooms))
            yield held
            capacity = GaugeMetricFamily("tiktok_live_fleet_capacity", "Rooms this worker may hold.", labels=labels)
            capacity.add_metric([worker.name], worker.capacity)
            yield capacity
            by_state = GaugeMetricFamily(
                "tiktok_live_fleet_rooms", "Rooms this worker holds, by state.", labels=["worker", "state"]
            )
            states: dict[str, int] = {}
            for state in worker.rooms.values():
                states[state] = states.get(state, 0) + 1
            for state, count in sorted(states.items()):
                by_state.add_metric([worker.name, state], count)
            yield by_state
            for name, help_text, value in (
                ("tiktok_live_fleet_events", "Events committed or exported.", worker.events),
                ("tiktok_live_fleet_commits", "Frames committed (events and snapshot in one script).", worker.commits),
                ("tiktok_live_fleet_reconnects", "Reconnects of this worker's clients.", worker.reconnects),
                ("tiktok_live_fleet_sign_budget_waits", "Sign requests that waited for the budget.", worker.sign_waits),
                (
                    "tiktok_live_fleet_lease_renewals_failed",
                    "Lease renewals that failed.",
                    worker.renewals_failed,
                ),
            ):
                counter = CounterMetricFamily(name, help_text, labels=labels)
                counter.add_metric([worker.name], value)
                yield counter

    return WorkerCollector()


async def serve_metrics(worker: Worker, port: int, host: str = "0.0.0.0") -> web.AppRunner:
    """Serve ``GET /metrics`` (Prometheus text format) for ``worker``; returns the runner to clean up."""
    try:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    except ImportError as error:
        raise ValueError('--metrics needs prometheus-client: pip install "tiktok-live[metrics]"') from error
    registry = CollectorRegistry()
    registry.register(_collector(worker))

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
