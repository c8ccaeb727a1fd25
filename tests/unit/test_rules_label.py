"""Label templates and display-name cleaning."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules import LABEL_FIELDS, MAX_NAME_LENGTH, BridgePolicy, clean_name, validate_label
from rules.label import compile_label, format_label, join_label, split_label

VALUES = {
    "author": "Ann",
    "network": "slack",
    "account": "slack.work",
    "room": "gen",
    "bridge": "b",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{author} · {network}", "Ann · slack"),
        ("{author} ({account}/{room}) [{bridge}]", "Ann (slack.work/gen) [b]"),
        ("", ""),
        ("plain", "plain"),
        ("{{literal}} {author}", "{literal} Ann"),
        ("{author:>5}|", "  Ann|"),
        ("{author}{author}", "AnnAnn"),
    ],
)
def test_valid_templates(template: str, expected: str) -> None:
    validate_label(template)
    parts = compile_label(template)
    assert format_label(parts, VALUES) == expected
    chunks, specs = split_label(parts, VALUES)
    assert join_label(chunks, specs, "Ann") == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{user}", r"unknown field \{user\}"),
        ("{}", r"unknown field \{\}"),
        ("{0}", r"unknown field \{0\}"),
        ("{author.__class__}", "unknown field"),
        ("{author[0]}", "unknown field"),
        ("{author!r}", "conversions"),
        ("{author:{room}}", "nested"),
        ("{author:d}", "bad format spec"),
        ("{author", "literal braces"),
        ("author}", "literal braces"),
    ],
)
def test_invalid_templates(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_label(template)


def test_unknown_field_error_names_every_valid_field() -> None:
    with pytest.raises(ValueError) as info:
        validate_label("{nick}")
    for name in LABEL_FIELDS:
        assert "{" + name + "}" in str(info.value)


def test_bridge_policy_rejects_a_bad_label() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        BridgePolicy("b", "{who}", ())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Alice", "Alice"),
        ("Alice\nSmith", "Alice Smith"),
        ("Alice\r\n\tSmith", "Alice Smith"),
        ("  padded  ", "padded"),
        ("evil\u202etxt.exe", "eviltxt.exe"),  # right-to-left override
        ("zero\u200bwidth", "zerowidth"),
        ("a\x00b\x1bc\x7f", "a b c"),
        ("line\u2028sep", "line sep"),
        ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),
        ("José Núñez", "José Núñez"),
        ("\n\n", ""),
        ("a\ud800b", "ab"),  # a lone surrogate could not be encoded for sending
    ],
)
def test_clean_name(name: str, expected: str) -> None:
    assert clean_name(name) == expected


def test_clean_name_caps_length() -> None:
    cleaned = clean_name("x" * 500)
    assert len(cleaned) == MAX_NAME_LENGTH
    assert cleaned.endswith("…")
    assert clean_name("y" * MAX_NAME_LENGTH) == "y" * MAX_NAME_LENGTH


@given(st.text())
def test_clean_name_is_one_safe_line(name: str) -> None:
    cleaned = clean_name(name)
    assert len(cleaned) <= MAX_NAME_LENGTH
    assert "\n" not in cleaned and "\r" not in cleaned
    for ch in cleaned:
        assert ch == " " or not ch.isspace()
        assert unicodedata.category(ch) not in ("Cc", "Zl", "Zp", "Cs")
        assert unicodedata.category(ch) != "Cf" or ch in "\u200c\u200d"
    assert clean_name(cleaned) == cleaned
