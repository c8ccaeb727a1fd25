"""``${ENV}`` references in config string values, so secrets never need to be in the file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridgebot.config.problems import Loc, format_path

__all__ = ["Interpolated", "interpolate"]

# `$${` is the escape for a literal `${`; any other `${` must open a well-formed reference.
_REFERENCE = re.compile(
    r"(?P<escape>\$\$\{)|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<broken>\$\{[^}]{0,30}\}?)"
)


@dataclass
class Interpolated:
    """The document with references replaced, plus what went wrong and where."""

    data: object
    problems: list[str] = field(default_factory=list)
    #: Paths whose value came (partly) from the environment: never echo them in problems.
    filled: set[Loc] = field(default_factory=set)


def interpolate(document: object, env: Mapping[str, str]) -> Interpolated:
    """Replace ``${NAME}`` in every string value of ``document`` from ``env``.

    A missing variable is a problem naming the key and the variable; its reference is left
    as written so that validation goes on and reports the file's other problems too.
    """
    result = Interpolated(data=None)
    result.data = _walk(document, (), env, result)
    return result


def _walk(value: object, loc: Loc, env: Mapping[str, str], out: Interpolated) -> object:
    if isinstance(value, dict):
        return {key: _walk(item, (*loc, key), env, out) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, (*loc, i), env, out) for i, item in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        return _substitute(value, loc, env, out)
    return value


def _substitute(text: str, loc: Loc, env: Mapping[str, str], out: Interpolated) -> str:
    where = format_path(loc)

    def replace(match: re.Match[str]) -> str:
        if match["escape"]:
            return "${"
        name = match["name"]
        if name is None:
            out.problems.append(
                f"{where}: {match[0]!r} is not a valid reference; write ${{NAME}} "
                "(letters, digits and _), or $${ for a literal ${"
            )
            return match[0]
        if name not in env:
            out.problems.append(
                f"{where}: ${{{name}}} is not set; set {name} in the environment "
                "or write the value in the file"
            )
            return match[0]
        out.filled.add(loc)
        return env[name]

    return _REFERENCE.sub(replace, text)
