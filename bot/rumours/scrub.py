"""Removes what could identify a resident from a question before it is kept: phone numbers
and other long digit runs (ID cards, bank accounts), e-mail addresses, @handles, the path of
links, personal names introduced as names ("tôi là Lan", "tên em là …") and house numbers
with their street ("số 12 Nguyễn Huệ", "12/3 Lê Lợi", "hẻm 45").

Rules, not a model: what they miss stays in a table kept as personal data (registry,
retention, erasure), so a slip is still covered."""

from __future__ import annotations

import re

PHONE = "[số điện thoại]"
NUMBER = "[số]"
EMAIL = "[email]"
HANDLE = "[tài khoản]"
NAME = "[tên]"
ADDRESS = "[địa chỉ]"

# Capital letters of the Latin script (Vietnamese ones included: Đ, Ư, Ơ, Ấ …).
_UPPER = "".join(chr(c) for c in range(0x41, 0x1F00) if chr(c).isalpha() and chr(c).isupper())
_CAP_WORD = rf"[{_UPPER}][^\W\d_]*(?!\w)"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b(?:https?://|www\.)([\w.-]+)[^\s]*", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_.]{3,}")
# A Vietnamese phone: +84 / 84 / 0 then 8–10 more digits, with spaces, dots or dashes.
_PHONE = re.compile(r"(?<![\w.])(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?![\d])")
# Money keeps its digits ("2.000.000 đồng"); any other run of 9+ digits is an ID or account.
_MONEY = re.compile(r"\d{1,3}(?:[.,]\d{3})+\s*(?:đ\b|đồng|vnđ|vnd|dong)", re.IGNORECASE)
_LONG_DIGITS = re.compile(r"(?<![\w])\d(?:[\s.\-]?\d){8,}(?![\d])")

# "tên tôi là X", "tôi tên X", "họ tên: X": whatever follows is a name (up to 4 words, any
# case: names typed without capitals or diacritics too).
_NAME_TRIGGER = re.compile(
    r"\b(?:(?:họ\s+)?tên\s+(?:của\s+)?(?:tôi|em|mình|tui|con|cháu)(?:\s+là)?|"
    r"(?:tôi|em|mình|tui|con|cháu)\s+tên(?:\s+là)?|họ\s+(?:và\s+)?tên\s*:?|"
    r"ten\s+(?:toi|em|minh|tui|con|chau)(?:\s+la)?|(?:toi|em|minh|tui)\s+ten(?:\s+la)?|"
    r"ho\s+(?:va\s+)?ten\s*:?)\s+",
    re.IGNORECASE,
)
# "tôi là X": a name only when X is capitalised ("tôi là người dân" is not a name).
_IAM = re.compile(r"\b(?:tôi|em|mình|tui|toi|minh)\s+(?:là|la)\s+", re.IGNORECASE)
# Words that end a name (what usually follows it in a question).
# (Not "thi", "nam", "ma", "co" …: without diacritics they are names too, Thị, Nam, Mã.)
_AFTER_NAME = {
    "ở",
    "o",
    "sống",
    "nhà",
    "nha",
    "hỏi",
    "muốn",
    "muon",
    "thấy",
    "nghe",
    "đang",
    "dang",
    "năm",
    "tuổi",
    "tuoi",
    "có",
    "là",
    "la",
    "và",
    "va",
    "cho",
    "xin",
    "được",
    "duoc",
    "bị",
    "thì",
    "mà",
    "người",
    "nguoi",
    "ơi",
    "oi",
    "ạ",
    "a",
    "nè",
    "ne",
    "đây",
    "day",
}
# A house number with its street: "số 12 Nguyễn Huệ", "12/3A Lê Lợi", "nhà 45 đường Trần Phú".
_HOUSE = re.compile(
    rf"\b(?:(?:số\s+nhà|nhà\s+số|số|so\s+nha|so|nhà|nha|căn\s+hộ|can\s+ho|phòng|phong|lô|lo)\s+)?"
    rf"\d+[A-Za-z]?(?:/\d+[A-Za-z]?)*\s+(?:(?:đường|duong|phố|pho)\s+)?"
    rf"(?:{_CAP_WORD})(?:\s+{_CAP_WORD}){{0,3}}"
)
# Alleys and lanes with their number: "hẻm 12/4", "ngõ 5", "kiệt 3", "ngách 7".
_LANE = re.compile(
    r"\b(?:hẻm|hem|ngõ|ngo|ngách|ngach|kiệt|kiet|số\s+nhà|so\s+nha|nhà\s+số|nha\s+so)"
    r"\s+\d+[A-Za-z]?(?:/\d+[A-Za-z]?)*",
    re.IGNORECASE,
)


def _scrub_names(text: str) -> str:
    out: list[str] = []
    position = 0
    for trigger, capitals_only in _triggers(text):
        start, end = trigger.span()
        if start < position:
            continue
        words = list(re.finditer(r"\w+", text[end:]))
        taken_end = None
        cursor = end
        for count, word in enumerate(words):
            gap = text[cursor : end + word.start()]
            if gap.strip():  # punctuation between: the name ended
                break
            value = word.group(0)
            if not value.isalpha() or value.lower() in _AFTER_NAME or count == 4:
                break
            if capitals_only and not value[0].isupper():
                break
            cursor = end + word.end()
            taken_end = cursor
        if taken_end is None:
            continue
        out.append(text[position:end])
        out.append(NAME)
        position = taken_end
    out.append(text[position:])
    return "".join(out)


def _triggers(text: str) -> list[tuple[re.Match[str], bool]]:
    found = [(m, False) for m in _NAME_TRIGGER.finditer(text)]
    found += [(m, True) for m in _IAM.finditer(text)]
    return sorted(found, key=lambda item: item[0].start())


def scrub(text: str) -> str:
    """The question without phone numbers, e-mails, handles, link paths, names introduced
    as names, or house numbers and streets."""
    text = _EMAIL.sub(EMAIL, text)
    text = _URL.sub(lambda m: f"[liên kết {m.group(1).lower()}]", text)
    text = _HANDLE.sub(HANDLE, text)
    text = _PHONE.sub(PHONE, text)
    kept: list[str] = []

    def keep_money(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return f"\x00{len(kept) - 1}\x00"

    text = _MONEY.sub(keep_money, text)
    text = _LONG_DIGITS.sub(NUMBER, text)
    text = re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)
    text = _LANE.sub(ADDRESS, text)
    text = _HOUSE.sub(ADDRESS, text)
    text = _scrub_names(text)
    return re.sub(r"\s+", " ", text).strip()
