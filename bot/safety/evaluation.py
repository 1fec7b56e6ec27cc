"""Measuring the safety layer on labelled YAML sets (recall and false alarms by style and kind).

A set file maps style -> category (or near-miss topic) -> messages; `tests/safety/` holds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.safety.detector import detect_emergency

STYLES = ("diacritics", "plain", "teencode")


@dataclass
class Tally:
    """How many messages of a group fired."""

    fired: int = 0
    total: int = 0
    examples: list[str] = field(default_factory=list)  # the wrong ones, for the developer

    @property
    def rate(self) -> float:
        return self.fired / self.total if self.total else 0.0


@dataclass
class Report:
    """Recall over emergencies and false alarms over near-misses, overall and by group."""

    recall: dict[str, Tally] = field(default_factory=dict)  # key: "all", style, "category"
    false_alarms: dict[str, Tally] = field(default_factory=dict)


def load_set(path: Path) -> dict[str, dict[str, list[str]]]:
    """Reads a set file: style -> group -> messages."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or set(data) - set(STYLES):
        raise ValueError(f"{path.name}: top level must be the styles {STYLES}")
    return {
        style: {str(k): [str(m) for m in v] for k, v in groups.items()}
        for style, groups in data.items()
    }


def _tally(
    data: dict[str, dict[str, list[str]]], wrong_when_fired: bool, fires: Callable[[str], bool]
) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for style, groups in data.items():
        for group, messages in groups.items():
            for text in messages:
                fired = fires(text)
                for key in ("all", style, f"/{group}"):
                    tally = tallies.setdefault(key, Tally())
                    tally.total += 1
                    tally.fired += fired
                    if fired == wrong_when_fired:
                        tally.examples.append(f"[{style}/{group}] {text}")
    return tallies


def evaluate(emergencies: Path, near_misses: Path) -> Report:
    """Runs the detector over both files."""

    def fires(text: str) -> bool:
        return detect_emergency(text).is_emergency

    return Report(
        recall=_tally(load_set(emergencies), False, fires),
        false_alarms=_tally(load_set(near_misses), True, fires),
    )
