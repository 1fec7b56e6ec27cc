"""Reference codes: 8 random characters shown as XXXX-XXXX, easy to read out on the phone.

The alphabet is Crockford's base 32 (digits and letters without I, L, O, U), so a code read
aloud cannot be mistaken, and 32^8 (about 10^12) codes keep one resident from guessing another's.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
# Letters people type for the ones left out, as Crockford decoding does.
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_TYPED = re.compile(r"\b([0-9A-Za-z]{4})([\s\-_.]?)([0-9A-Za-z]{4})\b")


def new_ref_code() -> str:
    """Returns a fresh random code, stored without the dash ("7KQ2M9XA")."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def format_ref(code: str) -> str:
    """Shows a stored code the way residents see it: "7KQ2-M9XA"."""
    return f"{code[:4]}-{code[4:]}"


def parse_ref(text: str) -> str | None:
    """Returns the stored form of a code typed by a person ("7kq2 m9xa", "7KQ2-M9XA"), or None."""
    for match in _TYPED.finditer(text or ""):
        code = (match.group(1) + match.group(3)).upper().translate(_LOOKALIKES)
        # Two ordinary 4-letter words ("xin chao") are not a code; a dash or a digit says it is.
        looks_like_code = match.group(2) in ("-", "") or any(ch.isdigit() for ch in code)
        if looks_like_code and all(ch in ALPHABET for ch in code):
            return code
    return None
