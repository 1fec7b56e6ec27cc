"""Loads the admin-editable content files and renders their templates with the facts.

Files are re-read when they change on disk, so an admin's edit reaches residents without
retraining or restarting anything.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.settings import get_settings
from hotline_nlu.normalize import fold

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{([a-z0-9_]+(?:\.[a-z0-9_]+)*)\}")


class ContentError(ValueError):
    """A content file is missing, malformed or refers to a fact that does not exist."""


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Answer:
    text: str
    buttons: list[Button] = field(default_factory=list)


class _CachedYaml:
    """A YAML file parsed once per modification time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[float, Any]] = {}

    def load(self, path: Path) -> Any:
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError as exc:
            raise ContentError(f"content file not found: {path}") from exc
        with self._lock:
            cached = self._cache.get(path)
            if cached and cached[0] == mtime:
                return cached[1]
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        if not isinstance(data, dict):
            raise ContentError(f"{path.name} must hold a mapping at the top level")
        with self._lock:
            self._cache[path] = (mtime, data)
        return data


_files = _CachedYaml()


def _content(name: str, content_dir: Path | None = None) -> dict[str, Any]:
    return _files.load((content_dir or get_settings().content_dir) / name)  # type: ignore[no-any-return]


def content_file(name: str, *, content_dir: Path | None = None) -> dict[str, Any]:
    """One content file (`sla.yml` …) as a mapping, parsed again only when it changes."""
    return _content(name, content_dir)


def fact(path: str, *, content_dir: Path | None = None) -> str:
    """Returns one fact by dotted path, e.g. `hotlines.emergency.number`."""
    value: Any = _content("facts.yml", content_dir)
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ContentError(f"unknown fact: {path}")
        value = value[part]
    if not isinstance(value, str | int | float):
        raise ContentError(f"fact {path} is not a single value")
    return str(value)


def render(template: str, *, content_dir: Path | None = None) -> str:
    """Replaces every `{dotted.fact}` in a template with its value from facts.yml."""
    return _PLACEHOLDER.sub(lambda m: fact(m.group(1), content_dir=content_dir), template).strip()


def faq_answer(topic: str, *, content_dir: Path | None = None) -> Answer:
    """Returns the rendered answer of one FAQ topic (keyed by intent name)."""
    topics = _content("faq.yml", content_dir).get("topics") or {}
    entry = topics.get(topic)
    if not isinstance(entry, dict) or not entry.get("text"):
        raise ContentError(f"faq.yml has no topic {topic!r}")
    buttons = [Button(title=b["title"], payload=b["payload"]) for b in entry.get("buttons") or []]
    return Answer(text=render(entry["text"], content_dir=content_dir), buttons=buttons)


def find_rumor(text: str, *, content_dir: Path | None = None) -> Answer | None:
    """Returns the rebuttal of a known rumour the text mentions, or None.

    A keyword matches when all of its words occur in the diacritic-free text, in any order and
    with other words between them ("vắc xin làm thay đổi ADN" matches "vac xin thay doi adn").
    """
    words = set(re.findall(r"[a-z0-9]+", fold(text)))
    for rumor in _content("rumors.yml", content_dir).get("rumors") or []:
        if any(set(keyword.split()) <= words for keyword in rumor.get("keywords") or []):
            return Answer(text=render(rumor["text"], content_dir=content_dir))
    return None


def check_content(*, content_dir: Path | None = None) -> list[str]:
    """Returns every problem in the content files (empty when they are usable)."""
    problems: list[str] = []
    try:
        topics = _content("faq.yml", content_dir).get("topics") or {}
        for topic in topics:
            faq_answer(topic, content_dir=content_dir)
        for rumor in _content("rumors.yml", content_dir).get("rumors") or []:
            render(rumor.get("text", ""), content_dir=content_dir)
    except (ContentError, KeyError, TypeError, yaml.YAMLError) as exc:
        problems.append(str(exc))
    return problems
