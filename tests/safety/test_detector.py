"""The safety layer's rules: what fires, what must not, and the gate over the test sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.safety import Category, detect_emergency
from bot.safety.evaluation import evaluate

SETS = Path(__file__).parent


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("em gái tôi ngất xỉu trong phòng trọ", Category.UNCONSCIOUS),
        ("ba e ngat xiu r cuu voi", Category.UNCONSCIOUS),
        ("mẹ tôi lịm đi gọi không dậy", Category.UNCONSCIOUS),
        ("thở hổng nổi luôn", Category.BREATHING),
        ("tức ngực khó thở", Category.BREATHING),
        ("moi tim tai het roi", Category.CYANOSIS),
        ("bé co giật", Category.SEIZURE),
        ("đang mang bầu mà ra máu nhiều quá", Category.BLEEDING),
        ("ba tôi méo miệng, yếu nửa người", Category.STROKE),
        ("đau ngực dữ dội", Category.CHEST_PAIN),
        ("không muốn sống nữa", Category.SUICIDE),
        ("spo2 89", Category.LOW_SPO2),
        ("sp02 = 90%", Category.LOW_SPO2),
        ("oxy 88", Category.LOW_SPO2),
        ("spo2 chỉ còn 91", Category.LOW_SPO2),
        ("chỉ số oxy máu 90", Category.LOW_SPO2),
        ("/emergency", Category.CONFIRMED),
    ],
)
def test_life_threatening_messages_fire_with_their_category(text: str, category: Category) -> None:
    assert detect_emergency(text).category is category


@pytest.mark.parametrize(
    "text",
    [
        "con tôi bị ho",
        "hỏi về khó thở sau tiêm",
        "hôm qua khó thở nay hết rồi",
        "không khó thở",
        "spo2 bao nhiêu là bình thường",
        "mua máy đo spo2 ở đâu",
        "spo2 của tôi 98",
        "spo2 94",
        "hàng xóm muốn biết dấu hiệu đột quỵ là gì",
        "mệt muốn chết",
        "chờ xíu",
        "cho xiu nhe",  # chờ xíu, typed without diacritics
        "tôi mới tìm được việc",  # "tìm" is not "tím"
        "tu tu thoi",  # từ từ, not tự tử
        "tôi cần tư vấn",
        "",
        "🙂",
        "x" * 5000,
    ],
)
def test_near_misses_do_not_fire(text: str) -> None:
    assert not detect_emergency(text).is_emergency


def test_a_word_typed_with_other_diacritics_is_another_word() -> None:
    assert detect_emergency("môi tím").is_emergency
    assert detect_emergency("moi tim").is_emergency  # typed without diacritics: may be "môi tím"
    assert not detect_emergency("mới tìm").is_emergency


def test_an_emergency_in_a_later_sentence_still_fires() -> None:
    assert detect_emergency("Cho em hỏi về vắc xin. Mà mẹ em đang khó thở quá").is_emergency


def test_gate_over_the_development_set() -> None:
    report = evaluate(SETS / "emergencies.yml", SETS / "near_misses.yml")
    assert report.recall["all"].total >= 150 and report.false_alarms["all"].total >= 300
    for style in ("diacritics", "plain", "teencode"):
        assert report.recall[style].total >= 50 and report.false_alarms[style].total >= 100
    assert report.recall["all"].rate >= 0.99, report.recall["all"].examples
    assert report.false_alarms["all"].rate <= 0.01, report.false_alarms["all"].examples


@pytest.mark.parametrize("prefix", ["heldout_", "heldout2_", "heldout3_"])
def test_gate_over_the_earlier_held_out_sets_once_the_rules_learnt_from_them(prefix: str) -> None:
    report = evaluate(SETS / f"{prefix}emergencies.yml", SETS / f"{prefix}near_misses.yml")
    assert report.recall["all"].rate >= 0.99, report.recall["all"].examples
    assert report.false_alarms["all"].rate <= 0.01, report.false_alarms["all"].examples
