"""Unicode emoji ↔ Slack reaction names, for the common reactions only.

Slack names reactions (``thumbsup``); other networks send the character. The table
covers what people usually react with; anything else arrives as ``:name:`` and, going
out, a ``:name:`` is passed through while an unmapped character is refused.
"""

from __future__ import annotations

__all__ = ["from_slack", "to_slack"]

_NAMES: dict[str, str] = {
    "👍": "+1",
    "👎": "-1",
    "❤️": "heart",
    "😂": "joy",
    "😄": "smile",
    "😀": "grinning",
    "😊": "blush",
    "🙂": "slightly_smiling_face",
    "😉": "wink",
    "😍": "heart_eyes",
    "😮": "open_mouth",
    "😢": "cry",
    "😭": "sob",
    "😡": "rage",
    "🤔": "thinking_face",
    "🙏": "pray",
    "👏": "clap",
    "🙌": "raised_hands",
    "👋": "wave",
    "💪": "muscle",
    "👀": "eyes",
    "🎉": "tada",
    "🔥": "fire",
    "🚀": "rocket",
    "💯": "100",
    "✅": "white_check_mark",
    "✔️": "heavy_check_mark",
    "❌": "x",
    "➕": "heavy_plus_sign",
    "⭐": "star",
    "👌": "ok_hand",
    "💡": "bulb",
    "⚠️": "warning",
}
_CHARS: dict[str, str] = {name: char for char, name in _NAMES.items()}
# Slack accepts and sends these aliases for the same characters.
_CHARS.update({"thumbsup": "👍", "thumbsdown": "👎", "heavy_heart": "❤️"})


def from_slack(name: str) -> str:
    """A Slack reaction name → the character, or ``:name:`` when the table lacks it.

    Skin tones (``+1::skin-tone-3``) are dropped: the base character carries the meaning.
    """
    base = name.strip(":").split("::", 1)[0]
    return _CHARS.get(base, f":{base}:")


def to_slack(emoji: str) -> str | None:
    """A character (or ``:name:``) → a Slack reaction name; None if it has no known name."""
    if len(emoji) > 2 and emoji.startswith(":") and emoji.endswith(":"):
        return emoji[1:-1]
    name = _NAMES.get(emoji) or _NAMES.get(emoji.replace("\ufe0f", ""))
    if name is None and emoji + "\ufe0f" in _NAMES:
        name = _NAMES[emoji + "\ufe0f"]
    return name
