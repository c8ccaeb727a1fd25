"""Redactions: named, precompiled patterns whose matches are replaced before a message leaves.

The built-in patterns favour catching the real thing over catching everything that looks a
bit like it: a redaction that eats years, prices and dates would make admins switch it off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = [
    "BUILTIN_REDACTIONS",
    "Redaction",
    "apply_redactions",
    "builtin_redaction",
    "custom_redaction",
    "merge_redactions",
    "redact_text",
]


@dataclass(frozen=True, slots=True)
class Redaction:
    """Replace every match of ``pattern`` with ``replacement`` (taken literally, no ``\\1``)."""

    name: str
    pattern: re.Pattern[str]
    replacement: str
    #: A substring every match contains ("@" for emails): a cheap test that skips the regex.
    needs: str = ""
    # ``re.sub`` would read backslashes in the replacement as group references; an admin's
    # "[x\y]" must neither change meaning nor raise on the hot path, so escape it once here.
    _template: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_template", self.replacement.replace("\\", "\\\\"))

    def apply(self, text: str) -> str:
        """``text`` with every match replaced.

        Applied until nothing changes (a few passes at most): a number right next to another
        can fail a pattern's boundary check until its neighbour has been replaced, as in
        "+1 415 555 2671 07700 900123", which hypothesis found leaking the first number.
        """
        if self.needs and self.needs not in text:
            return text
        for _ in range(4):
            redacted = self.pattern.sub(self._template, text)
            if redacted == text:
                break
            text = redacted
        return text


# --- email -----------------------------------------------------------------------------------

# Local part: RFC 5322 "atext" plus dots. Possessive, and anchored at the start of a run by the
# lookbehind, so a long run of word characters with no "@" costs linear time, not quadratic.
_LOCAL = r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]++"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_EMAIL = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})+")

# --- phone -----------------------------------------------------------------------------------

_SEP = r"[ .\-]?"
# A UK national significant number (after the trunk "0" or "+44"): 9 or 10 digits in the
# groupings people write. Fixed group shapes, not "any digits with any spaces", so that
# "01 02 2026 10" (a date and a time) is not a phone number.
_UK_NSN = (
    rf"(?=[1-9])(?:\d{{2}}{_SEP}\d{{4}}{_SEP}\d{{4}}"
    rf"|\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{3,4}}"
    rf"|\d{{4}}{_SEP}(?:\d{{5,6}}|\d{{3}}{_SEP}\d{{3}}))"
)
# "(020) 7946 0958", "(0161) 496 0000", "(01632) 960 001": the area code in brackets.
_UK_PAREN = (
    rf"\(0(?=[1-9])(?:\d{{2}}\){_SEP}\d{{4}}{_SEP}\d{{4}}"
    rf"|\d{{3}}\){_SEP}\d{{3}}{_SEP}\d{{3,4}}"
    rf"|\d{{4}}\){_SEP}(?:\d{{5,6}}|\d{{3}}{_SEP}\d{{3}}))"
)
# Any country, E.164: "+" (or "00") and at least 8 digits. The lookahead counts the digits;
# the atomic group then takes them without backtracking, so a long digit run stays cheap.
# No upper bound: in "+1 415 555 2671 2026" the year may go too, but the number must.
_DIGIT_RUN = r"(?:[ .()\-]{0,2}\d)"
_INTL = (
    rf"(?:\+|00)(?={_DIGIT_RUN}{{8}})"
    rf"(?>[1-9]\d{{0,3}}[ .\-]?(?:\(\d{{1,4}}\)|\d{{1,5}})"
    rf"(?:[ .\-]?(?:\(\d{{1,4}}\)|\d{{2,5}})){{0,5}})"
)
_PHONE = re.compile(
    rf"(?<![\w+])(?:(?:\+|00)44{_SEP}(?:\(0\){_SEP})?{_UK_NSN}|0{_UK_NSN}|{_UK_PAREN}|{_INTL})"
    r"(?!\d)"
)

# --- UK National Insurance number ------------------------------------------------------------

# HMRC: the first letter is not D, F, I, Q, U or V; the second is not D, F, I, O, Q, U or V;
# BG, GB, KN, NK, NT, TN and ZZ are never issued; the suffix is A-D. "QQ 12 34 56 C" is
# HMRC's own specimen, and people paste it, so it is redacted too (harmless either way).
_NI = re.compile(
    r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)(?:[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]|QQ)"
    r"[ \-]?\d{2}[ \-]?\d{2}[ \-]?\d{2}[ \-]?[A-D]\b",
    re.IGNORECASE,
)

# --- UK postcode -----------------------------------------------------------------------------

# Outward code A9, A99, A9A, AA9, AA99, AA9A with the letters Royal Mail allows in each
# position; inward code 9AA without C, I, K, M, O, V. Lower case is accepted ("sw1a 1aa"),
# except an inward code that reads as an ordinal ("a4 5th", "b2 3rd").
_POSTCODE = re.compile(
    r"\b(?:GIR ?0AA"
    r"|[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRVWXY\d]?)"
    r" ?(?!(?-i:\d(?:st|nd|rd|th)\b))\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)

_BUILTINS: dict[str, Redaction] = {
    "email": Redaction("email", _EMAIL, "[email]", needs="@"),
    "phone": Redaction("phone", _PHONE, "[phone]"),
    "uk_ni_number": Redaction("uk_ni_number", _NI, "[NI number]"),
    "uk_postcode": Redaction("uk_postcode", _POSTCODE, "[postcode]"),
}
_ALIASES = {"postcode": "uk_postcode"}

#: Names accepted by :func:`builtin_redaction` (``"postcode"`` is an alias of ``"uk_postcode"``).
BUILTIN_REDACTIONS: frozenset[str] = frozenset(_BUILTINS) | frozenset(_ALIASES)

# Emails first: an address such as "07700900123@sms.example" must go as a whole, not lose
# its digits to the phone pattern and leave the rest behind.
_ORDER = {name: i for i, name in enumerate(("email", "uk_ni_number", "phone", "uk_postcode"))}


def builtin_redaction(name: str) -> Redaction:
    """The built-in redaction called ``name``; ``ValueError`` naming the valid names."""
    key = _ALIASES.get(name, name)
    try:
        return _BUILTINS[key]
    except KeyError:
        valid = ", ".join(sorted(BUILTIN_REDACTIONS))
        raise ValueError(
            f"unknown redaction {name!r}; valid names: {valid} (or a custom pattern)"
        ) from None


def custom_redaction(
    pattern: str, replacement: str = "[redacted]", name: str = "custom"
) -> Redaction:
    """A redaction from an admin's regex; ``ValueError`` if it does not compile or matches ""."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"redaction pattern {pattern!r} is not a valid regex: {exc}") from None
    if compiled.fullmatch(""):
        # It would insert the replacement between every two characters.
        raise ValueError(f"redaction pattern {pattern!r} matches the empty string")
    return Redaction(name, compiled, replacement)


def normalise_redactions(items: Iterable[Redaction]) -> tuple[Redaction, ...]:
    """Deduplicated, built-ins first in a fixed order, then custom ones in their given order."""
    seen: set[Redaction] = set()
    unique: list[Redaction] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            unique.append(item)
    # sorted() is stable, so custom redactions keep the order the admin wrote them in.
    return tuple(sorted(unique, key=lambda r: _ORDER.get(r.name, len(_ORDER))))


@lru_cache(maxsize=1024)
def _merged(a: tuple[Redaction, ...], b: tuple[Redaction, ...]) -> tuple[Redaction, ...]:
    return normalise_redactions(a + b)


def merge_redactions(a: tuple[Redaction, ...], b: tuple[Redaction, ...]) -> tuple[Redaction, ...]:
    """The union of two rooms' redactions, in application order (cheap when one is empty)."""
    if not b or a == b:
        return a
    if not a:
        return b
    return _merged(a, b)


def apply_redactions(redactions: Iterable[Redaction], text: str) -> str:
    """``text`` with each redaction applied in turn."""
    for redaction in redactions:
        text = redaction.apply(text)
    return text


# The last (redactions, text, result): a message fans out to several rooms that usually share
# one set of redactions, so the router asks the same question a few times in a row. One
# tuple, replaced whole, so that concurrent readers never see a torn entry.
_last: tuple[tuple[Redaction, ...], str, str] = ((), "", "")


def redact_text(redactions: tuple[Redaction, ...], text: str) -> str:
    """:func:`apply_redactions`, remembering the last answer (compared by identity)."""
    global _last
    if not redactions:
        return text
    last = _last
    if last[0] is redactions and last[1] is text:
        return last[2]
    result = apply_redactions(redactions, text)
    _last = (redactions, text, result)
    return result
