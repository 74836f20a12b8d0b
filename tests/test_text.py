"""The one definition of a control character (pilot/text.py), shared by forms, the API and prices."""
import pytest

from pilot.text import has_any_control_characters, has_control_characters


@pytest.mark.parametrize("text", ["plain", "two\nlines", "tab\there", "crlf\r\n", "ünïcødé ✓", ""])
def test_free_text_allows_layout_characters(text):
    assert not has_control_characters(text)


@pytest.mark.parametrize("text", ["nul\x00", "bell\x07", "esc\x1b[31m", "del\x7f", "\x0b", "\x0c", "\x1f"])
def test_free_text_refuses_the_other_control_characters(text):
    assert has_control_characters(text)


@pytest.mark.parametrize("text", ["tab\there", "new\nline", "cr\r", "nul\x00", "del\x7f"])
def test_identifiers_refuse_every_control_character(text):
    assert has_any_control_characters(text)


def test_identifiers_allow_unicode_and_punctuation():
    assert not has_any_control_characters("claude-sonnet-4@2025/05 · ü")
