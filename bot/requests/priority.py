"""Priority of a hardship request: a score from clear rules, each reason written down with it.

The score adds the points of every rule that applies (the table below, also in the README);
teams see the reasons with their points, and every list orders by the score. The level
(1 = khẩn cấp … 4 = thường) is derived from the score for the displays that show a level.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.requests.words import has_any, words

PRIORITY_LABELS = {1: "khẩn cấp", 2: "cao", 3: "trung bình", 4: "thường"}

# --- the scoring table (points) ------------------------------------------------------------
ESSENTIAL_NEEDS = frozenset({"food", "water", "medicine", "medical_care"})
ESSENTIAL_NEED_POINTS = 10
POINTS_PER_DAY_WITHOUT_FOOD = 15
MAX_DAYS_COUNTED = 5
# Each member beyond the third adds points, up to a cap (a household of 11 or more).
HOUSEHOLD_BASE = 3
POINTS_PER_EXTRA_MEMBER = 2
MAX_HOUSEHOLD_POINTS = 16
VULNERABLE_POINTS = {
    "child_under_6": 15,
    "pregnant": 15,
    "elderly": 12,
    "disability": 12,
    "chronic_illness": 12,
    "sick": 12,
    "infected": 20,
}
ILL_NEEDING_CARE_POINTS = 20  # an ill member and a need of medicine or medical care
EMERGENCY_SIGN_POINTS = 60
# The lowest score of each level, most urgent first.
LEVEL_THRESHOLDS = ((1, 40), (2, 20), (3, 10))

_VULNERABLE_REASONS = {
    "child_under_6": "Có trẻ dưới 6 tuổi",
    "pregnant": "Có người mang thai",
    "elderly": "Có người cao tuổi",
    "disability": "Có người khuyết tật",
    "chronic_illness": "Có người có bệnh nền",
    "sick": "Có người đang ốm",
    "infected": "Có người đang nhiễm bệnh",
}
_EMERGENCY_SIGNS = (
    "khó thở",
    "thở dốc",
    "ngộp thở",
    "bất tỉnh",
    "ngất",
    "co giật",
    "spo2",
    "chảy máu",
    "cấp cứu",
    "đau ngực",
)


@dataclass(frozen=True)
class Priority:
    score: int
    level: int
    reasons: list[str]


def level_for(score: int) -> int:
    """Returns the 1–4 level shown for a score."""
    return next((level for level, lowest in LEVEL_THRESHOLDS if score >= lowest), 4)


def assess_priority(
    *,
    needs: list[str],
    vulnerable: list[str],
    household_size: int,
    days_without_food: int | None,
    description: str,
) -> Priority:
    """Returns the priority score, its level and the rules that gave it, with their points
    (in Vietnamese, for the team)."""
    parts: list[tuple[int, str]] = []
    if has_any(words(description), _EMERGENCY_SIGNS):
        parts.append((EMERGENCY_SIGN_POINTS, "Mô tả có dấu hiệu cấp cứu (khó thở, bất tỉnh…)"))
    if ESSENTIAL_NEEDS & set(needs):
        parts.append((ESSENTIAL_NEED_POINTS, "Nhu cầu thiết yếu (lương thực, nước, thuốc, y tế)"))
    if days_without_food:
        days = min(days_without_food, MAX_DAYS_COUNTED)
        parts.append(
            (days * POINTS_PER_DAY_WITHOUT_FOOD, f"Đã {days_without_food} ngày không có lương thực")
        )
    extra_members = household_size - HOUSEHOLD_BASE
    if extra_members > 0:
        points = min(extra_members * POINTS_PER_EXTRA_MEMBER, MAX_HOUSEHOLD_POINTS)
        parts.append((points, f"Hộ đông người ({household_size} người)"))
    for kind, points in VULNERABLE_POINTS.items():
        if kind in vulnerable:
            parts.append((points, _VULNERABLE_REASONS[kind]))
    if {"infected", "sick"} & set(vulnerable) and {"medicine", "medical_care"} & set(needs):
        parts.append((ILL_NEEDING_CARE_POINTS, "Người ốm cần thuốc hoặc chăm sóc y tế"))
    score = sum(points for points, _ in parts)
    reasons = [f"{reason} (+{points})" for points, reason in parts] or ["Không có yếu tố ưu tiên"]
    return Priority(score=score, level=level_for(score), reasons=reasons)
