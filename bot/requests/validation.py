"""Reading what residents type into clean values: phones, years, sizes, needs, symptoms.

Each parser returns None when the text does not hold a usable value, so the form can re-ask.
Matching keeps the diacritics the resident typed and folds only words typed without them
(bot/requests/words.py), with teencode expanded as the NLU does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import phonenumbers

from bot.requests.words import find_phrase, has_any, is_phrase, phrase_at, word_matches, words

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
    "sick": "người đang ốm",
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
# The largest household a request may name: one limit for the form, the parser and the service.
MAX_HOUSEHOLD = 50

# Keywords as Vietnamese is written; a word typed without diacritics also matches the plain
# form of a keyword word, a word typed with them only the same word (bot/requests/words.py).
_NEED_KEYWORDS = {
    "food": [
        "gạo",
        "ăn uống",
        "đồ ăn",
        "thức ăn",
        "thực phẩm",
        "lương thực",
        "mì tôm",
        "mì gói",
        "sữa",
        "rau",
        "thịt",
        "cơm",
        "đói",
        "hết ăn",
        "cái ăn",
    ],
    "water": ["nước uống", "nước sạch", "nước"],
    "medicine": ["thuốc"],
    "medical_care": ["chăm sóc y tế", "khám bệnh", "bác sĩ", "y tế", "bệnh viện", "cấp cứu"],
    "money": ["tiền", "trợ cấp"],
    "shelter": [
        "chỗ ở",
        "nhà trọ",
        "tiền trọ",
        "tiền nhà",
        "chỗ ngủ",
        "thuê nhà",
        "bị đuổi",
        "sửa nhà",
        "mái nhà",
        "nhà dột",
    ],
    "go_home": ["về quê", "về nhà", "về tỉnh", "kẹt lại", "mắc kẹt", "go home"],
    "other": ["khác"],
}
_VULNERABLE_KEYWORDS = {
    "elderly": [
        "người già",
        "cao tuổi",
        "ông bà",
        "bà nội",
        "ông nội",
        "bà ngoại",
        "ông ngoại",
        "cụ già",
        "lớn tuổi",
        "bà cụ",
        "ông cụ",
    ],
    "child_under_6": [
        "trẻ",
        "em bé",
        "con nhỏ",
        "cháu nhỏ",
        "trẻ nhỏ",
        "sơ sinh",
        "dưới 6",
        "bé",
        "con nít",
    ],
    "pregnant": ["mang thai", "có bầu", "bầu", "thai phụ", "mang bầu", "có thai"],
    "disability": ["khuyết tật", "tàn tật", "bại liệt", "khiếm thị", "khiếm thính"],
    "chronic_illness": [
        "bệnh nền",
        "mãn tính",
        "tiểu đường",
        "huyết áp",
        "ung thư",
        "tim mạch",
        "chạy thận",
        "hen suyễn",
    ],
    "infected": [
        "f0",
        "dương tính",
        "nhiễm bệnh",
        "nhiễm covid",
        "bị covid",
        "mắc covid",
    ],
    "sick": ["ốm", "đang bệnh", "bị bệnh", "bệnh nặng", "sốt", "đau ốm", "nằm viện"],
}
_SYMPTOM_KEYWORDS = {
    "fever": ["sốt"],
    "cough": ["ho"],
    "sore_throat": ["đau họng", "rát họng", "viêm họng"],
    "breathing": ["khó thở", "thở dốc", "ngộp thở", "hụt hơi", "spo2"],
    "taste_smell": ["mất vị giác", "mất khứu giác", "mất vị", "không ngửi", "mất mùi"],
    "fatigue": ["mệt mỏi", "mệt", "uể oải"],
    "headache": ["đau đầu", "nhức đầu"],
    "body_ache": ["đau người", "đau mỏi", "đau cơ", "nhức mỏi", "đau mình"],
    "diarrhea": ["tiêu chảy", "đi ngoài"],
    "runny_nose": ["sổ mũi", "chảy mũi", "nghẹt mũi"],
}
_NONE_ANSWERS = (
    "không",
    "không có",
    "không có gì",
    "không ai",
    "chưa",
    "không ạ",
    "không có ạ",
    "không có ai",
    "bình thường",
    "khỏe",
    "không triệu chứng",
    "không đi đâu",
    "không có triệu chứng",
    "không có ai cả",
    "không đi",
    "ở nhà",
)
_NUMBER_WORDS = {
    "một": 1,
    "hai": 2,
    "ba": 3,
    "bốn": 4,
    "tư": 4,
    "năm": 5,
    "sáu": 6,
    "bảy": 7,
    "bẩy": 7,
    "tám": 8,
    "chín": 9,
    "mười": 10,
}
# Words that count people: "4 người", "ba nhân khẩu".
_PEOPLE_NOUNS = ("người", "nhân khẩu", "khẩu", "thành viên", "mạng")
# Members of a household named one by one ("bà và tôi", "vợ chồng em với 2 đứa nhỏ").
_SELF_WORDS_IN_HOUSEHOLD = ("tôi", "em", "mình", "tui", "tớ")
_MEMBER_WORDS = (
    "vợ",
    "chồng",
    "bố",
    "mẹ",
    "ba",
    "má",
    "cha",
    "ông",
    "bà",
    "anh",
    "chị",
    "cô",
    "chú",
    "dì",
    "cậu",
)
_CHILD_NOUNS = ("con", "cháu", "đứa", "bé", "nhóc")
_NO_FOOD = (
    "đói",
    "hết gạo",
    "hết đồ ăn",
    "hết thức ăn",
    "hết lương thực",
    "không có gì ăn",
    "nhịn ăn",
    "không có ăn",
    "hết ăn",
    "không có cái ăn",
)
_MOBILE_SECOND_DIGITS = set("35789")


def _number(word: str) -> int | None:
    if word.isdigit() and len(word) <= 3:
        return int(word)
    return next((n for w, n in _NUMBER_WORDS.items() if word_matches(word, w)), None)


def is_none_answer(text: str) -> bool:
    """True when the resident answers "no / none" ("không", "ko có", "chưa")."""
    tokens = words(text)
    if is_phrase(tokens, _NONE_ANSWERS):
        return True
    return phrase_at(tokens, 0, ("không", "có")) and len(" ".join(tokens)) < 16


def normalize_phone(text: str) -> str | None:
    """Returns a Vietnamese mobile number in E.164 (+84xxxxxxxxx), or None if it is not one."""
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
    try:
        number = phonenumbers.parse("+84" + national, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(phone: str) -> str:
    """Shows a stored number the Vietnamese way: "+84912345678" → "0912 345 678"."""
    try:
        number = phonenumbers.parse(phone, "VN")
    except phonenumbers.NumberParseException:
        return phone
    if number.country_code != 84:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = f"0{number.national_number}"
    if len(national) != 10:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return f"{national[:4]} {national[4:7]} {national[7:]}"


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
    for word in words(text):
        number = _number(word)
        if number is not None:
            return number
    return None


def _counted_people(tokens: list[str]) -> int | None:
    """ "4 người", "ba nhân khẩu": the number before a word that counts people."""
    for i, word in enumerate(tokens):
        number = _number(word)
        if number is not None and any(phrase_at(tokens, i + 1, p.split()) for p in _PEOPLE_NOUNS):
            return number
    return None


def _named_members(tokens: list[str]) -> int:
    """Counts members named one by one: "bà và tôi" → 2, "vợ chồng em và 2 con" → 4."""
    count = 0
    self_counted = False
    i = 0
    while i < len(tokens):
        number = _number(tokens[i])
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if number is not None and any(word_matches(following, c) for c in _CHILD_NOUNS):
            count += number
            i += 2
        elif phrase_at(tokens, i, ("vợ", "chồng")):
            # "vợ chồng em": the couple includes the speaker.
            count += 2
            i += 2
            self_counted = True
        elif any(word_matches(tokens[i], w) for w in _SELF_WORDS_IN_HOUSEHOLD):
            # "mẹ tôi và tôi": the speaker once, however often "tôi" is said.
            count += 0 if self_counted else 1
            self_counted = True
            i += 1
        else:
            count += any(word_matches(tokens[i], m) for m in _MEMBER_WORDS + _CHILD_NOUNS)
            i += 1
    return count


def parse_counted_household(text: str) -> int | None:
    """Returns a household size said with its noun ("nhà 4 người"), for reading it out of a
    longer message, or None."""
    size = _counted_people(words(text))
    return size if size is not None and 1 <= size <= MAX_HOUSEHOLD else None


def parse_household_size(text: str) -> int | None:
    """Returns the number of people in the household, 1 to MAX_HOUSEHOLD, or None."""
    tokens = words(text)
    size = _counted_people(tokens)
    if size is None and len(tokens) == 1:
        size = _number(tokens[0])
    if size is None and has_any(tokens, ("một mình", "sống một mình", "mình tôi", "1 mình")):
        size = 1
    if size is None:
        size = _named_members(tokens) or None
    if size is None:
        size = parse_small_number(text)
    return size if size is not None and 1 <= size <= MAX_HOUSEHOLD else None


def parse_vaccine_doses(text: str) -> int | None:
    """Returns the number of vaccine doses, 0 to 6, or None."""
    tokens = words(text)
    if has_any(tokens, ("chưa", "không")) and not any(t.isdigit() for t in tokens):
        return 0
    doses = parse_small_number(text)
    return doses if doses is not None and 0 <= doses <= 6 else None


def _keywords(text: str, table: dict[str, list[str]]) -> list[str]:
    tokens = words(text)
    return [key for key, phrases in table.items() if has_any(tokens, phrases)]


def parse_needs(text: str, entity_values: list[str] | None = None) -> list[str]:
    """Returns the need types named by entities or keywords, in the canonical order."""
    found = set(v for v in entity_values or [] if v in NEED_TYPES) | set(
        _keywords(text, _NEED_KEYWORDS)
    )
    if "shelter" in found and "money" in found and find_phrase(words(text), "tiền trọ") >= 0:
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
    tokens = words(text)
    if not has_any(tokens, _NO_FOOD):
        return None
    for i, word in enumerate(tokens[:-1]):
        number = _number(word)
        if number is not None and number <= 60 and has_any(tokens[i + 1 : i + 2], ("ngày", "hôm")):
            return number
    return None


# How people introduce themselves before their name, in the three styles (teencode is
# expanded first: "e" → "em", "mik" → "mình"): "tôi tên là", "tên e là", "dạ cháu là"…
_POLITE_OPENERS = (("dạ", "vâng"), ("dạ",), ("vâng",), ("thưa",), ("xin", "chào"), ("chào",))
_SELF_WORDS = ("tôi", "em", "mình", "tui", "tớ", "con", "cháu", "anh", "chị", "tao", "t")
_TRAILING_PARTICLES = ("ạ", "nha", "nhé", "nhe", "nhá", "nhen", "à", "ạh", "đó", "đấy", "ak")
_NAME_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")


def _intro_length(tokens: list[str]) -> int:
    """How many leading words introduce the name ("e tên là Mai" → 3), 0 if none do."""

    def at(i: int, *options: str) -> int:
        return next((len(o.split()) for o in options if phrase_at(tokens, i, o.split())), 0)

    i = 0
    for opener in _POLITE_OPENERS:
        if phrase_at(tokens, 0, opener):
            i = len(opener)
            break
    self_word = at(i, *_SELF_WORDS)
    name_words = at(i + self_word, "họ và tên", "họ tên", "tên đầy đủ", "tên")
    if name_words:
        j = i + self_word + name_words
        # "tên tôi là", "tên của em là"
        if not self_word:
            j += at(j, *(f"của {w}" for w in _SELF_WORDS)) or at(j, *_SELF_WORDS)
        return j + at(j, "là")
    if self_word and at(i + self_word, "là"):
        return i + self_word + 1
    return i


def clean_name(text: str) -> str | None:
    """Returns a person's name in title case, without "tôi tên là …" or a trailing "ạ", or
    None if it does not look like a name."""
    raw = " ".join((text or "").split())
    if re.search(r"[\d@#/\\<>{}]", raw):
        return None
    typed = _NAME_WORD.findall(raw)
    # One expanded word per typed word keeps the two lists aligned ("e" → "em", "mik" →
    # "mình"); a multi-word expansion such as "sdt" is never part of an introduction.
    expanded = [(words(w) or [w.lower()])[0] if len(words(w)) == 1 else w.lower() for w in typed]
    skip = _intro_length(expanded)
    end = len(typed)
    while end > skip and any(word_matches(expanded[end - 1], p) for p in _TRAILING_PARTICLES):
        end -= 1
    name_words = typed[skip:end]
    name = " ".join(name_words)
    if not 2 <= len(name) <= 120 or not 1 <= len(name_words) <= 7:
        return None
    return " ".join(w[:1].upper() + w[1:].lower() for w in name_words)


@dataclass(frozen=True)
class AidAnswers:
    """What one message says about a hardship request, beyond the question it answers:
    "nhà em hết gạo, con nhỏ đang ốm" names a need, a child, a sick member and the situation."""

    needs: list[str] = field(default_factory=list)
    vulnerable: list[str] = field(default_factory=list)
    household_size: int | None = None
    days_without_food: int | None = None
    phone: str | None = None
    place: str | None = None  # "phường Bến Thành, TP HCM": the part naming a ward, to resolve
    description: str | None = None  # the message itself, when it tells the situation

    def is_empty(self) -> bool:
        """True when the message says nothing a request keeps."""
        return not (self.needs or self.vulnerable or self.household_size or self.phone)


_PLACE_START = re.compile(r"(?i)\b(phường|phuong|xã|đặc khu|dac khu|thị trấn|thi tran)\s")


def read_aid_answers(text: str) -> AidAnswers:
    """Reads every answer a message gives (needs, members, size, days without food, phone,
    place); the message is the description when it tells the situation."""
    needs = [n for n in parse_needs(text) if n != "other"]
    vulnerable = _keywords(text, _VULNERABLE_KEYWORDS)
    days = parse_days_without_food(text)
    phone = next(
        (p for p in (normalize_phone(c) for c in re.findall(r"\+?[\d .\-]{9,16}", text)) if p),
        None,
    )
    start = _PLACE_START.search(text or "")
    place = text[start.start() :].strip(" .") if start else None
    # "làm sao để về quê" asks how; "mắc kẹt ở Sài Gòn, hết tiền" tells the situation.
    tells_situation = (set(needs) - {"go_home"} or vulnerable or days) and len(words(text)) >= 4
    return AidAnswers(
        needs=needs,
        vulnerable=vulnerable,
        household_size=parse_counted_household(text),
        days_without_food=days,
        phone=phone,
        place=place,
        description=clean_free_text(text, max_chars=1000) if tells_situation else None,
    )


def clean_free_text(text: str, *, max_chars: int = 300) -> str | None:
    """Returns a trimmed free-text answer, or None if it is empty."""
    value = " ".join((text or "").split())
    return value[:max_chars] if value else None
