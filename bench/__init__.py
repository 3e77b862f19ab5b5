"""Benchmarks for tiktok-live (`make bench`, or `python -m bench`): never collected by pytest.

Modules: ``corpus`` (the seeded message corpus, cached in ``bench/.corpus/``), ``decode`` (rows 1-3, in
process), ``peer`` (row 4: TikTokLive 7.0.1 in its own venv, through its internals), ``serve`` (the simulator
process of rows 5-7), ``probe`` (the client process of rows 5-7), ``report`` (table, Markdown, JSON).

This package imports nothing at import time: ``peer`` runs under another interpreter without tiktok_live.
"""
