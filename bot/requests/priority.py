"""Priority of a hardship request, from clear rules, each reason written down with the request.

1 = khẩn cấp (urgent), 2 = cao (high), 3 = trung bình (medium), 4 = thường (normal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotline_nlu.normalize import fold

PRIORITY_LABELS = {1: "khẩn cấp", 2: "cao", 3: "trung bình", 4: "thường"}
_EMERGENCY_WORDS = re.compile(
    r"\b(kho tho|tho doc|ngop tho|bat tinh|ngat|co giat|spo2|chay mau|cap cuu|dau nguc)\b"
)


@dataclass(frozen=True)
class Priority:
    level: int
    reasons: list[str]


def assess_priority(
    *,
    needs: list[str],
    vulnerable: list[str],
    household_size: int,
    days_without_food: int | None,
    description: str,
) -> Priority:
    """Returns the priority level and the rules that set it (in Vietnamese, for the team)."""
    level = 4
    reasons: list[str] = []

    def raise_to(new_level: int, reason: str) -> None:
        nonlocal level
        level = min(level, new_level)
        reasons.append(reason)

    if _EMERGENCY_WORDS.search(fold(description)):
        raise_to(1, "Mô tả có dấu hiệu cấp cứu (khó thở, bất tỉnh…)")
    if "infected" in vulnerable and {"medicine", "medical_care"} & set(needs):
        raise_to(1, "Có người đang nhiễm bệnh cần thuốc hoặc chăm sóc y tế")
    if days_without_food is not None and days_without_food >= 2:
        raise_to(1, f"Đã {days_without_food} ngày không có lương thực")
    elif days_without_food == 1:
        raise_to(2, "Đã 1 ngày không có lương thực")
    if vulnerable:
        raise_to(2, "Có thành viên dễ bị tổn thương trong hộ")
    if household_size >= 6:
        raise_to(3, f"Hộ đông người ({household_size} người)")
    if {"food", "water", "medicine", "medical_care"} & set(needs):
        raise_to(3, "Nhu cầu thiết yếu (lương thực, nước, thuốc, y tế)")
    if not reasons:
        reasons.append("Không có yếu tố ưu tiên")
    return Priority(level=level, reasons=reasons)
