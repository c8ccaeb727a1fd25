"""Label templates such as ``"{author} · {network}"``: compiled once, filled per message."""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping

__all__ = [
    "LABEL_FIELDS",
    "MAX_NAME_LENGTH",
    "LabelPart",
    "clean_name",
    "compile_label",
    "format_label",
    "join_label",
    "split_label",
    "validate_label",
]

#: The fields a bridge's ``label`` template may use.
LABEL_FIELDS: frozenset[str] = frozenset({"author", "network", "account", "room", "bridge"})

#: Longest author name a label will carry, in characters (longer names end in "…").
MAX_NAME_LENGTH = 64

#: One compiled piece of a template: literal text, then a field name (or None) and its spec.
LabelPart = tuple[str, str | None, str]

_VALID = ", ".join("{" + f + "}" for f in sorted(LABEL_FIELDS))
# Kept although they are "format" characters: ZWJ and ZWNJ are part of emoji sequences and of
# Persian and Indic names. Every other Cf (bidi overrides, invisible separators) goes.
_KEEP_FORMAT = frozenset({"\u200c", "\u200d"})


def compile_label(template: str) -> tuple[LabelPart, ...]:
    """Parse ``template``; ``ValueError`` for bad braces or unknown fields, naming valid ones."""
    parts: list[LabelPart] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(
            f"label {template!r}: {exc} (write {{{{ and }}}} for literal braces)"
        ) from None
    for literal, field_name, spec, conversion in parsed:
        if field_name is None:
            parts.append((literal, None, ""))
            continue
        # Only bare names: "{author.__class__}" or "{author[0]}" would reach into Python objects.
        if field_name not in LABEL_FIELDS:
            shown = "{" + field_name + "}" if field_name else "{}"
            raise ValueError(f"label {template!r}: unknown field {shown}; valid fields: {_VALID}")
        if conversion is not None:
            raise ValueError(
                f"label {template!r}: conversions such as !{conversion} are not allowed"
            )
        if spec and ("{" in spec or "}" in spec):
            raise ValueError(f"label {template!r}: nested fields in a format spec are not allowed")
        try:
            format("", spec or "")
        except ValueError as exc:
            raise ValueError(f"label {template!r}: bad format spec {spec!r}: {exc}") from None
        parts.append((literal, field_name, spec or ""))
    return tuple(parts)


def validate_label(template: str) -> None:
    """Raise ``ValueError`` if ``template`` is not a valid label, naming the valid fields."""
    compile_label(template)


def format_label(parts: tuple[LabelPart, ...], values: Mapping[str, str]) -> str:
    """Fill a compiled template; ``values`` must hold every field in :data:`LABEL_FIELDS`."""
    out: list[str] = []
    for literal, field_name, spec in parts:
        out.append(literal)
        if field_name is not None:
            value = values[field_name]
            out.append(format(value, spec) if spec else value)
    return "".join(out)


def split_label(
    parts: tuple[LabelPart, ...], values: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Fill every field but ``{author}``: the text around each ``{author}``, and their specs.

    ``chunks[0] + author + chunks[1] + ...`` is the label; with no specs it is
    ``author.join(chunks)``, the cheap form for the per-message path.
    """
    chunks: list[str] = []
    specs: list[str] = []
    current: list[str] = []
    for literal, field_name, spec in parts:
        current.append(literal)
        if field_name == "author":
            chunks.append("".join(current))
            specs.append(spec)
            current = []
        elif field_name is not None:
            value = values[field_name]
            current.append(format(value, spec) if spec else value)
    chunks.append("".join(current))
    return tuple(chunks), tuple(specs)


def join_label(chunks: tuple[str, ...], specs: tuple[str, ...], author: str) -> str:
    """The label from :func:`split_label`'s pieces and the author's (clean) name."""
    if not any(specs):
        return author.join(chunks)
    out = [chunks[0]]
    for spec, chunk in zip(specs, chunks[1:], strict=True):
        out.append(format(author, spec) if spec else author)
        out.append(chunk)
    return "".join(out)


def clean_name(name: str, limit: int = MAX_NAME_LENGTH) -> str:
    """A display name safe to put in a label: one line, no control/bidi characters, capped."""
    if name.isprintable() and len(name) <= limit and name.strip() == name:
        return name  # the common case, checked in C
    chars: list[str] = []
    for ch in name:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp") or ch.isspace():
            chars.append(" ")  # a newline or tab still separates words
        elif category == "Cf" and ch not in _KEEP_FORMAT:
            continue
        elif category == "Cs":
            continue  # a lone surrogate cannot be encoded, and would fail the send
        else:
            chars.append(ch)
    cleaned = " ".join("".join(chars).split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned
