"""Reference codes as the classifier should see them: one placeholder word, not eight letters.

A code ("7KQ2-M9XA", "7kq2m9xa") is random, so its letters and character n-grams only add
noise: the classifier learnt them and sent codes alone, or after "mã", to greetings and
emergencies. The tokenizer gives a code-shaped token the text REF_CODE_TOKEN instead, while
the token keeps its offsets, so the ref_code entity (and the status action) still get the code
as typed. Stdlib only, like `normalize`.
"""

from __future__ import annotations

import re

REF_CODE_TOKEN = "__refcode__"  # noqa: S105 — a name, not a secret
# Crockford's base 32, as bot/requests/codes.py issues them (a test keeps the two equal).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Letters people type for the ones left out; they make a code only next to a digit or a dash.
LOOKALIKES = "ILO"
_SHAPE = re.compile(r"([0-9A-Za-z]{4})([-_.]?)([0-9A-Za-z]{4})")
_EDGES = "\"'()[]{}<>.,;:!?“”‘’«»"  # punctuation typed around a code: "(7KQ2-M9XA)."
_VOWELS = set("AEY")  # the only vowels of the alphabet
_CONSONANT_RUN = re.compile(r"[^AEY]{4}")


def is_ref_code(word: str) -> bool:
    """True when one typed word has the shape of a reference code (XXXX-XXXX, XXXXXXXX)."""
    match = _SHAPE.fullmatch(word.strip(_EDGES))
    if not match:
        return False
    head, separator, tail = match.groups()
    chars = (head + tail).upper()
    if any(ch not in ALPHABET and ch not in LOOKALIKES for ch in chars):
        return False
    if not any(ch.isalpha() for ch in chars):
        return False  # years, dates and phone fragments: "2021-2022", "09123456"
    if any(ch.isdigit() for ch in chars):
        return True
    if any(ch in LOOKALIKES for ch in chars):
        return False  # a code without a digit has none of them: "self-test", "facebook"
    if separator == "-" or (head + tail).isupper():
        return True
    # Eight lower-case letters: a code only if it cannot be a word ("standard", "whatsapp"):
    # at most one vowel, or four consonants in a row.
    return sum(ch in _VOWELS for ch in chars) < 2 or _CONSONANT_RUN.search(chars) is not None
