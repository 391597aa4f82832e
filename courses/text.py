"""What counts as text a person can read: the one rule for titles, names, goals and reasons."""

from __future__ import annotations

import unicodedata

# Control, format (zero-width, bidi), unassigned, private-use and surrogate code points, separators and
# combining marks on their own: a title made only of these shows as nothing, or as something misleading.
_INVISIBLE = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})
_LINE_CONTROLS_OK: frozenset[str] = frozenset()
_BLOCK_CONTROLS_OK = frozenset({"\n", "\r", "\t"})


def clean(text: str | None, *, multiline: bool = False) -> str:
    """NFC-normalised, stripped text with control characters removed (newlines and tabs kept in blocks)."""
    allowed = _BLOCK_CONTROLS_OK if multiline else _LINE_CONTROLS_OK
    value = unicodedata.normalize("NFC", text or "")
    value = "".join(ch for ch in value if ch in allowed or unicodedata.category(ch) not in ("Cc", "Cs"))
    return value.strip()


def is_visible(text: str) -> bool:
    """Whether the text has at least one character a reader sees."""
    return any(unicodedata.category(ch) not in _INVISIBLE for ch in text)


def visible_length(text: str) -> int:
    """Length for limits: the cleaned text's length, 0 when nothing in it is visible."""
    return len(text) if is_visible(text) else 0


def contains_pattern(text: str) -> str:
    """A LIKE pattern (with ``escape="\\"``) matching values that contain the text literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
