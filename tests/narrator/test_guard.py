"""The word guard: it blocks advisory, causal and ranking words in templates at load and in rendered output,
lets the agent's own echoed text through, and its word list can be replaced at run time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import FileSystemLoader

from seam.config import Settings, load_config
from seam.errors import ConfigError, GuardViolation
from seam.narrator import (
    DEFAULT_WORDS,
    ENV,
    GUARD_NAME,
    Guard,
    WordRefused,
    build_environment,
    check_templates,
    render,
    set_words,
)
from seam.narrator.guard import ECHO_CLOSE, ECHO_OPEN, _blank_whole
from seam.respond import mark_replay, render_response, render_template
from tests.conftest import make_seam


def _env(tmp_path: Path, **templates: str):
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    for name, text in templates.items():
        (folder / f"{name}.md.j2").write_text(text, encoding="utf-8")
    return build_environment(FileSystemLoader(folder), Guard(DEFAULT_WORDS))


def test_a_template_holding_recommend_is_refused_when_it_is_loaded(tmp_path):
    env = _env(tmp_path, advice="# Facts\n\nWe recommend a smaller size.\n")
    with pytest.raises(WordRefused) as refused:
        env.get_template("advice.md.j2")
    assert refused.value.word == "recommend"
    assert refused.value.guard == GUARD_NAME
    assert isinstance(refused.value, GuardViolation)
    with pytest.raises(WordRefused):
        check_templates(env)


def test_a_word_inside_a_jinja_comment_is_not_output_and_passes(tmp_path):
    env = _env(tmp_path, noted="{# no 'because' reaches a reader from here #}Facts only.\n")
    assert render("noted", {}, env=env) == "Facts only.\n"


def test_an_output_holding_because_is_refused_and_the_refusal_never_quotes_the_text(tmp_path):
    env = _env(tmp_path, reason="# Result\n\n{{ reason }}\n")
    with pytest.raises(WordRefused) as refused:
        render("reason", {"reason": "The stop moved because the spread widened."}, env=env)
    assert refused.value.word == "because"
    assert "spread widened" not in str(refused.value)
    assert "reason" in str(refused.value)  # names the template


@pytest.mark.parametrize("text", ["Because of it", "BECAUSE", "a best-effort fill", "(therefore)", "Should it"])
def test_words_are_matched_whole_and_in_any_case(text):
    assert Guard().found(text) is not None


@pytest.mark.parametrize("text", ["bestow the topology", "shoulder", "considerable", "the top level must be a mapping"])
def test_longer_words_that_contain_a_guarded_word_pass(text):
    assert Guard().found(text) is None


def test_agent_text_marked_with_echo_passes_and_seam_words_around_it_still_count(tmp_path):
    env = _env(tmp_path, note="Note: {{ note | echo }}.\n", bad="Note: {{ note | echo }}, because.\n")
    assert render("note", {"note": "entered because London opened"}, env=env) == (
        "Note: entered because London opened.\n"
    )
    with pytest.raises(WordRefused):
        render("bad", {"note": "fine"}, env=env)


def test_the_agent_cannot_close_an_echo_span_early_to_hide_seam_words(tmp_path):
    env = _env(tmp_path, note="{{ note | echo }} {{ seam_text }}\n")
    smuggled = f"x{ECHO_CLOSE} {ECHO_OPEN}"
    out = render("note", {"note": smuggled, "seam_text": "plain"}, env=env)
    assert ECHO_OPEN not in out and ECHO_CLOSE not in out
    with pytest.raises(WordRefused):
        render("note", {"note": f"x{ECHO_OPEN}", "seam_text": "this is better"}, env=env)


def test_strings_named_as_echoed_are_not_read(tmp_path):
    env = _env(tmp_path, failed="Failed: {{ name }}\n")
    assert render("failed", {"name": "because-1"}, env=env, echoed=["because-1"]) == "Failed: because-1\n"
    with pytest.raises(WordRefused):
        render("failed", {"name": "because-1"}, env=env)


def test_a_short_echoed_string_does_not_hide_a_seam_word_that_contains_it(tmp_path):
    env = _env(tmp_path, failed="Failed: {{ name }}, because.\n")
    with pytest.raises(WordRefused):
        render("failed", {"name": "e"}, env=env, echoed=["e", "caus", "because-x"])


def test_every_shipped_template_passes_the_guard():
    names = check_templates()
    for mine in ("briefing", "health", "weekly_review", "trade", "error", "memory", "failed", "_banner"):
        assert mine in names


# the templates that are whole response bodies (partials start with "_"; trade is a partial of two of them;
# replay is a note above a body that has its own banner)
RESPONSE_TEMPLATES = [
    "account",
    "autopsy",
    "briefing",
    "cancel",
    "close_evidence",
    "conflict",
    "decision",
    "error",
    "evidence",
    "failed",
    "halt",
    "health",
    "memory",
    "not_available",
    "positions",
    "reconcile",
    "rejected",
    "signal_recorded",
    "status",
    "weekly_review",
]


@pytest.mark.parametrize("name", RESPONSE_TEMPLATES)
def test_every_response_template_ends_with_the_facts_banner(name):
    source = ENV.loader.get_source(ENV, f"{name}.md.j2")[0]
    included = "error.md.j2" in source  # failed is the error body
    assert '{% include "_banner.md.j2" %}' in source or included


def test_the_banner_names_the_dataset_hash_when_there_is_one():
    out = render_template("_banner", {"generated_at": "T", "sources": ["bead 4"], "dataset_sha256": "ab12"})
    assert out == "> Facts as of T · sources: bead 4 · dataset sha256 `ab12`\n"
    assert render_template("_banner", {"generated_at": "T", "sources": []}) == "> Facts as of T · sources: none\n"


def test_respond_renders_through_the_guard():
    facts = {"intent_name": "x", "what_to_do": "Nothing.", "generated_at": "T", "sources": []}
    assert "# Failed: x" in render_template("failed", {**facts, "reason": "The link is down."})
    with pytest.raises(WordRefused) as refused:
        render_template("failed", {**facts, "reason": "It failed because the link is down."})
    assert refused.value.word == "because"


def test_a_replay_note_is_rendered_through_the_guard_and_echoes_the_file_name():
    from datetime import UTC, datetime

    stored = render_response(
        intent_id="a", kind="status", status="ok", intent_sha256="0" * 64, bead=3, at=datetime.now(UTC), body="B\n"
    )
    marked = mark_replay(stored, replay_bead=9, replayed_at=datetime.now(UTC), intent_file="intents/because.yaml")
    assert "for `intents/because.yaml`" in marked and ECHO_OPEN not in marked


def test_the_word_list_can_be_replaced_at_run_time(tmp_path):
    env = _env(tmp_path, say="{{ text }}\n")
    set_words(["zebra"], env)
    assert render("say", {"text": "because"}, env=env) == "because\n"
    with pytest.raises(WordRefused) as refused:
        render("say", {"text": "a Zebra"}, env=env)
    assert refused.value.word == "zebra"


def test_a_new_word_list_that_a_template_would_trip_is_refused_and_the_old_list_stays(tmp_path):
    env = _env(tmp_path, say="The market is open: {{ text }}\n")
    with pytest.raises(ConfigError) as refused:
        set_words([*DEFAULT_WORDS, "market"], env)
    assert refused.value.key == "narrator.words" and "market" in refused.value.message
    with pytest.raises(WordRefused):
        render("say", {"text": "because"}, env=env)  # the default list is still in force


def test_the_settings_carry_the_default_list_and_a_seam_yaml_may_replace_it(tmp_path):
    assert tuple(Settings().narrator.words) == DEFAULT_WORDS
    paths = make_seam(tmp_path / "seam", "narrator:\n  words: [because, zebra]\n")
    assert load_config(paths, env={}).settings.narrator.words == ["because", "zebra"]


def test_a_halt_reason_is_the_agents_own_text_and_is_echoed():
    facts = {"halted_at": "T", "was_halted": False, "cancelled": "none", "generated_at": "T", "sources": []}
    body = render_template("halt", {**facts, "reason": "because the news is out"})
    assert "| reason | because the news is out |" in body


@given(
    st.text(alphabet="ab_ é1-.x\n", max_size=24),
    st.text(alphabet="ab_ é1-.x", min_size=1, max_size=3).filter(str.strip),
)
def test_an_echoed_string_is_blanked_where_a_whole_word_match_would_find_it(text: str, value: str) -> None:
    # the plain search the guard uses (no pattern compiled per intent id) finds what (?<!\w)value(?!\w) finds
    expected = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", " ", text)
    assert _blank_whole(text, value) == expected
