"""Reading what residents type into clean values: phones, years, sizes, needs, symptoms.

Each parser returns None when the text does not hold a usable value, so the form can re-ask.
Matching works on the folded text (no diacritics, teencode expanded), as the NLU does.
"""

from __future__ import annotations

import re
from datetime import date

from hotline_nlu.normalize import fold

NEED_TYPES = ("food", "water", "medicine", "medical_care", "money", "shelter", "go_home", "other")
NEED_LABELS = {
    "food": "lương thực, thực phẩm",
    "water": "nước uống",
    "medicine": "thuốc men",
    "medical_care": "chăm sóc y tế",
    "money": "tiền",
    "shelter": "chỗ ở",
    "go_home": "về quê",
    "other": "khác",
}
VULNERABLE_LABELS = {
    "elderly": "người cao tuổi",
    "child_under_6": "trẻ dưới 6 tuổi",
    "pregnant": "phụ nữ mang thai",
    "disability": "người khuyết tật",
    "chronic_illness": "người có bệnh nền",
    "infected": "người đang nhiễm bệnh",
}
SYMPTOM_LABELS = {
    "fever": "sốt",
    "cough": "ho",
    "sore_throat": "đau họng",
    "breathing": "khó thở",
    "taste_smell": "mất vị giác/khứu giác",
    "fatigue": "mệt mỏi",
    "headache": "đau đầu",
    "body_ache": "đau mỏi người",
    "diarrhea": "tiêu chảy",
    "runny_nose": "sổ mũi",
}
EMERGENCY_SYMPTOMS = {"breathing"}

# Folded keywords, longest first where one contains another.
_NEED_KEYWORDS = {
    "food": [
        "gao",
        "an uong",
        "do an",
        "thuc an",
        "thuc pham",
        "luong thuc",
        "mi tom",
        "mi goi",
        "sua",
        "rau",
        "thit",
        "com",
        "doi",
        "het an",
    ],
    "water": ["nuoc uong", "nuoc sach", "nuoc"],
    "medicine": ["thuoc"],
    "medical_care": ["cham soc y te", "kham benh", "bac si", "y te", "benh vien", "cap cuu"],
    "money": ["tien", "tro cap", "ho tro tien"],
    "shelter": ["cho o", "nha tro", "tien tro", "tien nha", "cho ngu", "thue nha", "bi duoi"],
    "go_home": ["ve que", "ve nha", "ve quan", "ve tinh", "ket lai", "mac ket", "go home"],
    "other": ["khac"],
}
_VULNERABLE_KEYWORDS = {
    "elderly": [
        "nguoi gia",
        "cao tuoi",
        "ong ba",
        "ba noi",
        "ong noi",
        "ba ngoai",
        "ong ngoai",
        "cu gia",
        "lon tuoi",
    ],
    "child_under_6": ["tre", "em be", "con nho", "chau nho", "tre nho", "so sinh", "duoi 6", "be "],
    "pregnant": ["mang thai", "co bau", "bau", "thai phu", "mang bau"],
    "disability": ["khuyet tat", "tan tat", "bai liet", "khiem thi"],
    "chronic_illness": [
        "benh nen",
        "man tinh",
        "tieu duong",
        "huyet ap",
        "ung thu",
        "tim mach",
        "chay than",
        "hen suyen",
    ],
    "infected": [
        "f0",
        "duong tinh",
        "nhiem benh",
        "nhiem covid",
        "bi covid",
        "mac covid",
        "dang benh",
    ],
}
_SYMPTOM_KEYWORDS = {
    "fever": ["sot"],
    "cough": ["ho "],
    "sore_throat": ["dau hong", "rat hong", "viem hong"],
    "breathing": ["kho tho", "tho doc", "ngop tho", "hut hoi", "spo2"],
    "taste_smell": ["mat vi giac", "mat khuu giac", "mat vi", "khong ngui", "mat mui"],
    "fatigue": ["met moi", "met", "uê oai", "oai"],
    "headache": ["dau dau", "nhuc dau"],
    "body_ache": ["dau nguoi", "dau moi", "dau co", "nhuc moi", "dau minh"],
    "diarrhea": ["tieu chay", "di ngoai"],
    "runny_nose": ["so mui", "chay mui", "nghet mui"],
}
_NONE_ANSWERS = {
    "khong",
    "khong co",
    "khong co gi",
    "khong ai",
    "chua",
    "khong a",
    "khong co a",
    "ko",
    "khong co ai",
    "binh thuong",
    "khoe",
    "khong trieu chung",
    "khong di dau",
    "khong co trieu chung",
    "khong co ai ca",
    "khong di",
    "o nha",
}
_NUMBER_WORDS = {
    "mot": 1,
    "hai": 2,
    "ba": 3,
    "bon": 4,
    "tu": 4,
    "nam": 5,
    "sau": 6,
    "bay": 7,
    "tam": 8,
    "chin": 9,
    "muoi": 10,
}
_MOBILE_SECOND_DIGITS = set("35789")


def _folded(text: str) -> str:
    return f" {' '.join(re.findall(r'[a-z0-9]+', fold(text or '')))} "


def is_none_answer(text: str) -> bool:
    """True when the resident answers "no / none" ("không", "ko có", "chưa")."""
    folded = _folded(text).strip()
    return folded in _NONE_ANSWERS or folded.startswith("khong co ") and len(folded) < 16


def normalize_phone(text: str) -> str | None:
    """Returns a Vietnamese mobile number as 0xxxxxxxxx, or None if it is not one."""
    digits = re.sub(r"[\s.\-()]", "", text or "")
    match = re.search(r"(?:\+84|0084|84|0)(\d{9})(?!\d)", digits)
    if not match or digits.count(match.group(1)) != 1:
        return None
    # The number must be the whole digit run: "01234567890" is not a phone with a prefix.
    start = match.start()
    if start > 0 and digits[start - 1].isdigit():
        return None
    national = match.group(1)
    if national[0] not in _MOBILE_SECOND_DIGITS:
        return None
    return "0" + national


def parse_birth_year(text: str, *, today: date | None = None) -> int | None:
    """Returns a year of birth between 1900 and this year, or None."""
    this_year = (today or date.today()).year
    for match in re.findall(r"(?<!\d)(\d{4})(?!\d)", text or ""):
        year = int(match)
        if 1900 <= year <= this_year:
            return year
    return None


def parse_small_number(text: str) -> int | None:
    """Returns the first number in the text, in digits or as a word ("năm người"), or None."""
    folded = _folded(text)
    digits = re.search(r"(?<!\d)(\d{1,3})(?!\d)", folded)
    if digits:
        return int(digits.group(1))
    for word in folded.split():
        if word in _NUMBER_WORDS:
            return _NUMBER_WORDS[word]
    return None


def parse_household_size(text: str) -> int | None:
    """Returns the number of people in the household, 1 to 50, or None."""
    size = parse_small_number(text)
    if size is None and re.search(r"\b(mot minh|song mot minh|minh toi|1 minh)\b", _folded(text)):
        return 1
    return size if size is not None and 1 <= size <= 50 else None


def parse_vaccine_doses(text: str) -> int | None:
    """Returns the number of vaccine doses, 0 to 6, or None."""
    folded = _folded(text)
    if re.search(r"\b(chua tiem|chua|khong tiem|khong)\b", folded) and not re.search(r"\d", folded):
        return 0
    doses = parse_small_number(text)
    return doses if doses is not None and 0 <= doses <= 6 else None


def _keywords(text: str, table: dict[str, list[str]]) -> list[str]:
    folded = _folded(text)
    return [
        key
        for key, words in table.items()
        if any(f" {w.strip()} " in folded or (w.endswith(" ") and f" {w}" in folded) for w in words)
    ]


def parse_needs(text: str, entity_values: list[str] | None = None) -> list[str]:
    """Returns the need types named by entities or keywords, in the canonical order."""
    found = set(v for v in entity_values or [] if v in NEED_TYPES) | set(
        _keywords(text, _NEED_KEYWORDS)
    )
    if "shelter" in found and "money" in found and " tien tro " in _folded(text):
        found.discard("money")
    return [need for need in NEED_TYPES if need in found]


def parse_vulnerable(text: str) -> list[str] | None:
    """Returns the kinds of vulnerable members named, [] for "none", None if unclear."""
    found = _keywords(text, _VULNERABLE_KEYWORDS)
    if found:
        return found
    return [] if is_none_answer(text) else None


def parse_symptoms(text: str) -> list[str] | None:
    """Returns the symptoms named, [] for "none", None if the answer names none we know."""
    found = _keywords(text, _SYMPTOM_KEYWORDS)
    if found:
        return found
    return [] if is_none_answer(text) else None


def parse_days_without_food(text: str) -> int | None:
    """Returns how many days the household has been without food, if the text says so."""
    folded = _folded(text)
    if not re.search(
        r"\b(doi|het gao|het do an|khong co gi an|nhin an|khong co an|het an)\b", folded
    ):
        return None
    match = re.search(r"\b(\d{1,2}|mot|hai|ba|bon|nam|sau|bay)\s+(ngay|hom)\b", folded)
    if not match:
        return None
    value = match.group(1)
    return int(value) if value.isdigit() else _NUMBER_WORDS.get(value)


def clean_name(text: str) -> str | None:
    """Returns a person's name in title case, or None if it does not look like one."""
    name = " ".join((text or "").split())
    name = re.sub(
        r"^(tên (tôi|em|mình|của tôi) là|tôi (tên )?là|tên là|tôi tên|em tên|mình tên)\s+",
        "",
        name,
        flags=re.IGNORECASE,
    )
    if not 2 <= len(name) <= 120 or re.search(r"[\d@#/\\<>{}]", name):
        return None
    words = name.split()
    if not 1 <= len(words) <= 7:
        return None
    return " ".join(w[:1].upper() + w[1:].lower() for w in words)


def clean_free_text(text: str, *, max_chars: int = 300) -> str | None:
    """Returns a trimmed free-text answer, or None if it is empty."""
    value = " ".join((text or "").split())
    return value[:max_chars] if value else None
