"""Reading residents' answers: phones, years, sizes, needs, vulnerable members, symptoms."""

from __future__ import annotations

from datetime import date

import pytest

from bot.requests.codes import ALPHABET, format_ref, new_ref_code, parse_ref
from bot.requests.priority import assess_priority
from bot.requests.validation import (
    clean_name,
    format_phone,
    normalize_phone,
    parse_birth_year,
    parse_days_without_food,
    parse_household_size,
    parse_needs,
    parse_symptoms,
    parse_vaccine_doses,
    parse_vulnerable,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0912345678", "+84912345678"),
        ("091 234 5678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("+84912345678", "+84912345678"),
        ("+84 91 234 5678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("0084912345678", "+84912345678"),
        ("số của tôi là 0868 555 123 ạ", "+84868555123"),
        ("0327654321", "+84327654321"),
        ("0523456789", "+84523456789"),
        ("0701234567", "+84701234567"),
        ("0812345678", "+84812345678"),
    ],
)
def test_valid_phones_are_normalised(typed: str, expected: str) -> None:
    assert normalize_phone(typed) == expected


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+84912345678", "0912 345 678"),
        ("+84327654321", "0327 654 321"),
        ("0912345678", "0912 345 678"),  # a row saved before E.164
        ("+12025550143", "+1 202-555-0143"),
        ("not a phone", "not a phone"),
    ],
)
def test_phones_are_shown_the_vietnamese_way(stored: str, shown: str) -> None:
    assert format_phone(stored) == shown


@pytest.mark.parametrize(
    "typed",
    [
        "12345",
        "091234567",
        "09123456789",
        "0212345678",
        "0112345678",
        "0412345678",
        "0612345678",
        "+8421234567",
        "abc",
        "",
        "091234567x",
        "01234567890",
    ],
)
def test_invalid_phones_are_refused(typed: str) -> None:
    assert normalize_phone(typed) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1985", 1985),
        ("sinh năm 1992", 1992),
        ("e sn 1999", 1999),
        ("1900", 1900),
        ("2026", 2026),
        ("1899", None),
        ("2027", None),
        ("85", None),
        ("năm ngoái", None),
    ],
)
def test_birth_year_in_range(typed: str, expected: int | None) -> None:
    assert parse_birth_year(typed, today=date(2026, 11, 26)) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("4", 4),
        ("nhà 4 người", 4),
        ("nhà e 3 ng", 3),
        ("gia đình có 6 người, 2 cháu nhỏ", 6),
        ("năm người", 5),
        ("sống một mình", 1),
        ("50", 50),
        ("51", None),
        ("0", None),
        ("nhiều lắm", None),
        # Members named one by one; "bà" (grandmother) is not "ba" (three).
        ("bà và tôi", 2),
        ("má và tôi", 2),
        ("ba me va toi", 3),
        ("vợ chồng em và 2 con", 4),
        ("mẹ tôi và tôi", 2),
        ("bốn", 4),
        ("bon", 4),
        ("bón", None),
        ("ba", 3),
        ("bà", 1),
    ],
)
def test_household_size_1_to_50(typed: str, expected: int | None) -> None:
    assert parse_household_size(typed) == expected


@pytest.mark.parametrize(
    ("typed", "needs"),
    [
        ("cần sửa mái nhà", ["shelter"]),  # sửa (repair) is not sữa (milk)
        ("can sua mai nha", ["food", "shelter"]),  # typed plain: could be either
        ("cần sữa cho bé", ["food"]),
        ("sua cho be", ["food"]),
        ("nhà em hết gạo", ["food"]),
        ("nha e het gao", ["food"]),
        ("nhà e hết gạo", ["food"]),
        ("tiền trọ ạ", ["shelter"]),
        ("tiền", ["money"]),
        ("tiên", []),  # a name, not tiền
        ("cần thuốc", ["medicine"]),
        ("cần thước", []),  # a ruler, not medicine
    ],
)
def test_needs_match_the_diacritics_typed(typed: str, needs: list[str]) -> None:
    assert parse_needs(typed) == needs


@pytest.mark.parametrize(
    ("typed", "symptoms"),
    [
        ("họ hàng đến thăm", None),  # họ (relatives) is not ho (cough)
        ("ho nhiều", ["cough"]),
        ("bị ho", ["cough"]),
        ("sốt", ["fever"]),
        ("sot", ["fever"]),
        ("không sót gì", None),  # sót (missed) is not sốt (fever)
        ("mệt", ["fatigue"]),
        ("mét", None),
        ("đau đầu", ["headache"]),
        ("dau dau", ["headache"]),
    ],
)
def test_symptoms_match_the_diacritics_typed(typed: str, symptoms: list[str] | None) -> None:
    assert parse_symptoms(typed) == symptoms


@pytest.mark.parametrize(
    ("typed", "vulnerable"),
    [
        ("nhà em hết gạo, con nhỏ đang ốm", ["child_under_6", "sick"]),
        ("có bà nội 80 tuổi", ["elderly"]),
        ("bà con hàng xóm", None),
        ("có bầu 5 tháng", ["pregnant"]),
        ("bâu", None),
        ("co bau", ["pregnant"]),
    ],
)
def test_vulnerable_match_the_diacritics_typed(typed: str, vulnerable: list[str] | None) -> None:
    assert parse_vulnerable(typed) == vulnerable


def test_needs_from_words_and_entities() -> None:
    assert parse_needs("gạo với mì tôm") == ["food"]
    assert parse_needs("gao va nuoc uong") == ["food", "water"]
    assert parse_needs("tiền với thuốc") == ["medicine", "money"]
    assert parse_needs("tiền trọ ạ") == ["shelter"]
    assert parse_needs("muốn về quê") == ["go_home"]
    assert parse_needs("chăm sóc y tế") == ["medical_care"]
    assert parse_needs("khác") == ["other"]
    assert parse_needs("xyz", ["medicine"]) == ["medicine"]
    assert parse_needs("hôm nay trời đẹp") == []


def test_vulnerable_members() -> None:
    assert parse_vulnerable("không có") == []
    assert parse_vulnerable("ko") == []
    assert parse_vulnerable("có bà nội 80 tuổi và cháu nhỏ 3 tuổi") == ["elderly", "child_under_6"]
    assert parse_vulnerable("vợ đang mang thai") == ["pregnant"]
    assert parse_vulnerable("có người đang nhiễm bệnh") == ["infected"]
    assert parse_vulnerable("bố bị tiểu đường") == ["chronic_illness"]
    assert parse_vulnerable("hmm để xem") is None


def test_symptoms() -> None:
    assert parse_symptoms("sốt, ho, đau họng") == ["fever", "cough", "sore_throat"]
    assert parse_symptoms("sot voi mat vi giac") == ["fever", "taste_smell"]
    assert parse_symptoms("hơi khó thở") == ["breathing"]
    assert parse_symptoms("không có") == []
    assert parse_symptoms("bình thường") == []
    assert parse_symptoms("la la") is None


def test_vaccine_doses_and_days_without_food() -> None:
    assert parse_vaccine_doses("chưa tiêm") == 0
    assert parse_vaccine_doses("2 mũi") == 2
    assert parse_vaccine_doses("ba mũi") == 3
    assert parse_vaccine_doses("9") is None
    assert parse_days_without_food("nhà hết gạo 3 ngày rồi") == 3
    assert parse_days_without_food("đói hai hôm nay") == 2
    assert parse_days_without_food("mất việc 3 ngày") is None


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("nguyễn văn an", "Nguyễn Văn An"),
        ("Trần Thị Mai", "Trần Thị Mai"),
        # with diacritics
        ("tôi tên là Trần Thị Mai", "Trần Thị Mai"),
        ("tên tôi là Trần Thị Bích", "Trần Thị Bích"),
        ("tên của tôi là Trần Thị Bích", "Trần Thị Bích"),
        ("em tên Trần Thị Mai", "Trần Thị Mai"),
        ("mình là Lê Văn Hùng", "Lê Văn Hùng"),
        ("tui tên Phạm Thu Hà", "Phạm Thu Hà"),
        ("con tên Đỗ Minh Khang ạ", "Đỗ Minh Khang"),
        ("cháu là Hoàng Văn Tú nhé", "Hoàng Văn Tú"),
        ("dạ em là Lan ạ", "Lan"),
        ("Dạ, em tên là Võ Thị Sáu.", "Võ Thị Sáu"),
        ("họ tên: Lê Văn Tám", "Lê Văn Tám"),
        ("họ và tên Nguyễn Thị Hoa nha", "Nguyễn Thị Hoa"),
        # without diacritics
        ("toi ten la nguyen van an", "Nguyen Van An"),
        ("ten e la Mai nha", "Mai"),
        ("ten toi la tran thi bich", "Tran Thi Bich"),
        ("minh la le van hung", "Le Van Hung"),
        ("da em ten la vo thi sau a", "Vo Thi Sau A"),  # a plain "a" may be a name (Văn A)
        # teencode
        ("e tên Trần Thị Mai", "Trần Thị Mai"),
        ("e ten tran thi mai nhe", "Tran Thi Mai"),
        ("mik là Hồng", "Hồng"),
        ("mk ten la Nguyen Hong", "Nguyen Hong"),
        # names that look like an introduction word stay whole
        ("Lã Thị Hoa", "Lã Thị Hoa"),
        ("Anh Thư", "Anh Thư"),
        ("Nguyễn Văn A", "Nguyễn Văn A"),
        ("Tôn Nữ Thị Hà", "Tôn Nữ Thị Hà"),
        ("Hồ Tấn Tài", "Hồ Tấn Tài"),
        # not names
        ("0912345678", None),
        ("a", None),
        ("tôi tên là", None),
        ("em tên 123", None),
    ],
)
def test_names_stored_as_meant(typed: str, stored: str | None) -> None:
    assert clean_name(typed) == stored


def test_reference_codes() -> None:
    codes = {new_ref_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        assert len(code) == 8 and set(code) <= set(ALPHABET)
        assert not set(code) & set("ILOU")
        shown = format_ref(code)
        assert shown[4] == "-"
        assert parse_ref(shown.lower()) == code
        assert parse_ref(f"kiểm tra mã {shown} giúp tôi") == code
    assert parse_ref("kiểm tra mã 7kq2 m9xa giúp tôi") == "7KQ2M9XA"
    assert parse_ref("7KQ2-M9XA") == "7KQ2M9XA"
    assert parse_ref("mã 7KQ2-M9XU") is None  # U is not in the alphabet
    assert parse_ref("yêu cầu của tôi sao rồi") is None
    assert parse_ref("ABCD-EFGH") == "ABCDEFGH"  # letters only, as 5% of codes are
    assert parse_ref("xin chao") is None


def test_priority_levels_kept_for_the_displays() -> None:
    normal = assess_priority(
        needs=["money"],
        vulnerable=[],
        household_size=2,
        days_without_food=None,
        description="mất việc",
    )
    assert normal.level == 4 and normal.reasons == ["Không có yếu tố ưu tiên"]
    food = assess_priority(
        needs=["food"],
        vulnerable=[],
        household_size=7,
        days_without_food=None,
        description="hết gạo",
    )
    assert food.level == 3 and len(food.reasons) == 2
    vulnerable = assess_priority(
        needs=["food"],
        vulnerable=["elderly"],
        household_size=2,
        days_without_food=1,
        description="hết gạo",
    )
    assert vulnerable.level == 2
    hungry = assess_priority(
        needs=["food"],
        vulnerable=[],
        household_size=2,
        days_without_food=3,
        description="đói 3 ngày",
    )
    assert hungry.level == 1
    infected = assess_priority(
        needs=["medicine"],
        vulnerable=["infected"],
        household_size=3,
        days_without_food=None,
        description="cần thuốc",
    )
    assert infected.level == 1
    emergency = assess_priority(
        needs=["other"],
        vulnerable=[],
        household_size=1,
        days_without_food=None,
        description="bố tôi khó thở",
    )
    assert emergency.level == 1
