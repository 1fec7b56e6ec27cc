"""Text helpers shared by the connectors."""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Splits a long text at paragraph, line or word boundaries into parts of `limit` or less."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(
            rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit)
        )
        if cut <= limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts
