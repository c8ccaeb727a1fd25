"""Redaction patterns: table-driven positives and negatives, plus properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules import BUILTIN_REDACTIONS, apply_redactions, builtin_redaction, custom_redaction

EMAIL = builtin_redaction("email")
PHONE = builtin_redaction("phone")
NI = builtin_redaction("uk_ni_number")
POSTCODE = builtin_redaction("uk_postcode")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail alice@example.org please", "mail [email] please"),
        ("a.b+tag@mail.example.co.uk", "[email]"),
        ("UPPER.Case@Example.ORG", "[email]"),
        ("first o'brien@council.gov.uk", "first [email]"),
        ("end of sentence: bob@example.com.", "end of sentence: [email]."),
        ("<carol@example.net>", "<[email]>"),
        ("07700900123@sms.example", "[email]"),
        ("two: a@x.io, b@y.io", "two: [email], [email]"),
        ("josé@münchen.de", "[email]"),
    ],
)
def test_email_positives(text: str, expected: str) -> None:
    assert EMAIL.apply(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "user@localhost",
        "@alice:example.org",  # a Matrix user id, not an address
        "price is 5@3",
        "an @ sign alone",
        "no address here",
        "a@.com",
    ],
)
def test_email_negatives(text: str) -> None:
    assert EMAIL.apply(text) == text


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "+442079460958",
        "+44 (0)20 7946 0958",
        "0044 20 7946 0958",
        "07700 900123",
        "07700900123",
        "07700 900 123",
        "+44 7700 900123",
        "(020) 7946 0958",
        "(0161) 496 0000",
        "(01632) 960001",
        "0161-496-0000",
        "0161 496 0000",
        "020 7946 0958",
        "0800 123 456",
        "01632 96000",
        "+14155552671",
        "+1 415 555 2671",
        "+1 (415) 555-2671",
        "+33 1 23 45 67 89",
        "+49 30 1234567",
        "+61 2 9876 5432",
    ],
)
def test_phone_positives(phone: str) -> None:
    assert PHONE.apply(f"call {phone} today") == "call [phone] today"
    assert PHONE.apply(phone) == "[phone]"


@pytest.mark.parametrize(
    "text",
    [
        "2026",
        "3 apples",
        "in 2026 we met 12 people",
        "2026-11-25",
        "25/11/2026",
        "25.11.2026",
        "01/02/2026",
        "01 02 2026 10",
        "10:30",
        "22:00 UTC",
        "v1.2.3",
        "£1,000,000",
        "room 101",
        "12345678901",
        "order 4415551234",
        "+1 23",
        "score +3",
        "0.5 litres",
        "0800",
        "ISBN 978-3-16-148410-0",
    ],
)
def test_phone_negatives(text: str) -> None:
    assert PHONE.apply(text) == text


def test_phone_leaves_a_following_number_alone() -> None:
    assert PHONE.apply("call 07700 900123 3 times") == "call [phone] 3 times"


@pytest.mark.parametrize(
    "ni",
    [
        "QQ 12 34 56 C",
        "QQ123456C",
        "AB123456C",
        "AB 12 34 56 C",
        "AB 123456 C",
        "ab 12 34 56 c",
        "JG103759A",
        "ZY 98 76 54 D",
        "AB-12-34-56-A",
    ],
)
def test_ni_positives(ni: str) -> None:
    assert NI.apply(f"my NI is {ni}.") == "my NI is [NI number]."


@pytest.mark.parametrize(
    "text",
    [
        "DA123456C",  # D is never a first letter
        "FA123456C",
        "IA123456C",
        "QA123456C",  # Q only in HMRC's QQ specimen
        "UA123456C",
        "VA123456C",
        "AO123456C",  # O is never a second letter
        "AD123456C",
        "BG123456A",  # never-issued prefixes
        "GB123456A",
        "KN123456A",
        "NK123456A",
        "NT123456A",
        "TN123456A",
        "ZZ123456A",
        "AB123456E",  # suffix is A-D
        "AB1234567C",
        "AB12345C",
        "XAB123456C",
        "AB123456CD",
    ],
)
def test_ni_negatives(text: str) -> None:
    assert NI.apply(text) == text


@pytest.mark.parametrize(
    "postcode",
    [
        "SW1A 1AA",
        "M1 1AE",
        "B33 8TH",
        "CR2 6XH",
        "DN55 1PT",
        "EC1A 1BB",
        "W1A 0AX",
        "GIR 0AA",
        "sw1a 1aa",
        "SW1A1AA",
        "B2 3RD",
    ],
)
def test_postcode_positives(postcode: str) -> None:
    assert POSTCODE.apply(f"at {postcode}, London") == "at [postcode], London"


@pytest.mark.parametrize(
    "text",
    [
        "a4 5th edition",  # lower-case ordinals are not inward codes
        "the b2 3rd floor",
        "QA1 1AA",  # Q is never a first letter
        "VA1 1AA",
        "XA1 1AA",
        "AI1 1AA",  # I is never a second letter
        "SW1A 1CA",  # C is never in an inward code
        "SW1A 1AI",
        "SW1A 11A",
        "3 apples",
        "2026",
        "ABC1 1AA",
        "at 10:30 pm",
    ],
)
def test_postcode_negatives(text: str) -> None:
    assert POSTCODE.apply(text) == text


def test_builtin_names_and_alias() -> None:
    assert {"email", "phone", "uk_ni_number", "uk_postcode", "postcode"} == BUILTIN_REDACTIONS
    assert builtin_redaction("postcode") == builtin_redaction("uk_postcode")
    assert builtin_redaction("uk_ni_number").replacement == "[NI number]"


def test_builtin_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown redaction 'emails'") as info:
        builtin_redaction("emails")
    for name in BUILTIN_REDACTIONS:
        assert name in str(info.value)


def test_custom_redaction() -> None:
    r = custom_redaction(r"\bproject-\w+", "[project]")
    assert r.apply("see project-x and project-y2") == "see [project] and [project]"
    assert custom_redaction("secret").apply("a secret") == "a [redacted]"
    assert custom_redaction("x", name="xs").name == "xs"


def test_custom_replacement_is_literal() -> None:
    # Backslashes must not be read as group references, nor raise at send time.
    assert custom_redaction(r"(a)", r"\1\g<0>\\").apply("cat") == r"c\1\g<0>\\t"


@pytest.mark.parametrize(("pattern", "message"), [("(", "not a valid regex"), ("a*", "empty")])
def test_custom_redaction_rejects(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        custom_redaction(pattern)


def test_apply_in_order() -> None:
    text = "alice@example.org 07700 900123 AB123456C SW1A 1AA"
    all_four = (EMAIL, NI, PHONE, POSTCODE)
    assert apply_redactions(all_four, text) == "[email] [phone] [NI number] [postcode]"


def test_long_inputs_stay_fast() -> None:
    # Patterns that backtrack badly would take seconds on these; the budget is generous.

    hostile = [
        "a" * 20_000,
        "1" * 20_000,
        "+" + "1 " * 10_000,
        "0 " * 10_000,
        "(0" * 10_000,
        "00" * 10_000,
        "a." * 10_000,
        "-a" * 10_000,
        "@a" * 10_000,
        "a@" + "b-" * 10_000,
        "a@b." * 5_000,
        "." * 20_000 + "@x.org",
        "AB 12 " * 3_000,
        "SW1A " * 4_000,
    ]
    # A catastrophic pattern would run for minutes here; speed is measured in
    # bench/rules_bench.py, not asserted.
    for text in hostile:
        assert isinstance(apply_redactions((EMAIL, NI, PHONE, POSTCODE), text), str)


_separator = st.sampled_from([" ", "\n", ", ", " (", "; ", ": "])
_words = st.lists(st.sampled_from(["hi", "see", "2026", "3", "apples", "ok", "#khub"]), max_size=4)


@given(
    email=st.emails(),
    before=_words,
    after=_words,
    sep=_separator,
)
def test_redacted_text_never_contains_the_email(
    email: str, before: list[str], after: list[str], sep: str
) -> None:
    text = sep.join([*before, email, *after])
    assert email not in EMAIL.apply(text)


_uk_phone = st.builds(
    lambda area, rest, form: form.format(area=area, rest=rest),
    area=st.sampled_from(["20", "161", "1632", "7700", "113"]),
    rest=st.integers(0, 999_999).map(lambda n: f"{n:06d}"),
    form=st.sampled_from(
        ["0{area} {rest}", "+44 {area} {rest}", "0{area}-{rest}", "0{area}{rest}"]
    ),
).filter(lambda p: 10 <= sum(c.isdigit() for c in p.replace("+44", "0")) <= 11)
_intl_phone = st.builds(
    lambda cc, n: f"+{cc} {n}",
    cc=st.sampled_from(["1", "33", "49", "61", "353"]),
    n=st.integers(10_000_000, 9_999_999_999).map(str),
)


@given(phone=st.one_of(_uk_phone, _intl_phone), before=_words, after=_words, sep=_separator)
def test_redacted_text_never_contains_the_phone(
    phone: str, before: list[str], after: list[str], sep: str
) -> None:
    text = sep.join([*before, phone, *after])
    redacted = PHONE.apply(text)
    assert phone not in redacted
    assert "[phone]" in redacted


@given(text=st.text(max_size=300))
def test_redaction_never_raises_and_only_replaces(text: str) -> None:
    out = apply_redactions((EMAIL, NI, PHONE, POSTCODE), text)
    # Whatever is left of the input appears in order: redaction only replaces spans.
    pieces = [p for p in re.split(r"\[(?:email|phone|NI number|postcode)\]", out) if p]
    position = 0
    for piece in pieces:
        found = text.find(piece, position)
        assert found >= 0
        position = found + len(piece)


def test_adjacent_phone_numbers_are_both_redacted() -> None:
    # Found by the property test: the first number hid behind the second one's boundary.
    shown = apply_redactions((PHONE,), "+1 415 555 2671 07700 900123")
    assert "415" not in shown and "07700" not in shown
    assert shown.count("[phone]") == 2
