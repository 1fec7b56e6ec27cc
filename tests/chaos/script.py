"""What a simulated resident answers to the bot's replies while asking for hardship aid.

Pure logic, so the harness's reading of the bot is unit-tested: given the replies to the last
message, `next_step` says whether the request was saved (with its code), whether the hotline
was busy (send again after a pause), or what to answer next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

OPENING = "mất việc, nhà tôi hết gạo 2 ngày rồi, xin hỗ trợ"
_CODE = r"([0-9A-Z]{4}-[0-9A-Z]{4})"
SAVED = re.compile(r"Mã yêu cầu: " + _CODE)
# The resident's request already exists: found again, or updated (never a second one).
ALREADY = re.compile(r"(?:đề nghị hỗ trợ mã|cập nhật đề nghị hỗ trợ|đề nghị) " + _CODE)
BUSY_MARKS = ("hệ thống đang bận", "đang gặp sự cố", "chưa được lưu")


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, payload)


@dataclass(frozen=True)
class Step:
    """`kind`: "saved" / "already" (code set), "busy" (send the same again), "say" (text)."""

    kind: str
    text: str = ""
    code: str = ""


# (words in the bot's question, the resident's answer); the first that matches is used.
ANSWERS: list[tuple[str, str]] = [
    ("bạn ở tỉnh/thành nào", "Hồ Chí Minh"),
    ("phường/xã nào", "phường Bến Thành, Hồ Chí Minh"),
    ("cần hỗ trợ gì", "lương thực"),
    ("hoàn cảnh", "mất việc, hết gạo 2 ngày"),
    ("mấy người", "nhà 4 người"),
    ("người cao tuổi", "không có"),
    ("số nhà", "12 Lê Lợi"),
    ("số điện thoại", "PHONE"),
    ("điều gì đã thay đổi", "không"),
]
# Questions answered with the reply's first button (yes / send / send again).
FIRST_BUTTON = ("bạn có đồng ý không", "đã đúng chưa", "gửi lại không", "muốn sửa thông tin nào")


def is_busy(replies: list[Reply]) -> bool:
    return any(mark in r.text.lower() for r in replies for mark in BUSY_MARKS)


def next_step(replies: list[Reply], *, phone: str) -> Step:
    """What the resident does after these replies (the last message's whole answer)."""
    for reply in replies:
        if match := SAVED.search(reply.text):
            return Step("saved", code=match.group(1))
    for reply in replies:
        if match := ALREADY.search(reply.text):
            return Step("already", code=match.group(1))
    for reply in reversed(replies):
        lowered = reply.text.lower()
        if any(q in lowered for q in FIRST_BUTTON) and reply.buttons:
            return Step("say", text=reply.buttons[0][1])
        for words, answer in ANSWERS:
            if words in lowered:
                return Step("say", text=phone if answer == "PHONE" else answer)
    if is_busy(replies) or not replies:
        return Step("busy")
    return Step("say", text=OPENING)  # not understood: start again, as a person would
