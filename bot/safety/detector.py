"""Rules that recognise a life-threatening situation in a resident's message.

Written from how residents type (with diacritics, without, teencode; Northern, Central and
Southern words) over the one normalisation of `hotline_nlu.normalize`. A word written with
diacritics in a rule matches the same word with those diacritics, or the word typed with none
at all, never another accented word: "tím" (blue) matches "tím" and "tim" but not "tìm"
(search), which is what issue 7 item 6 asks of accent folding.

A phrase that matches is then dropped when the message says it is not happening now:
negated ("không khó thở"), over ("hôm qua khó thở nay hết rồi"), hypothetical ("nếu bị khó
thở thì…") or a question about the topic ("hỏi về khó thở sau tiêm") — unless the same
sentence also says it is happening to someone now ("mẹ em khó thở quá, sơ cứu sao").
SpO2 is read as a number and fires below 94 %.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from hotline_nlu.normalize import normalize, strip_diacritics

SPO2_DANGER_BELOW = 94  # Bộ Y tế: SpO2 < 94 % is a sign of a severe case
_SPO2_PLAUSIBLE_FROM = 50  # lower "readings" are litres, doses or percentages of something else


class Category(str, Enum):  # noqa: UP042 (no StrEnum: Rasa's Python 3.10 runs it too)
    UNCONSCIOUS = "unconscious"
    BREATHING = "breathing"
    CYANOSIS = "cyanosis"
    SEIZURE = "seizure"
    BLEEDING = "bleeding"
    STROKE = "stroke"
    CHEST_PAIN = "chest_pain"
    SUICIDE = "suicide"
    LOW_SPO2 = "low_spo2"
    CONFIRMED = "confirmed"  # the resident pressed "yes, in danger" after the bot's check


# The button payload of that answer (see actions/handoff.py): an emergency without any words.
CONFIRM_PAYLOAD = "/emergency"


@dataclass(frozen=True)
class SafetyResult:
    """What the layer found; `category` is for the audit trail and the staff queue."""

    category: Category | None = None

    @property
    def is_emergency(self) -> bool:
        return self.category is not None


_WORD = re.compile(r"(?<![\\\w])=?[^\W\d_]+")
_GAP = "\x01"  # " ~ " in a rule: up to three other words in between


def _word(match: re.Match[str]) -> str:
    word = match.group(0)
    if word.startswith("="):  # "=tự =tử": diacritics required ("tu tu" is "từ từ")
        return word[1:]
    plain = strip_diacritics(word)
    return word if plain == word else f"(?:{word}|{plain})"


def _rule(source: str) -> str:
    source = source.replace(" ~ ", _GAP)
    source = _WORD.sub(_word, source).replace(" ", r"\W+")
    return source.replace(_GAP, r"(?:\W+\w+){0,3}\W+")


def _compile(*sources: str) -> re.Pattern[str]:
    joined = "|".join(f"(?:{_rule(s)})" for s in sources)
    return re.compile(rf"(?<!\w)(?:{joined})(?!\w)")


_NEG = "(không|chẳng|chả|chưa|hổng|hông|hem|khum|chớ)"
# Not "da" (skin) nor "người": typed plain they are "đã" and "người" in "đã tìm", "người tôi tìm".
_BODY = "(môi|mặt|mồm|miệng|móng tay|móng|đầu ngón tay|đầu ngón|ngón tay|tay chân)"
_MUCH = (
    "(nhiều|quá|dữ|dữ lắm|ồ ạt|xối xả|lênh láng|liên tục|mãi|hoài|không ngừng|không cầm|"
    "không dừng|không hết|không cầm được|ướt|thấm|từng cục|cục|như xối|như suối)"
)
_RULES: dict[Category, re.Pattern[str]] = {
    Category.UNCONSCIOUS: _compile(
        "ngất( xỉu)?",
        "xỉu",
        "sỉu",
        "bất tỉnh( nhân sự)?",
        "hôn mê",
        "mê man",
        "lịm (đi|người|dần)",
        "(ngất|nằm) lịm",
        "lả đi",
        "li bì",
        "lơ mơ",
        "mê sảng",
        "(gọi|lay|kêu|đánh thức) ~ " + _NEG + " (dậy|tỉnh|thưa|trả lời|phản ứng|mở mắt)",
        "(gọi|lay|kêu) " + _NEG + "( được| thấy)? (dậy|tỉnh|thưa|trả lời)",
        _NEG + " (tỉnh|tỉnh lại|cử động|nhúc nhích)( gì)?( nữa)?",
        "nằm (im|bất động) ~ " + _NEG + " (cử động|nhúc nhích|trả lời|thở)",
        "bất động",
        "(không|chẳng) (còn )?biết gì( nữa)?",
        "(ngừng|đứng|ngưng) tim",
        "tim (ngừng|ngưng) đập",
        "(đuối nước|chết đuối|điện giật)",
    ),
    Category.BREATHING: _compile(
        "khó thở",
        "khó (hít|thở) (thở|vào)",
        "thở " + _NEG + " (nổi|được|ra hơi|ra)",
        "thở (rất |quá |khá |hơi )?(gấp|dốc|hổn hển|khò khè|rít|thoi thóp|ngáp|nặng nhọc|nặng|mệt|nhanh|hụt|phì phò|yếu)",
        "(ngưng|ngừng|tắt|hết) thở",
        _NEG + " (còn )?thở( được| nổi)?( nữa)?",
        "(hụt|hết|đứt) hơi",
        "(ngộp|ngạt|nghẹt|nghẹn) thở",
        "thở (rất |quá |khá )?khó( khăn)?",
        "(thở|cánh mũi) phập phồng",
        "(tức|nặng) ngực (khó|không) thở",
        "hóc (xương|dị vật|hạt|kẹo|đồ chơi|thức ăn|đồ ăn)",
        "(mắc|bị) nghẹn",
        "(khó|không) hô hấp",
        "suy hô hấp",
    ),
    Category.CYANOSIS: _compile(
        _BODY + " ~ (tím|tái tím|tím tái|tím ngắt|thâm tím|xanh tím|tái xanh|tái mét)",
        "tím (tái|ngắt|lịm|đen)",
        "tái (tím|xanh|mét)",
        "tím (môi|mặt|tái)",
    ),
    Category.SEIZURE: _compile(
        "co giật",
        "co quắp",
        "lên cơn (động kinh|giật|kinh phong)",
        "động kinh",
        "kinh phong",
        "(sùi|sủi) bọt mép",
        "trợn (trắng )?mắt",
        "mắt trợn( ngược| trắng)?",
        "giật (tay chân|cả người|liên tục|từng cơn|người)",
        "gồng (cứng )?người",
    ),
    Category.BLEEDING: _compile(
        "(chảy|ra|mất|xuất|tuôn|ộc|trào) (máu|huyết) ~ " + _MUCH,
        "(chảy|ra|mất|tuôn|ộc|trào) (máu|huyết) " + _MUCH,
        "máu (chảy|ra|tuôn) ~ " + _MUCH,
        "(máu|huyết) " + _MUCH,
        "băng huyết",
        "xuất huyết (nặng|nhiều|não|tiêu hóa|dạ dày|ồ ạt)",
        "(nôn|ói|mửa|ho|khạc) ra máu",
        "(bầu|mang thai|có thai|thai phụ|bà bầu|thai nhi|tháng thai) ~ (ra|chảy) (máu|huyết)",
        "(ra|chảy) (máu|huyết) ~ (bầu|mang thai|có thai|thai)",
        "(vết thương|đứt|vỡ|gãy|tai nạn) ~ (chảy máu|máu) ~ (không cầm|không ngừng|nhiều|quá)",
    ),
    Category.STROKE: _compile(
        "méo (miệng|mồm|mặt một bên|một bên|1 bên|nửa mặt)",
        "(miệng|mồm) (bị )?(méo|xệ|lệch)",
        "(lệch|xệ) (miệng|mồm|mặt)",
        "mặt (bị )?(lệch|xệ|méo một bên)",
        "liệt (nửa|1|một) (người|bên|mặt)",
        "(yếu|tê|liệt) (nửa|1|một) (người|bên)( người)?",
        "(đột ngột|tự nhiên|bỗng|bỗng dưng|bỗng nhiên|bất ngờ|đột nhiên) ~ (nói ngọng|nói lắp|nói đớ|nói khó|"
        "nói không (rõ|ra|được)|yếu tay|yếu chân|tê tay|liệt)",
        "(nói ngọng|nói đớ|nói lắp|nói không rõ|nói khó) ~ (đột ngột|tự nhiên|bất ngờ|đột nhiên)",
        "nói (ngọng|đớ|lắp) (hẳn|luôn|líu) ~ (méo|yếu|tê)",
        "lưỡi (bị )?(líu|cứng|đớ)",
        "đột quỵ",
        "tai biến( mạch máu não)?",
        "(không|chẳng) (nhấc|cầm|giơ) (được )?(tay|chân)",
        "(tay|chân) (trái|phải)? ~ (không|chẳng) (nhấc|cầm|giơ|cử động) (được|nổi)",
    ),
    Category.CHEST_PAIN: _compile(
        "(đau|tức|nhói|thắt|nặng) (ngực|tim|lồng ngực)",
        "đau (thắt|nhói|tức|buốt) (ngực|tim|lồng ngực|ở ngực|vùng ngực)",
        "ngực (đau|tức|nặng|thắt|nhói|bị đè)",
        "(cơn )?đau tim",
        "nhồi máu cơ tim",
    ),
    Category.SUICIDE: _compile(
        "=tự =tử",
        "=tự =tữ",
        "=tự =vẫn",
        "tự sát",
        "(muốn|mún|định|sẽ|đòi|tính|nghĩ đến|nghĩ tới|có ý|ý định|cố|đang|đã|vừa|dọa|thử|đi) tự (tử|tữ)",
        "(muốn|mún|thèm|chỉ muốn|thà) (được )?chết",
        "chết (quách|đi) cho (xong|rồi|nhẹ)",
        "chết cho (xong|rồi|nhẹ người|yên)",
        "(không|chẳng|hết) (muốn|mún|thiết|còn muốn) sống( nữa)?",
        "(chán|mệt mỏi với) (sống|cuộc sống|đời)",
        "sống (không|chẳng|còn) (có )?(ý nghĩa|để làm gì|nổi nữa)",
        "kết (thúc|liễu) (cuộc đời|cuộc sống|đời|mạng sống|tất cả|bản thân)",
        "tìm (đến|tới) cái chết",
        "nhảy (lầu|cầu|sông|xuống sông|từ tầng)",
        "treo cổ",
        "(rạch|cứa) (tay|cổ tay|cổ)",
        "cắt (cổ tay|mạch máu|gân tay|mạch)",
        "uống (hết |cả |nguyên )?(thuốc ngủ|thuốc chuột|thuốc trừ sâu|thuốc diệt cỏ|cả vỉ|nguyên vỉ|"
        "hết vỉ|thuốc sâu|cả lọ|hết lọ)",
        "(tự )?làm (hại|đau) (bản thân|mình)",
        "tự (hại|hành hạ)( bản thân| mình)?",
        "muốn biến mất (khỏi|mãi)",
    ),
}

# Same letters, other meaning: a match that overlaps one of these is not an emergency.
_VETO = _compile(
    "(chờ|đợi|một|ti|tí|chút|chi|teo)( tui| tôi| em| mình| anh| chị| tớ| t| e| bạn)? xỉu",
    "xỉu (nữa|thôi|nhé|nha|xíu)",
    "ngất (điện|kết nối|mạng|máy|quãng|lời|cuộc gọi|nước|sim|wifi|sóng)",
    # Typed plain, "tim" before these is "tìm" (search): "moi tim duoc viec", "da tim thay".
    "tím (được|thấy|ra|hiểu|việc|kiếm|cách|nhà|người|chỗ|đâu|mãi|giúp|cho|số|thông tin|trường|"
    "phòng|mua|hoài|không|chưa|hoài)",
    "bất động sản",
    "(xá|xíu) (xíu|mại)",
    "ngất (ngây|ngưởng|trời)",
    "cao ngất",
    "(xét nghiệm|thử|lấy|hiến|truyền|nhóm|thiếu|bổ|mỡ|đường|lượng|tiểu đường) (máu|huyết)",
    "(giá|bán|chặt chém|tính tiền|lãi) ~ cắt cổ",
    "bầm tím",
    "tím (than|hồng|nhạt|đậm|mộng)",
    "(áo|quần|màu|son|hoa|bút) ~ tím",
    "đau tim (quá|ghê) ~ (tiền|giá|thấy|nghe|xem)",
    "(nghe|xem|thấy|nhìn) ~ đau tim",
    "(tai biến|tai biến sau) (tiêm|chích|vắc xin|do tiêm|sau tiêm|vaccine)",
    "(ho|sổ mũi|sốt|ho khan) ~ (nhẹ|ít|chút)",
    "thở (nhanh|nặng|mệt) (nhọc )?(hơn|chút|xíu|tí)",
    "(chảy|ra) máu (cam|chân răng|lợi|nướu)",
    "(đứt|trầy|xước) (tay|chân) ~ (chút|tí|ít|xíu)",
    "thuốc (động kinh|chống co giật)",
    "(máu|huyết) (nhiều|ít) (không|hông)",
    "vụ tự (tử|sát)",
    "(phim|truyện|bài hát|tiểu thuyết|bài báo|tin tức|báo|cảnh)"
    r"(?:\W+\w+){0,6}\W+(tự (tử|sát)|(muốn|mún) chết)",
    "(đói|nóng|lạnh|mệt|sợ|cười|ngứa|nhớ|thèm|ghét|ngại|quê|mắc cỡ|xấu hổ|tức|sướng|vui|"
    "ngon|ngầu|đẹp|bực|buồn ngủ|buồn cười|mắc cười|đau|nhức|khát|ngán|chán học|ồn|nắng|"
    "hồi hộp|run|nực|oi|bức|nóng nực|hầm|chật|mỏi|tốn|cực|khổ) ~ (muốn|mún|thèm|gần) chết",
    "(muốn|mún|gần|sắp|như) (ngất|xỉu|ngất xỉu)",
    "không tỉnh (phí|tiền|thuế|lãi|nào|thành|ngoài|khác)",
    "thở (oxy|máy)",
)
_OXYGEN_SUPPLY = _compile("(bình|bình khí|máy tạo|máy thở|bơm|lít) ~ (oxy|oxi)", "(oxy|oxi) già")

_SPO2 = re.compile(
    r"(?<![a-z])(?:sp\s?[o0]\s?2|sp[o0]2|spo|oxy|oxi|ô xy|o xy|oxy máu|oxi máu|"
    r"bão hòa oxy|bao hoa oxy|nồng độ oxy|nong do oxy)(?![a-z])"
    r"(?P<between>[^\d\n.!?]{0,40}?)"
    r"(?P<number>\d{2,3})(?:[.,]\d)?\s*(?:%|phần trăm|phan tram|pt)?(?!\d)"
)
_SPO2_BELOW = re.compile(
    r"(?<!\w)(?:dưới|duoi|<|chỉ còn dưới|chi con duoi|không tới|khong toi|chưa tới|chua toi)\W*$"
)
_SPO2_DROPPING = _compile(
    "(spo2|sp02|spo 2|oxy máu|chỉ số oxy|oxy) ~ (tụt|giảm|xuống|thấp) ~ (quá|nhanh|mạnh|liên tục|"
    "dần|lắm|rồi|hoài|mãi)",
    "(tụt|giảm) (spo2|sp02|oxy máu|oxy)",
)

_NEGATED_BEFORE = re.compile(
    r"(?<!\w)"
    + _rule(
        "(không|chẳng|chả|chưa|hổng|hông|hem|khum|hết|đỡ|bớt|không hề|không còn|chưa hề) "
        "(ai |người nào |ai bị |ai có )?(bị |có |thấy |còn |hề |hay |gặp )?(bị |có |thấy )?"
        "(dấu hiệu |biểu hiện |triệu chứng |tình trạng |cảm giác )?(gì |nào )?$"
    )
)
_WELL = (
    "(hết|đỡ|khỏi|khỏe|ổn|bình thường|bt|tỉnh lại|tỉnh rồi|hồi phục|dứt|qua khỏi|bình phục|"
    "ổn định|khá hơn|đỡ hơn|đi lại được)"
)
_RESOLVED_AFTER = _compile(
    "(nay|giờ|bây giờ|hiện tại|hiện giờ|sau đó|lúc sau|một lúc sau|giờ thì|đến nay|nhưng|mà)"
    r"(?:\W+\w+){0,5}\W+(đã )?" + _WELL,
    "(đã|được) (=đỡ|khỏi|ổn|khỏe|hết)",  # "được đồ" typed plain is not "được đỡ"
    "(đỡ|khỏi|ổn|khỏe) (rồi|hẳn|nhiều)",
    "tỉnh lại rồi",
    "tỉnh (ngay|liền|lại) (rồi|sau đó)",
)
_NOT_RESOLVED = _compile(
    "(chưa|không|hông|chẳng|vẫn chưa|vẫn không|không thấy|chưa thấy) (đỡ|hết|khỏi|ổn|tỉnh|dứt|khỏe)"
)
_PAST = _compile(
    "hôm (qua|trước|kia)",
    "tuần (trước|rồi)",
    "tháng (trước|rồi)",
    "năm (ngoái|trước|rồi)",
    "hồi (nhỏ|bé|trước|xưa|đó|ấy|trẻ)",
    "lúc (trước|nhỏ|bé)",
    "trước (đây|kia)",
    "ngày (xưa|trước)",
    "(đã )?từng (bị|có|gặp|mắc|lên|phải)",
    "tiền sử",
    "mấy (năm|tháng|tuần|bữa) (trước|rồi)",
    "bữa (trước|hổm|kia)",
    "hổm rày",
)
_NOW = _compile(
    "giờ",
    "bây giờ",
    "hiện (tại|giờ|nay)",
    "đang",
    "vẫn",
    "lại",
    "=nữa",
    "càng",
    "=nay",
    "hôm nay",
    "(sáng|trưa|chiều|tối|đêm) nay",
    "lúc này",
    "nãy( giờ)?",
    "vừa( mới)?",
    "cứu",
    "gấp",
    "=quá",
    "=lắm",
    "tái phát",
    "trở lại",
)
# Long-standing or habitual, not happening now: "tai biến 5 năm nay", "hay khó thở khi leo dốc".
_CHRONIC = _compile(
    r"\d+ (năm|tháng|tuần) (nay|rồi)",
    "(mấy|nhiều|vài) (năm|tháng) (nay|rồi)",
    "lâu (năm|nay)",
    r"(nhiều|bao|vài|hơn \d+|\d+) năm",
    "(nằm|một) (một|1) chỗ",
    "di chứng",
    "(thỉnh thoảng|đôi khi|mỗi khi|mỗi lần|thường xuyên)",
)
_HABITUAL_BEFORE = re.compile(
    r"(?<!\w)" + _rule("(hay|thường|hay bị|thường bị|thường hay)") + r"(?:\W+\w+){0,2}\W*$"
)
_HYPOTHETICAL_BEFORE = re.compile(
    r"(?<!\w)"
    + _rule(
        "(nếu|lỡ|giả sử|giả dụ|trường hợp|phòng khi|khi nào|phòng chống|phòng ngừa|phòng tránh|"
        "để không|để khỏi|sợ bị|lo bị|ngừa|tránh bị|tránh|khi thấy|khi gặp)"
    )
    + r"(?:\W+\w+){0,6}\W*$"
)
_INFO = _compile(
    "hỏi",
    "thắc mắc",
    "tìm hiểu",
    "(muốn|mún) (biết|bik)",
    "thông tin (về|của)",
    "là (gì|bệnh gì|sao|do đâu|thế nào|như thế nào|bị gì|dấu hiệu gì|triệu chứng gì)",
    "nguyên nhân",
    "triệu chứng (của|như|gì)",
    "dấu hiệu",
    "biểu hiện (của|gì|nào)",
    "cách (sơ cứu|xử lý|xử trí|nhận biết|phòng|phòng ngừa|phòng tránh|đo|chữa|điều trị|"
    "chăm sóc|phân biệt|giúp|cấp cứu)",
    "sơ cứu",
    "(làm|lm) (sao|thế nào|cách nào|ntn|như thế nào) (để )?(biết|bik|nhận biết|phân biệt|phòng|"
    "tránh|giúp|đo)",
    "khi nào (thì )?(cần|phải|nên|gọi)",
    "(có|sẽ) (gây|gây ra|làm|dẫn đến|dẫn tới|khiến|bị|thể bị|nguy cơ)",
    "(bài viết|tài liệu|tin tức|bài báo|đọc báo|xem tin|nghe nói|nghe đồn|tin đồn|có thật|"
    "video|clip|phim|truyện)",
    "(số điện thoại|đường dây|tổng đài|hotline|số nào) ~ (tự tử|tư vấn|hỗ trợ|tâm lý)",
    "(mua|=giá|=bán|ở đâu|bao nhiêu tiền|hãng nào|loại nào)",
    "(tác dụng phụ|phản ứng phụ|phản ứng sau)",
    "(bình thường|bt) (không|hông|chưa)",
    "(có|thì) (nguy hiểm|sao|bị sao|làm sao|hại|tốt) (không|hông)",
    "có nên",
    "(uống|dùng|mua|tiêm) ~ được (không|hông)",
    "(ngành|khoa|bác sĩ|bệnh viện|phòng khám) ~ (chuyên|chữa|điều trị|khám)",
    "học (về|sơ cứu|cách)",
    "tập huấn",
    "bao lâu",
    "(làm|lm) (gì|sao) khi",
    "trẻ( em| nhỏ)? (bị|có|mà)",
    "(người|bệnh nhân|ai|người ta|ai đó|một người|người bệnh) (bị|có|mà)",
)
_PERSONAL = re.compile(
    r"(?<!\w)"
    + _rule(
        "(tôi|em|mình|tui|tao|tớ|ba|bố|mẹ|má|cha|ông|bà|con|cháu|vợ|chồng|anh|chị|bé|cu|"
        "thằng|=cô|=chú|=dì|=cậu|=mợ|thím|bác|dượng|người nhà|đứa|nó|=ổng|=bả|=ảnh|=chỉ|=cổ|"
        "hàng xóm|đồng nghiệp|cùng phòng|nhà tôi|nhà em|nhà mình)"
    )
    + r"(?:\W+\w+){0,3}\W*$"
)
_URGENT = _compile(
    "đang",
    "=quá",
    "=lắm",
    r"lam(?=\W*$)",
    r"qua(?=\W*$)",
    "cứu (với|tôi|em|mình|tui|giúp|gấp|mẹ|ba|bố|con|ông|bà|chị|anh|ngay)",
    r"cứu(?=\W*$)",
    "gấp",
    "ngay (lập tức|đi|giúp|với|bây giờ)",
    "bây giờ",
    "giờ",
    "vừa",
    "tự nhiên",
    "đột nhiên",
    "bỗng",
    "nãy giờ",
    "từ (sáng|trưa|chiều|tối|đêm|hôm qua)",
    "hiện giờ",
    "(làm|lm) (sao|gì) (giờ|bây giờ|đây)",
    "phải (làm|lm) (sao|gì)",
    "huhu",
    "ơi",
    "luôn",
    "mất rồi",
)
_DONE_NOW = re.compile(r"^\W*(?:rồi|roi)(?!\w)")  # "ngất xỉu rồi": it has happened
_PUNCTUATION = re.compile(r"[,;:!?()\[\]\"]|(?<!\d)\.|\.(?!\d)")
_SENTENCE = re.compile(r"(?<!\d)[.!?;\n]+|[!?;\n]+")


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


_BEFORE_CHARS, _AFTER_CHARS = 100, 150  # the words around a match that can change its sense


class _Sentence:
    """One sentence and what it says as a whole, worked out once however many matches it has."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._vetoes: list[tuple[int, int]] | None = None
        self._facts: tuple[bool, bool, bool, list[int]] | None = None

    def vetoed(self, span: tuple[int, int]) -> bool:
        if self._vetoes is None:
            self._vetoes = [m.span() for m in _VETO.finditer(self.text)]
        return any(start < span[1] and span[0] < end for start, end in self._vetoes)

    def facts(self) -> tuple[bool, bool, bool, list[int]]:
        """(urgent, over and not now, chronic, where the questions about a topic start)."""
        if self._facts is None:
            text = self.text
            self._facts = (
                bool(_URGENT.search(text)),
                bool(_PAST.search(text) and not _NOW.search(text)),
                bool(_CHRONIC.search(text)),
                [m.start() for m in _INFO.finditer(text)],
            )
        return self._facts


def _is_happening(sentence: _Sentence, span: tuple[int, int]) -> bool:
    """Whether a matched phrase describes something happening now to someone."""
    text = sentence.text
    before = text[max(0, span[0] - _BEFORE_CHARS) : span[0]]
    after = text[span[1] : span[1] + _AFTER_CHARS]
    if _NEGATED_BEFORE.search(before):
        return False
    if _RESOLVED_AFTER.search(after) and not _NOT_RESOLVED.search(after):
        return False
    urgent, over, chronic, info = sentence.facts()
    if over:
        return False
    urgent = urgent or bool(_DONE_NOW.search(after))
    if (chronic or _HABITUAL_BEFORE.search(before)) and not urgent:
        return False
    if _HYPOTHETICAL_BEFORE.search(before) and not _URGENT.search(after):
        return False
    if any(start < span[0] for start in info):  # "cách sơ cứu người bị ngất": the topic asked
        return urgent
    if info:  # "mẹ em ngất rồi, sơ cứu sao": someone's situation, then a question
        return urgent or bool(_PERSONAL.search(before))
    return True


def _low_spo2(sentence: str) -> bool:
    for m in _SPO2.finditer(sentence):
        value = int(m.group("number"))
        if not _SPO2_PLAUSIBLE_FROM <= value < SPO2_DANGER_BELOW:
            continue
        if _OXYGEN_SUPPLY.search(sentence[: m.end()]) and not m.group(0).startswith("sp"):
            continue
        # "spo2 dưới 94 có nguy hiểm không" is a threshold; "spo2 mẹ tôi dưới 90 rồi" a reading.
        if _SPO2_BELOW.search(sentence[: m.start("number")]) and (
            _INFO.search(sentence) or _HYPOTHETICAL_BEFORE.search(sentence[: m.start()])
        ):
            continue
        if _HYPOTHETICAL_BEFORE.search(sentence[: m.start()]) and not _URGENT.search(sentence):
            continue
        return True
    facts = _Sentence(sentence)
    return any(_is_happening(facts, m.span()) for m in _SPO2_DROPPING.finditer(sentence))


def detect_emergency(text: str) -> SafetyResult:
    """Returns the kind of life-threatening situation the message describes, if any."""
    if text.strip() == CONFIRM_PAYLOAD:
        return SafetyResult(Category.CONFIRMED)
    # Punctuation apart, so "trc," and "r." are expanded like "trc" and "r".
    normalized = normalize(_PUNCTUATION.sub(r" \g<0> ", text[:4000]))
    for text_of_sentence in _sentences(normalized):
        if _low_spo2(text_of_sentence):
            return SafetyResult(Category.LOW_SPO2)
        sentence = _Sentence(text_of_sentence)
        for category, pattern in _RULES.items():
            for m in pattern.finditer(text_of_sentence):
                if not sentence.vetoed(m.span()) and _is_happening(sentence, m.span()):
                    return SafetyResult(category)
    return SafetyResult()
