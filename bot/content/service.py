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
    """A content file; without an explicit directory (the live content, as every reply reads
    it), with admins' edits from the database laid over it (bot/content/revisions.py)."""
    data: dict[str, Any] = _files.load((content_dir or get_settings().content_dir) / name)
    if content_dir is not None:
        return data
    from bot.content.revisions import with_edits  # the edits import this module

    return with_edits(name, data)


def content_file(name: str, *, content_dir: Path | None = None) -> dict[str, Any]:
    """One content file (`sla.yml` …) as a mapping, parsed again only when it changes."""
    return _content(name, content_dir)


# Every fact the code itself puts in a reply (not through a template). A test checks that the
# code asks for no other, so `hotline content check` and the production start see them all.
FACTS_USED_BY_CODE = (
    "hotlines.emergency.number",
    "hotlines.local.number",
    "support.office_hours",
    "support.typical_response_time",
)
# Keys of facts.yml that describe the file or a group, not facts.
_RESERVED = ("verified", "fallback", "last_reviewed")


@dataclass(frozen=True)
class Fact:
    """One value of facts.yml, whether it is verified, and what residents see while it is not."""

    path: str
    value: str
    verified: bool
    fallback: str | None  # None or "": no fallback, a template line using it is left out

    @property
    def shown(self) -> str | None:
        """What a resident may be shown: the verified value, else the fallback, else None."""
        return self.value if self.verified else (self.fallback or None)


def _lookup(path: str, content_dir: Path | None) -> Fact:
    node: Any = _content("facts.yml", content_dir)
    parent: dict[str, Any] = node
    verified = False  # the top level may say otherwise; each group's marker covers its values
    for part in path.split("."):
        if not isinstance(node, dict) or part in _RESERVED or part not in node:
            raise ContentError(f"unknown fact: {path}")
        marker = node.get("verified")
        if isinstance(marker, bool):
            verified = marker
        elif isinstance(marker, list):  # exactly these keys (an admin may un-verify one)
            verified = part in marker
        parent, node = node, node[part]
    if isinstance(node, bool) or not isinstance(node, str | int | float):
        raise ContentError(f"fact {path} is not a single value")
    fallbacks = parent.get("fallback")
    fallback = fallbacks.get(path.rsplit(".", 1)[-1]) if isinstance(fallbacks, dict) else None
    return Fact(path, str(node), verified, None if fallback is None else str(fallback))


def _shown(path: str, content_dir: Path | None, seen: tuple[str, ...] = ()) -> str | None:
    """The text a resident may see for a fact (a fallback may use other facts), or None."""
    if path in seen:
        raise ContentError(f"fallback of {path} refers back to itself")
    shown = _lookup(path, content_dir).shown
    if shown is None:
        return None
    parts = []
    for text, name in _split(shown):
        if name is None:
            parts.append(text)
            continue
        value = _shown(name, content_dir, (*seen, path))
        if value is None:
            return None
        parts.append(value)
    return "".join(parts)


def _split(template: str) -> list[tuple[str, str | None]]:
    """A template as (literal text, None) and (placeholder, fact path) pieces."""
    pieces: list[tuple[str, str | None]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        pieces.append((template[position : match.start()], None))
        pieces.append((match.group(0), match.group(1)))
        position = match.end()
    pieces.append((template[position:], None))
    return pieces


def fact(path: str, *, content_dir: Path | None = None) -> str:
    """Returns what residents may be told for one fact, e.g. `hotlines.emergency.number`.

    An example value is never returned: its fallback is, and without one it is an error.
    """
    shown = _shown(path, content_dir)
    if shown is None:
        raise ContentError(f"fact {path} is still an example and has no fallback")
    return shown


def render(template: str, *, content_dir: Path | None = None) -> str:
    """Fills every `{dotted.fact}` of a template; a line using an example without a fallback
    is left out, so an example value never reaches a resident."""
    lines = []
    for line in template.splitlines():
        parts = []
        for text, name in _split(line):
            value = text if name is None else _shown(name, content_dir)
            if value is None:
                break
            parts.append(value)
        else:
            lines.append("".join(parts))
    return "\n".join(lines).strip()


def _leaf_paths(node: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in node.items():
        if key in _RESERVED:
            continue
        if isinstance(value, dict):
            paths += _leaf_paths(value, f"{prefix}{key}.")
        else:
            paths.append(f"{prefix}{key}")
    return paths


def _templates(content_dir: Path | None) -> list[tuple[str, str]]:
    """(where, template) of every FAQ answer and rumour rebuttal."""
    topics = _content("faq.yml", content_dir).get("topics") or {}
    rumors = _content("rumors.yml", content_dir).get("rumors") or []
    return [(f"faq.yml {name}", str(entry.get("text", ""))) for name, entry in topics.items()] + [
        (f"rumors.yml {rumor.get('id', i)}", str(rumor.get("text", "")))
        for i, rumor in enumerate(rumors)
    ]


def example_content_in_use(*, content_dir: Path | None = None) -> list[str]:
    """Lists the example (unverified) content that replies use: facts and whole files."""
    used: dict[str, set[str]] = {path: {"code"} for path in FACTS_USED_BY_CODE}
    for where, template in _templates(content_dir):
        for _, name in _split(template):
            if name is not None:
                used.setdefault(name, set()).add(where)
    found = [
        f"facts.yml {path} = {fact_.value!r} (used by {', '.join(sorted(used[path]))})"
        for path in sorted(used)
        if not (fact_ := _lookup(path, content_dir)).verified
    ]
    for name, at in (("faq.yml", "topics"), ("rumors.yml", "rumors")):
        data = _content(name, content_dir)
        entries = data.get(at) or {}
        items = entries.values() if isinstance(entries, dict) else entries
        # The whole file, or every entry of it (marked one by one on the admin pages).
        if data.get("verified") is not True and not all(
            isinstance(item, dict) and item.get("verified") is True for item in items
        ):
            found.append(f"{name} (the whole file is marked verified: false)")
    return found + _example_programmes(content_dir)


def _example_programmes(content_dir: Path | None) -> list[str]:
    # Imported here: aid_programmes reads its file through this module.
    from bot.content.aid_programmes import FILE_NAME, example_programmes

    if not ((content_dir or get_settings().content_dir) / FILE_NAME).exists():
        return []
    return example_programmes(content_dir=content_dir)


def example_facts(*, content_dir: Path | None = None) -> list[Fact]:
    """Every fact of facts.yml still marked as an example."""
    facts = _content("facts.yml", content_dir)
    return [
        found for path in _leaf_paths(facts) if not (found := _lookup(path, content_dir)).verified
    ]


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
        for path in FACTS_USED_BY_CODE:
            fact(path, content_dir=content_dir)
        _example_programmes(content_dir)  # reading the file checks every entry's schema
    except (ContentError, KeyError, TypeError, yaml.YAMLError) as exc:
        problems.append(str(exc))
    return problems
