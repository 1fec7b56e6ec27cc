"""The Rasa tokenizer, run in the rasa environment: what the featurizers see of a message."""

from __future__ import annotations

from tests.nlu.in_rasa import run_in_rasa

_SCRIPT = """
import json, sys
from rasa.shared.nlu.training_data.message import Message
from hotline_nlu.tokenizer import VietnameseTokenizer
tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
out = []
for text in json.loads(sys.stdin.read()):
    tokens = tokenizer.tokenize(Message({"text": text}), "text")
    out.append([[t.text, t.lemma, text[t.start:t.end]] for t in tokens])
print(json.dumps(out))
"""


def tokenize(*texts: str) -> list[list[list[str]]]:
    return run_in_rasa(_SCRIPT, texts, timeout=120)


def test_a_code_is_one_placeholder_word_and_keeps_what_was_typed():
    with_dash, without, alone = tokenize("kiểm tra 7KQ2-M9XA", "ma 7kq2m9xa sao roi", "7KQ2M9XA")
    assert with_dash == [
        ["kiểm", "kiem", "kiểm"],
        ["tra", "tra", "tra"],
        ["__refcode__", "__refcode__", "7KQ2-M9XA"],
    ]
    assert without[1] == ["__refcode__", "__refcode__", "7kq2m9xa"]
    assert alone == [["__refcode__", "__refcode__", "7KQ2M9XA"]]


def test_words_are_normalised_and_short_forms_expanded():
    (tokens,) = tokenize("e đk chích ở q1 t7 đc hông")
    assert [text for text, _, _ in tokens] == [
        "em", "đăng", "ký", "chích", "ở", "quận", "1", "thứ", "7", "được", "không",
    ]  # fmt: skip
    assert [lemma for _, lemma, _ in tokens][:3] == ["em", "dang", "ky"]
    assert [typed for _, _, typed in tokens][1:3] == ["đk", "đk"]
