"""Matching residents' words against Vietnamese keywords, with the diacritics they typed.

Folding everything to plain letters confuses words that differ only by their marks: "bà"
(grandmother) is not "ba" (three), "sửa" (repair) is not "sữa" (milk), "họ" (relatives) is not
"ho" (cough). So a word typed with diacritics must match a keyword exactly; only a word typed
without any (plain ASCII, as many residents type) is compared with the keyword's plain form.
Teencode is expanded first ("e" → "em", "ko" → "không"), the same way as the NLU does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from hotline_nlu.normalize import normalize, strip_diacritics

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Returns the resident's words, lower case, teencode expanded, diacritics as typed."""
    return _WORD.findall(normalize(text or ""))


def word_matches(typed: str, keyword: str) -> bool:
    """True when a typed word stands for the keyword word: the same word, or typed without
    diacritics and equal to the keyword's plain form."""
    return typed == keyword or (typed.isascii() and typed == strip_diacritics(keyword))


def phrase_at(tokens: Sequence[str], start: int, phrase: Sequence[str]) -> bool:
    """True when the phrase's words begin at tokens[start]."""
    if start + len(phrase) > len(tokens):
        return False
    return all(word_matches(tokens[start + i], w) for i, w in enumerate(phrase))


def find_phrase(tokens: Sequence[str], phrase: str) -> int:
    """Returns where the phrase ("hết gạo") starts in the tokens, or -1."""
    parts = phrase.split()
    for start in range(len(tokens) - len(parts) + 1):
        if phrase_at(tokens, start, parts):
            return start
    return -1


def has_any(tokens: Sequence[str], phrases: Iterable[str]) -> bool:
    """True when any of the phrases occurs in the tokens."""
    return any(find_phrase(tokens, p) >= 0 for p in phrases)


def is_phrase(tokens: Sequence[str], phrases: Iterable[str]) -> bool:
    """True when the tokens are exactly one of the phrases (a whole short answer)."""
    return any(len(p.split()) == len(tokens) and find_phrase(tokens, p) == 0 for p in phrases)
