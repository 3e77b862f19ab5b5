"""Event summaries (codegen/summary.py): the events.toml ``summary`` format compiled to a ``_summary()`` body."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.build import BuildError, build
from codegen.load import load
from codegen.summary import Resolved, SummaryError, compile_summary
from tests.codegen.conftest import FIXTURES, ROOT

KINDS: dict[str, Resolved] = {
    "user": Resolved("user", "self.user"),
    "mood": Resolved("enum", "self.mood", "self.proto", "mood"),
    "tags": Resolved("sequence", "self.tags"),
    "count": Resolved("scalar", "self.count"),
    "text": Resolved("scalar", "self.text"),
}


def _resolve(path: tuple[str, ...]) -> Resolved:
    if path[0] not in KINDS:
        raise SummaryError(f"no field {path[0]}")
    resolved = KINDS[path[0]]
    return Resolved(resolved.kind, ".".join([resolved.expr, *path[1:]]), resolved.parent, resolved.field)


def _evaluate(code: str, **values: object) -> str:
    """Run compiled code with ``self`` bound to a namespace and the two helpers stubbed."""

    class Self:
        proto = "proto"

    for name, value in values.items():
        setattr(Self, name, value)
    namespace = {
        "self": Self(),
        "user_label": lambda user: f"<{user}>",
        "enum_label": lambda message, field: f"{message}.{field}",
    }
    result = eval(code, namespace)
    assert isinstance(result, str)
    return result


def test_each_kind_prints_its_way() -> None:
    compiled = compile_summary("{user}: {mood} {tags} {count:03d} {text!r}", _resolve)
    assert compiled.helpers == ("enum_label", "user_label")
    text = _evaluate(compiled.code, user="alice", mood=1, tags=[1, 2], count=7, text="hi")
    assert text == "<alice>: proto.mood 2 007 'hi'"


def test_optional_segments_show_only_when_every_value_is_set() -> None:
    code = compile_summary("{count} likes[ by {text}][ ({tags} tags)]", _resolve).code
    assert _evaluate(code, count=3, text="bob", tags=[1]) == "3 likes by bob (1 tags)"
    assert _evaluate(code, count=3, text="", tags=[]) == "3 likes"
    assert _evaluate(code, count=0, text="x", tags=[]) == "0 likes by x"


def test_literal_braces_brackets_and_quotes_survive() -> None:
    code = compile_summary('say "{text}" {{raw}} [[x]] \\ done', _resolve).code
    assert _evaluate(code, text="hi") == 'say "hi" {raw} [x] \\ done'
    assert _evaluate(compile_summary("only text {{ }}", _resolve).code) == "only text { }"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{count", "expected '}'"),
        ("[{count}", "unclosed '\\['"),
        ("{count}]", "unbalanced '\\]'"),
        ("[a [{count}]]", "do not nest"),
        ("[plain]", "no placeholder"),
        ("{tags[0]}", "not an attribute path"),
        ("{count.if}", "keyword"),
        ("{nope}", "no field nope"),
        ("{count:{width}}", "nested format specs"),
        ("", "empty summary"),
    ],
)
def test_bad_formats_are_rejected_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(SummaryError, match=message):
        compile_summary(text, _resolve)


def _build_with(tmp_path: Path, summary: str) -> None:
    events = tmp_path / "events.toml"
    events.write_text(f'[WebcastSocialMessage]\nmixin = "SocialMixin"\nsummary = "{summary}"\n', encoding="utf-8")
    build(load(FIXTURES / "proto", events, ROOT / "sdk" / "_base.py"))


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        ("{common}", "a whole CommonMessageData message does not print"),
        ("{user.avatar}", "User has no field 'avatar'"),
        ("{user.nickname.x}", "user.nickname is not a message"),
        ("{display_key.x}", "display_key is not a message"),
        ("{followers}", "no field or convenience property 'followers'"),
    ],
)
def test_the_build_names_the_event_and_the_bad_path(tmp_path: Path, summary: str, message: str) -> None:
    with pytest.raises(BuildError, match=rf"\[WebcastSocialMessage\] summary: .*{message}"):
        _build_with(tmp_path, summary)


def test_paths_resolve_through_fields_mixin_properties_and_nested_messages(tmp_path: Path) -> None:
    _build_with(tmp_path, "{user} {user.nickname} {display_key} {common.msg_id} {type} {size}")
