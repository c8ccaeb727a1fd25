"""Turn validation failures into one-line problems an admin can act on.

Each problem names the key path (``bridges[0].rooms[1].privacy``), the bad value and what
to write instead. Pydantic's own messages speak of Python types; these speak TOML.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from bridgebot.model import RoomRef

__all__ = ["Loc", "did_you_mean", "format_path", "show_value", "translate_errors"]

#: A key path into the TOML document: table keys and array indexes.
Loc = tuple[str | int, ...]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_SHOWN = 60


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest candidate, or ``""`` when none is close."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def format_path(loc: Sequence[str | int]) -> str:
    """``("bridges", 0, "rooms", 1, "privacy")`` → ``bridges[0].rooms[1].privacy``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        # json.dumps writes a valid TOML basic string, escapes and all, on one line.
        key = part if _BARE_KEY.match(part) else json.dumps(part, ensure_ascii=False)
        out += f".{key}" if out else key
    return out


def _table_path(loc: Sequence[str | int]) -> str:
    """The TOML table header for ``loc``: array indexes dropped."""
    return format_path([p for p in loc if isinstance(p, str)])


def show_value(value: object) -> str:
    """A short, TOML-minded rendering of a bad value for a problem line."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 4] + "...'"


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and ``| None`` so the shape underneath can be inspected."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _resolve(root: type[BaseModel], loc: Sequence[str | int]) -> tuple[Any, FieldInfo | None]:
    """The (unwrapped) annotation found at ``loc`` under ``root``, and its field if any."""
    annotation: Any = root
    field: FieldInfo | None = None
    for part in loc:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if _is_model(annotation) and isinstance(part, str):
            field = annotation.model_fields.get(part)
            if field is None:
                return None, None
            annotation = field.annotation
        elif origin in (tuple, list) and isinstance(part, int):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict and isinstance(part, str):
            annotation = typing.get_args(annotation)[1]
        else:
            return None, None
    return _unwrap(annotation), field


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr


def _literal_choices(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return None


def _example(annotation: Any, field: FieldInfo | None) -> str:
    """A right-hand side the admin could write for a key of this shape."""
    if field is not None and field.examples:
        return str(field.examples[0])
    choices = _literal_choices(annotation)
    if choices:
        return f'"{choices[0]}"'
    if annotation is SecretStr:
        return '"${ENV_VAR}"'
    if annotation is RoomRef:
        return '"ACCOUNT:ROOM"'
    if annotation is bool:
        return "true"
    if annotation is int:
        return "1"
    if annotation is float:
        return "1.0"
    if typing.get_origin(annotation) in (tuple, list):
        return "[]"
    return '"..."'


def _hint(annotation: Any, loc: Sequence[str | int]) -> str:
    """What to write instead, for a value of the wrong type at ``loc``."""
    choices = _literal_choices(annotation)
    if choices:
        return "use one of: " + ", ".join(choices)
    origin = typing.get_origin(annotation)
    custom = getattr(annotation, "toml_hint", None)
    if isinstance(custom, str):
        return custom
    if _is_model(annotation):
        if loc and isinstance(loc[-1], int):
            return f"write a [[{_table_path(loc)}]] table"
        return f"write a [{_table_path(loc)}] table" if loc else "write a table"
    if origin in (tuple, list):
        item = _unwrap(typing.get_args(annotation)[0])
        if _is_model(item):
            return f"write one [[{_table_path(loc)}]] table per item"
        return 'write a list of quoted strings, e.g. ["a", "b"]'
    if origin is dict:
        return f"write one [{_table_path(loc)}.NAME] table per entry"
    if annotation is bool:
        return "write true or false (no quotes)"
    if annotation is int:
        return "write a whole number (no quotes)"
    if annotation is float:
        return "write a number (no quotes)"
    if annotation is RoomRef:
        return 'write "ACCOUNT:ROOM", e.g. "slack.work:C0123"'
    return 'write a quoted string, e.g. "..."'


def _describe(
    error: ErrorDetails, root: type[BaseModel], loc: Loc, full: Loc, hidden: Collection[Loc]
) -> str:
    """One problem's text after the path: the bad value and the fix."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        parent, _ = _resolve(root, loc[:-1])
        known = list(parent.model_fields) if _is_model(parent) else []
        key = str(loc[-1])
        tail = did_you_mean(key, known) or (
            "; known keys here: " + ", ".join(known) if known else ""
        )
        return f"unknown key {key!r}{tail}"
    annotation, field = _resolve(root, loc)
    if kind == "missing":
        key = str(loc[-1]) if loc else "value"
        return f"is required; add {key} = {_example(annotation, field)}"
    secret = _is_secret(annotation) or full in hidden
    shown = "the value" if secret else show_value(error["input"])
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "literal_error":
        return f"{shown} is not valid; {_hint(annotation, full)}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(ctx.values()), "")
        words = {
            "greater_than": "greater than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }
        return f"{shown} is out of range; write a number {words[kind]} {bound}"
    if kind in ("string_too_short", "too_short"):
        return f"{shown} is empty; write a value"
    if kind.endswith(("_type", "_parsing", "_from_float")) or kind == "model_attributes_type":
        return f"{shown} has the wrong type; {_hint(annotation, full)}"
    # Anything rarer: pydantic's words, still with the value and the expected shape.
    return f"{shown}: {error['msg']}; {_hint(annotation, full)}"


def translate_errors(
    exc: ValidationError,
    root: type[BaseModel],
    prefix: Loc = (),
    hidden: Collection[Loc] = (),
) -> list[str]:
    """``"path: detail"`` lines for every error in ``exc``; ``root`` was validated at ``prefix``.

    Values at paths in ``hidden`` (filled from the environment) are never echoed.
    """
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        full = prefix + loc
        where = format_path(full) or "(top level)"
        problems.append(f"{where}: {_describe(error, root, loc, full, hidden)}")
    return problems
