"""Property: the reporter never raises, whatever bytes it is fed, from survey to rendering to the proposal."""

from __future__ import annotations

import json
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.schema.conftest import field_bytes
from tiktok_live.events import REGISTRY
from tiktok_live.schema import Survey, propose
from tiktok_live.schema._wire import classify, render, to_json

METHODS = sorted(REGISTRY)
methods = st.one_of(st.sampled_from(METHODS), st.text(min_size=1, max_size=30))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(methods, st.binary(max_size=512)), min_size=1, max_size=4))
def test_the_reporter_never_raises_on_arbitrary_bytes(items: list[tuple[str, bytes]]) -> None:
    survey = Survey()
    for method, payload in items:
        survey.add_payload(method, payload)
    assert survey.messages == len(items)
    survey.render_text()
    json.dumps(survey.to_dict(["x"]))
    tomllib.loads(propose(survey))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=100, max_value=10_000), st.binary(max_size=256))
def test_arbitrary_bytes_under_an_undeclared_number_render_and_propose(number: int, data: bytes) -> None:
    survey = Survey()
    survey.add_payload("WebcastChatMessage", field_bytes(number, data))
    value = classify(data)
    render(value)
    json.dumps(to_json(value))
    assert survey.with_undeclared == 1
    tomllib.loads(propose(survey))
