"""One normalisation of resident text: NFC, lower case, teencode expanded, a diacritic-free view.

Stdlib only: it runs inside Rasa (Python 3.10) as part of the tokenizer and in the app
(Python 3.11+) wherever text is matched against data, so both sides see the same words.
"""

from __future__ import annotations

import re
import unicodedata

# Teencode and abbreviations as residents type them, keyed by the diacritic-free lower-case
# token. Only unambiguous forms are expanded: "bn" (bạn / bao nhiêu), "nc" (nước / nói chuyện)
# and "v" (vậy / vâng) stay as they are and the classifier learns them from examples.
TEENCODE: dict[str, str] = {
    "ko": "không",
    "k": "không",
    "kh": "không",
    "khg": "không",
    "hok": "không",
    "hong": "không",
    "hem": "không",
    "khum": "không",
    "kô": "không",
    "khong": "không",
    "dc": "được",
    "đc": "được",
    # "đk" is also "được" in chat, but residents of a hotline write it for "đăng ký" far more
    # often ("đk tiêm", "đk về quê", "e đk r mà chưa ai gọi").
    "dk": "đăng ký",
    "đk": "đăng ký",
    "dki": "đăng ký",
    "đki": "đăng ký",
    "duoc": "được",
    "j": "gì",
    "gi": "gì",
    "e": "em",
    "a": "anh",
    "vs": "với",
    "r": "rồi",
    "roai": "rồi",
    "ntn": "như thế nào",
    "sdt": "số điện thoại",
    "sđt": "số điện thoại",
    "đt": "điện thoại",
    "dt": "điện thoại",
    "mik": "mình",
    "mk": "mình",
    "mh": "mình",
    "ng": "người",
    "ngta": "người ta",
    "cx": "cũng",
    "cg": "cũng",
    "bik": "biết",
    "bít": "biết",
    "bit": "biết",
    "wa": "quá",
    "qa": "quá",
    "wá": "quá",
    "ms": "mới",
    "trc": "trước",
    "bh": "bao giờ",
    "h": "giờ",
    "cty": "công ty",
    "nt": "nhắn tin",
    "ib": "nhắn tin",
    "tl": "trả lời",
    "nhìu": "nhiều",
    "nhiu": "nhiều",
    "z": "vậy",
    "dzậy": "vậy",
    "zậy": "vậy",
    "ak": "à",
    "ah": "à",
    "uk": "ừ",
    "uh": "ừ",
    "um": "ừ",
    "ừm": "ừ",
    "oke": "ok",
    "okie": "ok",
    "oki": "ok",
    "okela": "ok",
    "okay": "ok",
    "tks": "cảm ơn",
    "thks": "cảm ơn",
    "thx": "cảm ơn",
    "thanks": "cảm ơn",
    "kbyt": "khai báo y tế",
    "xn": "xét nghiệm",
    "bv": "bệnh viện",
    "bs": "bác sĩ",
    "nv": "nhân viên",
    "tdv": "tổng đài viên",
    "tđv": "tổng đài viên",
    "vx": "vắc xin",
    "vacxin": "vắc xin",
    "vaccine": "vắc xin",
    "vacin": "vắc xin",
    "vaxin": "vắc xin",
    "gđ": "gia đình",
    "gd": "gia đình",
    "sg": "sài gòn",
    "hcm": "hồ chí minh",
    "tphcm": "thành phố hồ chí minh",
    "tp": "thành phố",
    "ad": "admin",
    "dag": "đang",
    "đag": "đang",
    "yc": "yêu cầu",
    "ktra": "kiểm tra",
    "mún": "muốn",
    "hqua": "hôm qua",
    "hqa": "hôm qua",
    "hnay": "hôm nay",
    "ttin": "thông tin",
    "lm": "làm",
    "thui": "thôi",
    "ik": "đi",
    "sv": "sinh viên",
    "yt": "y tế",
    "yte": "y tế",
    "kq": "kết quả",
    "mn": "mọi người",
    "t": "tôi",
    "kcn": "khu công nghiệp",
    "fb": "facebook",
    "face": "facebook",
    # Southern and Central words for the common ones, when typed with their marks.
    "hông": "không",
    "hổng": "không",
    "dìa": "về",
    "mần": "làm",
    "dzị": "vậy",
    "zị": "vậy",
}

# Places, days and amounts written short: "q1" (quận 1), "p12", "t7" (thứ bảy, as "thứ 7"),
# "70t" (tuổi), "3tr" (triệu), "12h" (giờ).
_SHORT_FORMS = [
    (re.compile(r"q\.?(\d{1,2})"), "quận {}"),
    (re.compile(r"p\.?(\d{1,2})"), "phường {}"),
    (re.compile(r"t([2-7])"), "thứ {}"),
    (re.compile(r"(\d{1,3})t"), "{} tuổi"),
    (re.compile(r"(\d{1,4})tr"), "{} triệu"),
    (re.compile(r"(\d{1,2})h"), "{} giờ"),
]

_REPEATS = re.compile(r"(\w)\1{2,}")
_SPACES = re.compile(r"\s+")


def strip_diacritics(text: str) -> str:
    """Returns text without Vietnamese tone and vowel marks ("Bến Thành" -> "Ben Thanh")."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped)


def clean(text: str) -> str:
    """Returns NFC, lower-case text with stretched letters ("cứuuuu") and spaces collapsed."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _REPEATS.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def normalize_word(word: str) -> list[str]:
    """Returns the words one typed word stands for: "sdt" -> ["số", "điện", "thoại"]."""
    word = clean(word)
    for pattern, expansion in _SHORT_FORMS:
        match = pattern.fullmatch(word)
        if match:
            return expansion.format(match.group(1)).split()
    # Exact keys only: looking up the diacritic-free form would turn the name "Hồng" into "không".
    return TEENCODE.get(word, word).split() or [word]


def normalize(text: str) -> str:
    """Returns the normalised text with teencode expanded, diacritics kept."""
    return " ".join(w for word in clean(text).split() for w in normalize_word(word))


def fold(text: str) -> str:
    """Returns the diacritic-free view of the normalised text, for matching and features."""
    return strip_diacritics(normalize(text))
