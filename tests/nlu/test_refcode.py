"""Reference codes are recognised as one word before featurisation, and nothing else is."""

from __future__ import annotations

import random

import pytest

from bot.requests import codes
from hotline_nlu.refcode import ALPHABET, is_ref_code


def test_alphabet_is_the_one_codes_are_issued_from():
    assert ALPHABET == codes.ALPHABET


def _seeded_codes(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(codes.ALPHABET) for _ in range(codes.LENGTH)) for _ in range(n)]


@pytest.mark.parametrize(
    "write",
    [
        codes.format_ref,
        lambda code: code,
        lambda code: codes.format_ref(code).lower(),
        lambda code: code.lower(),
    ],
    ids=["XXXX-XXXX", "XXXXXXXX", "xxxx-xxxx", "xxxxxxxx"],
)
def test_issued_codes_are_recognised_as_typed(write):
    # Codes with letters only and two vowels or more ("KAYE-MBRT" without its dash) read
    # like words; all the rest must be recognised, with and without the dash.
    issued = _seeded_codes(2000, seed=11)
    for code in issued:
        if any(ch.isdigit() for ch in code) or "-" in write(code):
            assert is_ref_code(write(code)), write(code)
        assert codes.parse_ref(write(code)) == code
    assert sum(is_ref_code(write(code)) for code in issued) / len(issued) > 0.99


@pytest.mark.parametrize(
    "typed", ["(7KQ2-M9XA)", "7kq2-m9xa.", "7KQ2_M9XA", "7KQ2.M9XA,", "KMXB-RTQZ"]
)
def test_punctuation_and_separators_around_a_code(typed):
    assert is_ref_code(typed)


@pytest.mark.parametrize(
    "word",
    [
        "standard",  # eight letters of the alphabet, but a word
        "whatsapp",
        "facebook",  # look-alike letters without a digit
        "vaccines",
        "camonban",
        "self-test",
        "2021-2022",  # numbers only: years, dates, phone fragments
        "09123456",
        "20211225",
        "nghieng",
        "xin",
        "7KQ2-M9X",  # one short
        "7KQ2-M9XAB",
        "7KQ2--M9XA",
        "đường",
        "",
    ],
)
def test_words_and_numbers_are_not_codes(word):
    assert not is_ref_code(word)
