"""The public surface: ``tiktok_live.events`` (lazy), ``tiktok_live.errors`` and the import-time budget."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import tiktok_live
import tiktok_live.errors as errors
import tiktok_live.events as ev
from tiktok_live import _derived
from tiktok_live._base import BaseEvent
from tiktok_live._generated import events as generated_events
from tiktok_live._generated.names import EVENT_NAMES
from tiktok_live._generated.registry import REGISTRY
from tiktok_live._protocol import decode_message

WEBCAST_PB2 = "tiktok_live._generated.pb.webcast_pb2"
DERIVED_EVENTS = sorted(name for name in _derived.__all__ if name.endswith("Event"))


def _fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter (nothing imported yet) and return its stdout."""
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True, timeout=60
    )
    return completed.stdout.strip()


def test_all_names_resolve() -> None:
    assert len(ev.__all__) == len(set(ev.__all__)), "duplicates in __all__"
    for name in ev.__all__:
        assert getattr(ev, name) is not None, name


def test_dir_lists_all_names() -> None:
    assert set(ev.__all__) <= set(dir(ev))


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="NoSuchEvent"):
        ev.NoSuchEvent  # noqa: B018
    assert not hasattr(ev, "CommentMessage")
    with pytest.raises(ImportError):
        exec("from tiktok_live.events import NoSuchEvent", {})


def test_names_are_the_real_objects() -> None:
    assert ev.REGISTRY is REGISTRY
    assert ev.decode_message is decode_message
    assert ev.BaseEvent is BaseEvent is tiktok_live.BaseEvent
    assert ev.UnknownEvent is tiktok_live.UnknownEvent
    for name in EVENT_NAMES:
        assert getattr(ev, name) is getattr(generated_events, name)
    for name in DERIVED_EVENTS:
        assert getattr(ev, name) is getattr(_derived, name)


def test_event_names_match_the_registry() -> None:
    assert len(EVENT_NAMES) == len(set(EVENT_NAMES))
    assert set(EVENT_NAMES) == {cls.__name__ for cls in REGISTRY.values()}
    assert set(EVENT_NAMES) == set(generated_events.__all__)


def test_every_public_event_is_an_event() -> None:
    for name in ev.__all__:
        if name.endswith("Event"):
            value = getattr(ev, name)
            assert isinstance(value, type) and issubclass(value, BaseEvent), name


def test_lazy_names() -> None:
    """In a fresh interpreter, exactly the generated and derived events (plus REGISTRY and decode_message) load on
    first use; nothing else in ``__all__`` needs the schema."""
    out = _fresh_python(
        """
        import json, sys
        import tiktok_live.events as ev
        lazy = sorted(name for name in ev.__all__ if name not in vars(ev))
        print(json.dumps({"lazy": lazy, "schema_loaded": "tiktok_live._generated.pb.webcast_pb2" in sys.modules}))
        """
    )
    report = json.loads(out)
    assert report["schema_loaded"] is False, "import tiktok_live.events must not load the protobuf schema"
    assert sorted(report["lazy"]) == sorted([*DERIVED_EVENTS, *EVENT_NAMES, "REGISTRY", "decode_message"])


def test_first_use_loads_the_schema() -> None:
    out = _fresh_python(
        f"""
        import sys
        import tiktok_live.events as ev
        before = {WEBCAST_PB2!r} in sys.modules
        ev.GiftEvent
        print(before, {WEBCAST_PB2!r} in sys.modules, "GiftEvent" in vars(ev))
        """
    )
    assert out == "False True True"


def test_import_tiktok_live_does_not_load_the_schema() -> None:
    out = _fresh_python(f"import tiktok_live, sys; print({WEBCAST_PB2!r} in sys.modules)")
    assert out == "False"


def test_errors_tree() -> None:
    assert errors.__all__
    for name in errors.__all__:
        error = getattr(errors, name)
        assert isinstance(error, type) and issubclass(error, errors.TikTokLiveError), name
        assert issubclass(error, Exception)
        assert getattr(tiktok_live, name) is error, f"tiktok_live.{name} should be exported"
    assert issubclass(errors.SignatureRateLimitError, errors.SignAPIError)
    assert issubclass(errors.SignAPIKeyError, errors.SignAPIError)
    assert errors.SignatureRateLimitError("slow down", retry_after=3.0).retry_after == 3.0


def test_top_level_all_resolves() -> None:
    for name in tiktok_live.__all__:
        assert hasattr(tiktok_live, name), name
